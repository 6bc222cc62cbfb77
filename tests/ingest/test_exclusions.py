"""The per-site rules on their own: glob patterns, CIDR parsing (IPv4, IPv6, IPv4-mapped),
the DNT/GPC header test, and which reason a compiled rule set gives."""

from __future__ import annotations

import re

import pytest

from footfall.ingest.exclusions import NO_RULES, SiteRules, opted_out
from footfall.meta.prefs import PrivacyInfo
from footfall.meta.siterules import (
    check_goal,
    glob_regex,
    parse_ip_ranges,
    parse_path_patterns,
    parse_retention,
)
from footfall.meta.values import MetaValidationError


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("/admin/*", "/admin/users", True),
        ("/admin/*", "/admin/users/", True),
        ("/admin/*", "/admin/users/7", False),
        ("/admin/*", "/administrator", False),
        ("/preview/**", "/preview/a/b/c", True),
        ("/preview/**", "/previewer", False),
        ("/blog", "/blog/", True),
        ("/blog", "/blog/post", False),
        ("/a.b/*", "/aXb/c", False),  # the dot is literal
        ("/", "/", True),
        ("/", "/x", False),
    ],
)
def test_glob_regex(pattern: str, path: str, hit: bool) -> None:
    assert bool(re.match(glob_regex(pattern), path)) is hit


def test_ip_ranges_are_canonical_and_errors_name_the_field() -> None:
    assert parse_ip_ranges("10.1.2.3/8, 192.0.2.1\n2001:db8::/32 10.0.0.0/8") == (
        "10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32")  # fmt: skip
    with pytest.raises(MetaValidationError) as err:
        parse_ip_ranges("10.0.0.0/8 not-an-ip")
    assert err.value.field == "excluded_ips" and "not-an-ip" in err.value.message
    with pytest.raises(MetaValidationError) as err:
        parse_path_patterns("/ok admin/*")
    assert err.value.field == "excluded_paths"
    for bad in ("0", "-1", "x", "3651"):
        with pytest.raises(MetaValidationError) as err:
            parse_retention(bad)
        assert err.value.field == "retention_days"
    assert parse_retention("") is None and parse_retention(" 90 ") == 90


def test_goal_fields_are_checked() -> None:
    assert check_goal(" Signup ", "event", "Signup") == ("Signup", "event", "Signup", "", "")
    for args, field in [
        (("", "event", "x"), "goal_name"),
        (("G", "other", "x"), "goal_kind"),
        (("G", "page", "thanks"), "goal_path"),
        (("G", "event", ""), "goal_event"),
        (("G", "event", "x", "plan", ""), "goal_prop_value"),
    ]:
        with pytest.raises(MetaValidationError) as err:
            check_goal(*args)
        assert err.value.field == field


def test_opted_out_reads_dnt_and_gpc() -> None:
    assert opted_out("1", None) and opted_out(None, "1") and opted_out(" 1 ", "0")
    assert not opted_out(None, None) and not opted_out("0", "0") and not opted_out("", "")


def test_rules_give_the_first_matching_reason() -> None:
    info = PrivacyInfo(
        "s", respect_dnt=True, excluded_ips=("203.0.113.0/24", "2001:db8::/32"),
        excluded_paths=("/admin/*", "/preview/**"),
    )  # fmt: skip
    rules = SiteRules.compile(info)
    assert rules.drop_reason(True, "198.51.100.1", "/") == "dnt"
    assert rules.drop_reason(False, "203.0.113.9", "/") == "excluded_ip"
    assert rules.drop_reason(False, "2001:db8::42", "/") == "excluded_ip"
    assert rules.drop_reason(False, "::ffff:203.0.113.5", "/") == "excluded_ip"  # IPv4-mapped
    assert rules.drop_reason(False, "2001:db9::1", "/") is None
    assert rules.drop_reason(False, "testclient", "/") is None  # unreadable: never excluded
    assert rules.drop_reason(False, "198.51.100.1", "/admin/x") == "excluded_path"
    assert rules.drop_reason(False, "198.51.100.1", "/preview/a/b") == "excluded_path"
    assert rules.drop_reason(False, "198.51.100.1", "/admin/x/y") is None
    # DNT alone is not honoured unless the site asks for it.
    assert SiteRules.compile(PrivacyInfo("s", excluded_paths=("/x",))).drop_reason(
        True, "1.2.3.4", "/") is None  # fmt: skip
    assert SiteRules.compile(PrivacyInfo("s")) is NO_RULES and NO_RULES.empty
