"""Refresh footfall/ingest/data/referrer-spam.txt from its npm package.

The list is Matomo's community referrer-spam list (public domain). Matomo publishes it on
Packagist only, which this project's machines cannot reach, so it is taken from the npm
package that ships a snapshot of it, ``express-spam-referral-blocker`` (files
``lib/piwik.spam.json`` and ``lib/spam.json``). The package is fetched with the ordinary
``npm pack`` client; nothing is executed from it.

Usage: python scripts/update_referrer_spam.py [VERSION]   (default: the latest version)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "express-spam-referral-blocker"
LIST_FILES = ("package/lib/piwik.spam.json", "package/lib/spam.json")
TARGET = (
    Path(__file__).resolve().parent.parent / "footfall" / "ingest" / "data" / "referrer-spam.txt"
)


def _npm(*args: str, cwd: str | None = None) -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not on PATH")
    done = subprocess.run(  # noqa: S603 - fixed program, arguments from this script
        [npm, *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=300
    )
    return done.stdout


def _clean(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def main(argv: list[str]) -> int:
    spec = f"{PACKAGE}@{argv[1]}" if len(argv) > 1 else PACKAGE
    with tempfile.TemporaryDirectory() as tmp:
        tarball = _npm("pack", spec, "--silent", cwd=tmp).strip().splitlines()[-1]
        with tarfile.open(Path(tmp) / tarball) as tar:
            meta = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
            hosts: set[str] = set()
            for name in LIST_FILES:
                member = tar.extractfile(name)
                if member is None:
                    raise SystemExit(f"{name} missing from {tarball}")
                hosts.update(_clean(h) for h in json.load(member)["spamReferrers"])
    hosts.discard("")
    header = [
        "# Referrer-spam hosts, one per line; a host also matches its subdomains.",
        "# Upstream list: Matomo referrer-spam-list (community-contributed, public domain).",
        f"# Source package: npm {meta['name']} {meta['version']} "
        f"(licence {meta.get('license', 'unknown')}), files {', '.join(LIST_FILES)}.",
        "# The package's snapshot is an old, small copy of the upstream list; a newer copy",
        "# can be dropped in here in the same format (one host per line, '#' comments).",
        "# Refresh: python scripts/update_referrer_spam.py [VERSION]",
    ]
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text("\n".join([*header, *sorted(hosts)]) + "\n", encoding="utf-8")
    print(f"wrote {len(hosts)} hosts from {meta['name']} {meta['version']} to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
