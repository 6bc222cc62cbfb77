"""Vendor the chart library (uPlot, MIT) from npm into the dashboard's static files.

Run ``python scripts/vendor_chart.py [version]`` after changing the pinned version: it runs
``npm pack`` in a temporary directory (nothing is installed globally), unpacks the tarball
and copies the minified browser build, its stylesheet and its licence into
``footfall/dashboard/static/vendor/``. The copied files are committed, so users of
Footfall never need npm.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

NPM = shutil.which("npm") or "npm"
PACKAGE = "uplot"
VERSION = "1.6.32"
ROOT = Path(__file__).resolve().parent.parent
DEST = ROOT / "footfall" / "dashboard" / "static" / "vendor"
FILES = {  # path inside the npm package -> name in DEST
    "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "uPlot.LICENSE",
}


def vendor(version: str = VERSION) -> list[Path]:
    """Fetch ``uplot@version`` with npm and copy its files; returns the written paths."""
    DEST.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(  # noqa: S603 - fixed arguments
            [NPM, "pack", f"{PACKAGE}@{version}", "--silent"],
            cwd=tmp, check=True, capture_output=True, text=True,
        )  # fmt: skip
        tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        for src, name in FILES.items():
            target = DEST / name
            shutil.copyfile(Path(tmp) / src, target)
            written.append(target)
    (DEST / "VERSIONS.txt").write_text(f"{PACKAGE} {version} (MIT) from npm\n")
    return written


if __name__ == "__main__":
    for path in vendor(*sys.argv[1:2]):
        print(path.relative_to(ROOT))
