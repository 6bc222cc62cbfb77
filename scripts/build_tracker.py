"""Build the tracker: tracker/src/footfall.js → footfall/dashboard/static/js/footfall{,.ext}.js.

One source, two builds, chosen by esbuild's ``--define:EXT=false|true`` (the default build
loses every ``if (EXT)`` block). esbuild comes from npm (tracker/package.json and its
lockfile; ``npm ci`` runs when tracker/node_modules is missing). The output is committed,
so people who install Footfall never need Node.

    python scripts/build_tracker.py            # build, print raw and gzipped sizes
    python scripts/build_tracker.py --out DIR  # build somewhere else (the up-to-date test)
    python scripts/build_tracker.py --sizes    # only print the sizes of the committed files

Budgets (gzipped): footfall.js ≤ 2.0 KB, footfall.ext.js ≤ 3.5 KB; the build fails above.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACKER = ROOT / "tracker"
SOURCE = TRACKER / "src" / "footfall.js"
OUT = ROOT / "footfall" / "dashboard" / "static" / "js"
BUILDS = {"footfall.js": False, "footfall.ext.js": True}
BUDGETS = {"footfall.js": 2048, "footfall.ext.js": 3584}

# acorn refuses anything newer than the given edition (object spread, optional catch
# binding, ?., ??, ...), so it proves the output runs on every ES2017 browser.
_ACORN_CHECK = """
const acorn = require(process.argv[1]);
const fs = require('fs');
for (const file of process.argv.slice(2)) {
  try { acorn.parse(fs.readFileSync(file, 'utf8'), {ecmaVersion: 2017, sourceType: 'script'}); }
  catch (e) { console.error(file + ': ' + e.message); process.exitCode = 1; }
}
"""


class ToolMissing(RuntimeError):
    """Node or npm is not installed, so the build tools cannot run."""


def gzipped_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def node_tools() -> Path:
    """tracker/node_modules, installed from the lockfile when missing."""
    modules = TRACKER / "node_modules"
    if not (modules / ".bin" / "esbuild").exists() or not (modules / "acorn").exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise ToolMissing("node and npm are needed to build the tracker")
        subprocess.run(  # noqa: S603
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TRACKER, check=True
        )
    return modules


def build(out: Path) -> dict[str, Path]:
    """Build both files into ``out``; returns name → path."""
    esbuild = node_tools() / ".bin" / "esbuild"
    out.mkdir(parents=True, exist_ok=True)
    built = {}
    for name, ext in BUILDS.items():
        target = out / name
        subprocess.run(  # noqa: S603
            [
                str(esbuild),
                str(SOURCE),
                "--minify",
                "--target=es2017",
                "--charset=utf8",
                "--legal-comments=none",
                f"--define:EXT={'true' if ext else 'false'}",
                f"--outfile={target}",
                "--log-level=warning",
            ],
            check=True,
        )
        built[name] = target
    return built


def check_es2017(files: list[Path]) -> str:
    """Parse ``files`` as ES2017 scripts with acorn; returns "" or the parse errors."""
    acorn = node_tools() / "acorn"
    proc = subprocess.run(  # noqa: S603
        ["node", "-e", _ACORN_CHECK, str(acorn), *map(str, files)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stderr.strip() if proc.returncode else ""


def report(files: dict[str, Path]) -> list[str]:
    """Print raw/gzipped sizes; returns the names over budget."""
    over = []
    for name, path in files.items():
        data = path.read_bytes()
        gz = gzipped_size(data)
        flag = "ok" if gz <= BUDGETS[name] else "OVER BUDGET"
        print(f"{name:18} {len(data):6} B raw  {gz:5} B gzipped  (budget {BUDGETS[name]} B) {flag}")
        if gz > BUDGETS[name]:
            over.append(name)
    return over


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output directory")
    parser.add_argument("--sizes", action="store_true", help="only print committed sizes")
    args = parser.parse_args(argv)
    if args.sizes:
        return 1 if report({n: OUT / n for n in BUILDS}) else 0
    files = build(args.out)
    errors = check_es2017(list(files.values()))
    if errors:
        print(errors, file=sys.stderr)
        return 1
    return 1 if report(files) else 0


if __name__ == "__main__":
    sys.exit(main())
