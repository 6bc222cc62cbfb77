"""``footfall users``: create dashboard users, reset passwords, grant site roles, allow
users who are not the owner to create sites.

Passwords come from ``--password`` or, when the flag is absent, from standard input (one
line; a terminal is asked twice without echo), so they need not appear in shell history.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from footfall.meta.repo import Metadata
from footfall.meta.users import Accounts
from footfall.meta.values import MetaValidationError, SiteNotFoundError

MetaFactory = Callable[[], Metadata]
Command = Callable[[argparse.Namespace, MetaFactory], int]


def read_password(given: str | None) -> str:
    if given is not None:
        return given
    if sys.stdin.isatty():
        first, second = getpass.getpass("Password: "), getpass.getpass("Again: ")
        if first != second:
            raise MetaValidationError("password", "the two entries differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _run(action: Callable[[], int]) -> int:
    try:
        return action()
    except MetaValidationError as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    except SiteNotFoundError as exc:
        print(f"error: site: no site {exc}", file=sys.stderr)
        return 2


def cmd_create(args: argparse.Namespace, meta: MetaFactory) -> int:
    def act() -> int:
        user = Accounts(meta()).create_user(
            args.email,
            read_password(args.password),
            owner=args.owner,
            may_create_sites=args.may_create_sites,
        )
        print(f"user {user.email} created{' (instance owner)' if user.is_owner else ''}")
        return 0

    return _run(act)


def cmd_set_password(args: argparse.Namespace, meta: MetaFactory) -> int:
    def act() -> int:
        if not Accounts(meta()).set_password(args.email, read_password(args.password)):
            print(f"error: email: no user {args.email!r}", file=sys.stderr)
            return 2
        print(f"password of {args.email} changed; their sessions were ended")
        return 0

    return _run(act)


def cmd_grant(args: argparse.Namespace, meta: MetaFactory) -> int:
    def act() -> int:
        accounts = Accounts(meta())
        user = accounts.get_user(args.email)
        if user is None:
            print(f"error: email: no user {args.email!r}", file=sys.stderr)
            return 2
        accounts.grant(user.id, args.site, args.role)
        print(f"{user.email} is now {args.role} of {args.site}")
        return 0

    return _run(act)


def cmd_allow_sites(args: argparse.Namespace, meta: MetaFactory) -> int:
    accounts = Accounts(meta())
    user = accounts.get_user(args.email)
    if user is None:
        print(f"error: email: no user {args.email!r}", file=sys.stderr)
        return 2
    accounts.allow_site_creation(user.id, not args.revoke)
    print(f"{user.email} {'may no longer' if args.revoke else 'may now'} create sites")
    return 0


def cmd_list(args: argparse.Namespace, meta: MetaFactory) -> int:
    for user in Accounts(meta()).list_users():
        kind = "owner" if user.is_owner else "creates sites" if user.may_create_sites else ""
        print(f"{user.email}\t{kind}")
    return 0


def add_parser(sub: Any, meta: MetaFactory) -> None:
    """Register ``footfall users ...`` on the top-level subparsers ``sub``."""
    users = sub.add_parser("users", help="dashboard users").add_subparsers(
        dest="action", required=True
    )

    def bind(p: argparse.ArgumentParser, fn: Command) -> None:
        p.set_defaults(func=lambda args: fn(args, meta))

    create = users.add_parser("create", help="create a user (password from stdin if not given)")
    create.add_argument("--email", required=True)
    create.add_argument("--password", help="omit to read it from standard input")
    create.add_argument("--owner", action="store_true", help="the instance owner (every site)")
    create.add_argument(
        "--may-create-sites", action="store_true", help="may create sites (and admin them)"
    )
    bind(create, cmd_create)
    reset = users.add_parser("set-password", help="change a password; ends the user's sessions")
    reset.add_argument("--email", required=True)
    reset.add_argument("--password", help="omit to read it from standard input")
    bind(reset, cmd_set_password)
    grant = users.add_parser("grant", help="give a user a role on a site")
    grant.add_argument("--email", required=True)
    grant.add_argument("--site", required=True)
    grant.add_argument("--role", choices=["admin", "viewer"], default="viewer")
    bind(grant, cmd_grant)
    allow = users.add_parser("allow-sites", help="let a user create sites (the owner always may)")
    allow.add_argument("--email", required=True)
    allow.add_argument("--revoke", action="store_true", help="stop them creating sites")
    bind(allow, cmd_allow_sites)
    bind(users.add_parser("list", help="list users"), cmd_list)
