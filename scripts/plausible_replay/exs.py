"""Read the Elixir literals of Plausible's ExUnit tests: maps, lists, keyword lists, tuples,
strings, numbers, atoms, ``~N[...]`` sigils and the few calls its fixtures use.

This is not an Elixir parser. It reads one expression at a time from a position in the
text (``Reader.expr``) and evaluates it with ``evaluate`` against the names a test has
bound so far; anything it cannot give a value raises ``Unconvertible`` with the reason,
which the converter counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


class Unconvertible(Exception):
    """A part of a test this replay cannot turn into data (the message says which)."""


@dataclass(frozen=True)
class Atom:
    name: str


@dataclass(frozen=True)
class Var:
    name: str


@dataclass
class Call:
    name: str
    args: list[Any] = field(default_factory=list)


TOKEN = re.compile(
    r"""(?P<ws>\s+|\#[^\n]*)
    |(?P<sigil>~[ND]\[[^\]]*\])
    |(?P<kwstr>"(?:[^"\\]|\\.)*":(?=\s))
    |(?P<str>"(?:[^"\\]|\\.)*")
    |(?P<num>-?\d[\d_]*(?:\.\d+)?)
    |(?P<atom>:[A-Za-z_][\w?!]*)
    |(?P<kw>[A-Za-z_][\w?!]*:(?=\s))
    |(?P<name>@?[A-Za-z_][\w?!]*(?:\.[A-Za-z_][\w?!]*)*)
    |(?P<op>%\{|=>|\|>|\.\.|==|=~|[\[\]{}(),=])""",
    re.VERBOSE,
)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


class Reader:
    """Tokens of ``text`` from ``pos``; ``expr`` reads one expression and moves past it."""

    def __init__(self, text: str, pos: int = 0) -> None:
        self.text = text
        self.pos = pos

    def _next(self, peek: bool = False) -> tuple[str, str]:
        pos = self.pos
        while True:
            if pos >= len(self.text):
                return "eof", ""
            m = TOKEN.match(self.text, pos)
            if m is None:
                raise Unconvertible(f"cannot read Elixir at: {self.text[pos : pos + 40]!r}")
            pos = m.end()
            if m.lastgroup != "ws":
                break
        if not peek:
            self.pos = pos
        assert m.lastgroup is not None
        return m.lastgroup, m.group()

    def peek(self) -> tuple[str, str]:
        return self._next(peek=True)

    def expect(self, op: str) -> None:
        _, tok = self._next()
        if tok != op:
            raise Unconvertible(f"expected {op!r}, read {tok!r}")

    def expr(self) -> Any:
        value = self._primary()
        while self.peek()[1] == "|>":
            self._next()
            call = self._primary()
            if not isinstance(call, Call):
                raise Unconvertible("a pipe into something that is not a call")
            value = Call(call.name, [value, *call.args])
        return value

    def _items(self, close: str) -> list[Any]:
        items: list[Any] = []
        while self.peek()[1] != close:
            kind, tok = self.peek()
            if kind in ("kw", "kwstr"):
                self._next()
                key = tok[:-1] if kind == "kw" else _unescape(tok[1:-2])
                items.append((Atom(key), self.expr()))
            else:
                items.append(self.expr())
            if self.peek()[1] == ",":
                self._next()
        self._next()
        return items

    def _primary(self) -> Any:
        kind, tok = self._next()
        if kind == "str":
            return _unescape(tok[1:-1])
        if kind == "num":
            clean = tok.replace("_", "")
            return float(clean) if "." in clean else int(clean)
        if kind == "atom":
            return Atom(tok[1:])
        if kind == "sigil":
            return datetime.fromisoformat(tok[3:-1])
        if tok == "[":
            return self._items("]")
        if tok == "{":
            return tuple(self._items("}"))
        if tok == "%{":
            return self._map()
        if kind == "name":
            if tok in ("nil", "true", "false"):
                return {"nil": None, "true": True, "false": False}[tok]
            if self.peek()[1] == "(":
                self._next()
                return Call(tok, self._items(")"))
            if self.peek()[1] == "..":
                self._next()
                return Call("range", [Var(tok), self._primary()])
            return Var(tok)
        raise Unconvertible(f"unexpected {tok!r}")

    def _map(self) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        while self.peek()[1] != "}":
            kind, tok = self.peek()
            if kind in ("kw", "kwstr"):
                self._next()
                out[tok[:-1] if kind == "kw" else _unescape(tok[1:-2])] = self.expr()
            else:
                key = self.expr()
                self.expect("=>")
                out[key] = self.expr()
            if self.peek()[1] == ",":
                self._next()
        self._next()
        return out


UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def evaluate(node: Any, env: dict[str, Any]) -> Any:
    """The plain value of ``node``: dicts, lists, str, numbers, None, datetimes; a
    keyword list becomes a dict; ``build(kind, ...)`` a dict with ``"kind"``."""
    if isinstance(node, list):
        if node and all(
            isinstance(i, tuple) and len(i) == 2 and isinstance(i[0], Atom) for i in node
        ):
            return {k.name: evaluate(v, env) for k, v in node}
        return [evaluate(i, env) for i in node]
    if isinstance(node, tuple):
        if len(node) == 2 and isinstance(node[0], Atom):  # [{:column, value}] entries
            return {node[0].name: evaluate(node[1], env)}
        return tuple(evaluate(i, env) for i in node)
    if isinstance(node, dict):
        return {evaluate(k, env): evaluate(v, env) for k, v in node.items()}
    if isinstance(node, Atom):
        return node.name
    if isinstance(node, Var):
        if node.name in env:
            return env[node.name]
        raise Unconvertible(f"unknown name {node.name}")
    if isinstance(node, Call):
        return _call(node, env)
    return node


def _call(node: Call, env: dict[str, Any]) -> Any:
    args = [evaluate(a, env) for a in node.args]
    if node.name == "build":
        out: dict[str, Any] = {"kind": args[0]}
        for extra in args[1:]:
            for part in extra if isinstance(extra, list) else [extra]:
                out.update(part)
        return out
    if node.name == "insert":  # insert(:goal, site: site, event_name: ...)
        merged: dict[str, Any] = {}
        for extra in args[1:]:
            merged.update(extra)
        return merged
    if node.name == "response_query":  # the echoed query; the replay does not compare it
        return None
    if node.name == "unquote":
        return args[0]
    if node.name == "Decimal.new":
        return float(args[0])
    if node.name == "NaiveDateTime.add":
        base, amount = args[0], args[1]
        unit = args[2] if len(args) > 2 else "second"
        return base + timedelta(seconds=amount * UNITS[unit])
    if node.name == "Map.put":
        return {**args[0], args[1]: args[2]}
    if node.name == "Enum.random":
        return 4242
    if node.name == "System.unique_integer":
        return 987654
    if node.name == "range":
        return list(range(args[0], args[1] + 1))
    raise Unconvertible(f"call to {node.name}")


def read(text: str, pos: int, env: dict[str, Any]) -> tuple[Any, int]:
    """(value, end position) of the expression at ``pos``."""
    reader = Reader(text, pos)
    return evaluate(reader.expr(), env), reader.pos
