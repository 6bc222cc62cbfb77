"""``footfall jobs run``: finds the running server by its data directory (whatever port
it was started on) or by --url, shows progress, and says in one line what went wrong."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from tests.serverproc import Server
from tests.test_cli import one_line_error, run

pytestmark = pytest.mark.slow


def test_jobs_run_asks_the_server_on_the_port_it_was_started_with(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Server(data).start()  # on a free port, given to the server alone
    try:
        code, out, err = run("jobs", "run", "rollups", FOOTFALL_DATA_DIR=str(data),
                             FOOTFALL_ADMIN_TOKEN=server.admin)  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["job"] == "rollups"
        assert f"in the server at http://127.0.0.1:{server.port}" in err and "done in" in err
        code, out, err = run("jobs", "run", "rollups", FOOTFALL_DATA_DIR=str(data),
                             FOOTFALL_ADMIN_TOKEN="wrong")  # fmt: skip
        assert code == 3 and out == ""
        assert "admin token was refused" in err.strip().splitlines()[-1]
        assert "Traceback" not in err
        # --url reaches a server from anywhere, whatever the local data directory.
        code, out, err = run("jobs", "run", "retention", "--data-dir", str(tmp_path / "else"),
                             "--url", server.url(""), FOOTFALL_ADMIN_TOKEN=server.admin)  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["job"] == "retention"
    finally:
        server.stop(recover=False)


def test_jobs_run_without_a_server_shows_progress_and_prints_only_the_result(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    code, out, err = run("jobs", "run", "rollups", "--data-dir", str(data))
    assert code == 0, err
    assert json.loads(out)["built"] == []
    assert f"running rollups on {data}" in err and "done in" in err


def test_jobs_run_with_no_server_at_the_url_says_so_in_one_line(tmp_path: Path) -> None:
    code, _, err = run("jobs", "run", "retention", "--url", "http://127.0.0.1:9",
                       FOOTFALL_ADMIN_TOKEN="x")  # fmt: skip
    assert code == 3
    assert "could not reach the server at http://127.0.0.1:9" in err.strip().splitlines()[-1]
    assert "Traceback" not in err


def test_a_long_job_shows_it_is_still_running(tmp_path: Path) -> None:
    # A stand-in server that takes 6 s to answer, as a first rollup build on a big store.
    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(6)
            body = b'{"success":true,"job":"rollups","result":{}}'
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Slow)
    server.timeout = 60  # handle_request gives up if no request comes
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, out, err = run("jobs", "run", "rollups", "--url", url, FOOTFALL_ADMIN_TOKEN="t")
    finally:
        thread.join()
        server.server_close()
    assert code == 0, err
    assert json.loads(out)["job"] == "rollups"
    assert "still running after 5 s" in err


def test_migrate_beside_a_running_server_refuses_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Server(data).start()
    try:
        code, _, err = run("migrate", FOOTFALL_DATA_DIR=str(data))
    finally:
        server.stop(recover=False)
    assert code == 3
    line = one_line_error(err)
    assert str(data) in line and "in use" in line
