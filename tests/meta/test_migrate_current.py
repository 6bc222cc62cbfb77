"""``migrate`` on a current metadata database returns without Alembic (a CLI command such
as ``footfall import`` paid ~0.4 CPU s for it), and its head is Alembic's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from footfall.meta import db
from footfall.meta.repo import Metadata


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    assert db._head() == ScriptDirectory.from_config(config).get_current_head()


def test_a_current_database_migrates_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    probe = (
        "import sys; from footfall.meta.repo import Metadata; m = Metadata(sys.argv[1]); "
        "m.migrate(); print('alembic' in sys.modules); m.close()"
    )

    def alembic_loaded() -> str:
        run = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert alembic_loaded() == "True"  # a new database: Alembic creates the schema
    assert alembic_loaded() == "False"  # current: nothing to do, nothing imported
    meta = Metadata(url)
    assert db.current_revision(meta.engine) == db._head()
    meta.close()
