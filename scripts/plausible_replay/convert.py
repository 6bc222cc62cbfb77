"""Turn Plausible's Stats API v2 ExUnit tests into replay cases (JSON).

``python -m scripts.plausible_replay.convert DIR [-o cases.json]`` reads every ``*.exs`` in
DIR (copies of Plausible's test files, kept outside this repository) and writes one case
per ``post(conn, "/api/v2/query...", body)`` that a test asserts on: the fixture events of
``populate_stats``, the goals of ``insert(:goal, ...)``, the site's time zone, the request
body and what Plausible answered (status, ``results`` rows, ``meta`` figures, the error).
Tests it cannot read are listed with the reason and counted, not guessed at.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from scripts.plausible_replay.expand import Test, tests, unroll
from scripts.plausible_replay.exs import Unconvertible, read

# Parts of a test that depend on Plausible's billing, segments or session cache internals.
UNSUPPORTED = {
    r"insert\(:(enterprise_plan|subscription|segment)": "plan or segment",
    r"Plausible\.Cache\.Adapter": "rewrites Plausible's session cache",
    r"update_legacy_time_on_page_cutoff": "Plausible's legacy time-on-page cutoff",
}
# ``assert [%{"metrics" => [n]}] = response["results"]`` then ``assert n == 1``: a pattern
# whose variables later assertions pin (rewritten into one literal comparison).
PATTERN = re.compile(
    r'assert\s+(?P<pat>\[(?:(?!assert).)*?\])\s*=\s*(?P<var>\w+)\["results"\]', re.DOTALL
)
PINNED = r"assert\s+{name}\s*==\s*(?P<value>[^\s)]+)"
# ExUnit's expect_any(:string, &(&1 =~ ...)) inside a pattern: only results are compared.
EXPECT_ANY = re.compile(r"expect_any\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")
ATOMS = {"nil", "true", "false"}
FIX_NOW = re.compile(r"fix_now\(~U\[(?P<at>[^\]]+)\]\)")
STEP = re.compile(
    r"""^\s*(?:assert\s+)?(?:
      (?P<populate>populate_stats\(\s*site,\s*(?:\w+\.id,\s*)?)
    | (?P<goal>(?=insert\(:goal,))
    | (?P<gcreate>(?:\{:ok,\s*\w+\}\s*=\s*)?(?:Plausible\.)?Goals\.create\(site,\s*)
    | (?P<tz>(?:\w+\s*=\s*)?(?:Plausible\.Site\.)?(?:new_site\(|changeset\(site,\s*%\{)
             timezone:\s*"(?P<zone>[^"]+)"
        | (?:\w+\s*=\s*)?Plausible\.Repo\.update!\(Ecto\.Changeset\.change\(site,\s*
             timezone:\s*"(?P<zone2>[^"]+)")
    | (?P<post>(?P<conn>\w+)\s*=\s*post\(conn,\s*"(?P<path>[^"]+)",\s*)
    | (?P<destructure>%\{(?P<binds>[^}]*)\}\s*=\s*
                       json_response\((?P<dconn>\w+),\s*(?P<dstatus>\d+)\))
    | (?P<resvar>(?P<rname>\w+)\s*=\s*
                  json_response\((?P<rconn>\w+),\s*(?P<rstatus>\d+)\)\["results"\])
    | (?P<respvar>(?P<pname>\w+)\s*=\s*
                   json_response\((?P<pconn>\w+),\s*(?P<pstatus>\d+)\)(?!\s*\[))
    | (?P<varkey>(?P<vkname>\w+)(?P<vkkeys>(?:\["\w+"\])+)\s*==\s*)
    | (?P<times>\[(?P<tnames>[\w,\ ]+)\]\s*=\s*
                 for\s+(?P<ti>\w+)\s*<-\s*(?P<ta>\d+)\.\.(?P<tb>\d+),\s*do:\s*)
    | (?P<am>assert_matches\s+json_response\((?P<aconn>\w+),\s*(?P<astatus>\d+)\),\s*)
    | (?P<jr>(?:length\()?json_response\((?P<jconn>\w+),\s*(?P<jstatus>\d+)\)
             (?P<keys>(?:\["\w+"\])*)\)?\s*(?P<jop>==|=~)?\s*)
    | (?P<cmp>(?:length\()?(?P<cname>\w+)\)?\s*(?P<cop>==|=~)\s*)
    | (?P<member>(?=%\{"dimensions"))
    | (?P<assign>(?P<aname>\w+)\s*=\s*(?!=))
    )""",
    re.VERBOSE | re.MULTILINE,
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class Case(dict[str, Any]):
    """One request and what Plausible answered to it."""


def convert_test(test: Test, file: str) -> list[Case]:
    for pattern, reason in UNSUPPORTED.items():
        if re.search(pattern, test.body):
            raise Unconvertible(reason)
    env: dict[str, Any] = {"@user_id": 4242, "site.domain": "$SITE", "site": "$SITE"}
    events: list[Any] = []
    goals: list[Any] = []
    tz = "Etc/UTC"
    made: list[Case] = []
    requests: dict[str, Case] = {}  # a conn variable -> its latest request
    bound: dict[str, tuple[str, str]] = {}  # name -> (conn, "results" | "error")
    text = EXPECT_ANY.sub("nil", _pin_patterns(test.setup + "\n" + test.body))
    pos = 0
    while (m := STEP.search(text, pos)) is not None:
        pos = m.end()
        if m.group("populate"):
            value, pos = read(text, pos, env)
            if text[pos:].lstrip().startswith("++"):
                raise Unconvertible("fixtures built by a computed list")
            events.extend(value)
        elif m.group("goal") is not None or m.group("gcreate"):  # insert / Goals.create
            value, pos = read(text, pos, env)
            goals.append(value)
        elif m.group("tz"):
            tz = m.group("zone") or m.group("zone2")
        elif m.group("post"):
            body, pos = read(text, pos, env)
            requests[m.group("conn")] = Case(
                id=f"{file}::{test.name}::{len(made) + 1}",
                file=file,
                test=test.name,
                path=m.group("path"),
                body=body,
                expect={},
            )
            made.append(requests[m.group("conn")])
        elif m.group("destructure"):
            case = requests[m.group("dconn")]
            case["status"] = int(m.group("dstatus"))
            for key, name in re.findall(r'"(\w+)"\s*=>\s*(\w+)', m.group("binds")):
                bound[name] = (m.group("dconn"), key)
                if key == "query":
                    env[name] = {"$returned_query_of": case["id"]}
        elif m.group("resvar"):
            requests[m.group("rconn")]["status"] = int(m.group("rstatus"))
            bound[m.group("rname")] = (m.group("rconn"), "results")
        elif m.group("respvar"):
            requests[m.group("pconn")]["status"] = int(m.group("pstatus"))
            bound[m.group("pname")] = (m.group("pconn"), "")
        elif m.group("varkey") and m.group("vkname") in bound:
            conn, _ = bound[m.group("vkname")]
            value, pos = read(text, pos, env)
            _expect(requests[conn], tuple(re.findall(r'"(\w+)"', m.group("vkkeys"))), "==",
                    value, False)  # fmt: skip
        elif m.group("times"):
            expr_start = pos
            names = [n.strip() for n in m.group("tnames").split(",")]
            for i, name in zip(
                range(int(m.group("ta")), int(m.group("tb")) + 1), names, strict=True
            ):
                env[name], pos = read(text, expr_start, {**env, m.group("ti"): i})
        elif m.group("am"):  # a pattern: only its results are literal
            case = requests[m.group("aconn")]
            case["status"] = int(m.group("astatus"))
            value, pos = read(text, pos, env)
            if "results" in value:
                case["expect"]["results"] = value["results"]
        elif m.group("jr"):
            case = requests[m.group("jconn")]
            case["status"] = int(m.group("jstatus"))
            keys = tuple(re.findall(r'"(\w+)"', m.group("keys")))
            if m.group("jop"):
                value, pos = read(text, pos, env)
                length = m.group(0).lstrip().startswith(("length(", "assert length("))
                _expect(case, keys, m.group("jop"), value, length)
        elif m.group("cmp") and m.group("cname") in bound:
            conn, key = bound[m.group("cname")]
            value, pos = read(text, pos, env)
            length = "length(" in m.group(0)
            _expect(requests[conn], (key,), m.group("cop"), value, length)
        elif m.group("member") is not None:
            value, pos = read(text, pos, env)
            tail = re.match(r"\s*in\s+(\w+)", text[pos:])
            if tail and tail.group(1) in bound:
                conn, _ = bound[tail.group(1)]
                requests[conn]["expect"].setdefault("contains", []).append(value)
        elif m.group("assign"):
            with contextlib.suppress(Unconvertible):  # a value no case reads, as a plan
                env[m.group("aname")], pos = read(text, pos, env)
    out = []
    if now := FIX_NOW.search(text):  # Plausible's fixed "now": Footfall's body field date
        at = datetime.fromisoformat(now.group("at").replace("Z", "+00:00"))
        for case in made:
            case["body"].setdefault("date", at.astimezone(ZoneInfo(tz)).date().isoformat())
    for case in made:
        if "status" not in case:
            continue
        # Plausible's imported_* tables go to Footfall's imported aggregates (replay.py).
        imported = [e for e in events if str(e.get("kind", "")).startswith("imported_")]
        plain = [e for e in events if e not in imported]
        case.update(events=plain, imported=imported, goals=goals, timezone=tz)
        out.append(Case(_jsonable(case)))
    return out


def _pin_patterns(text: str) -> str:
    """Each ``assert [pattern] = var["results"]`` whose variables later ``assert v == x``
    lines pin, as ``assert var["results"] == [literal]``; left alone otherwise."""

    def pin(m: re.Match[str]) -> str:
        pat = m.group("pat")
        names = set(re.findall(r'(?<!["\w:])([a-z_]\w*)(?!["\w:(])', pat)) - ATOMS
        for name in names:
            value = re.search(PINNED.format(name=re.escape(name)), text[m.end() :])
            if value is None:
                return m.group(0)
            pat = re.sub(rf"(?<![\"\w]){re.escape(name)}(?![\"\w])", value.group("value"), pat)
        return f'assert {m.group("var")}["results"] == {pat}'

    return PATTERN.sub(pin, text)


def _expect(case: Case, keys: tuple[str, ...], op: str, value: Any, length: bool) -> None:
    exp = case["expect"]
    name = "/".join(keys) or "body"
    if length:
        exp[f"length:{name}"] = value
    elif op == "=~":
        exp[f"contains:{name}"] = value
    else:
        exp[name] = value


def convert_dir(folder: Path) -> tuple[list[Case], list[dict[str, str]]]:
    cases: list[Case] = []
    failed: list[dict[str, str]] = []
    for path in sorted(folder.glob("*.exs")):
        for test in tests(unroll(path.read_text(encoding="utf-8"))):
            try:
                cases.extend(convert_test(test, path.name))
            except (Unconvertible, KeyError, ValueError, IndexError) as exc:
                failed.append({"file": path.name, "test": test.name, "reason": str(exc)})
    return cases, failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="folder of Plausible's saved .exs test files")
    ap.add_argument("-o", "--out", type=Path, default=Path("plausible-cases.json"))
    args = ap.parse_args(argv)
    cases, failed = convert_dir(args.folder)
    args.out.write_text(json.dumps({"cases": cases, "unconverted": failed}, indent=1))
    print(f"{len(cases)} cases; {len(failed)} tests not converted -> {args.out}")
    for f in failed:
        print(f"  not converted: {f['file']} :: {f['test']}: {f['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
