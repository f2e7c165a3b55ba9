"""A restart's first page waits for nothing it does not need: the clock's floor is saved
once that page has gone out (app.py's `after_first_answer`), and the regular expressions of
the forms and of the text's cleaning are compiled at their first use (patterns.deferred);
in a real served process on a real SQLite file."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import app as application
from models import Setting, db
from piratebox.database import open_existing
from piratebox.patterns import deferred
from tests.server import ROOT, Server, free_port

LONG_AGO = 1_767_225_600.0  # January 2026: the floor an earlier start saved


def saved_floor(data_dir):
    open_existing(data_dir)
    with db.connection_context():
        return float(Setting.get_value("clock_floor", "0"))


def with_floor(data_dir, value):
    open_existing(data_dir)
    with db.connection_context():
        Setting.put("clock_floor", repr(value))


def listening(port, process, timeout=30):
    """Wait until the server accepts connections, without asking it anything."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def floor_moved(data_dir, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if saved_floor(data_dir) > LONG_AGO:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_a_start_saves_its_clock_after_its_first_page_not_before(data_dir):
    with_floor(data_dir, LONG_AGO)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--data", str(data_dir.path), "serve",
         "--port", str(port)], cwd=ROOT, env={**os.environ, "PIRATEBOX_SITE_URL":
                                               f"http://127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        listening(port, server)  # a start that saves it before its first page has saved it
        assert saved_floor(data_dir) == LONG_AGO
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            assert response.status == 200
        assert floor_moved(data_dir)
        assert saved_floor(data_dir) <= time.time()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_with_no_visitor_a_start_saves_its_clock_all_the_same(data_dir):
    with_floor(data_dir, LONG_AGO)
    served = application.create_app({"DATA_DIR": str(data_dir.path)})
    assert saved_floor(data_dir) == LONG_AGO  # opening the box wrote nothing
    application.after_first_answer(served, wait_seconds=0)
    assert LONG_AGO < saved_floor(data_dir) <= time.time()


# Runs `python app.py ... serve` in this process and writes, as it exits, the box's
# deferred patterns that were compiled.
RECORD_PATTERNS = """
import atexit, json, runpy, sys
out = sys.argv[1]
def compiled():
    from piratebox.patterns import deferred
    return sorted(f"{name}.{key}" for name, module in list(sys.modules.items())
                  if name.startswith("piratebox") for key, value in vars(module).items()
                  if isinstance(value, deferred) and "search" in vars(value))
atexit.register(lambda: open(out, "w").write(json.dumps(compiled())))
sys.argv = sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
def test_a_restarts_home_page_compiles_none_of_the_forms_patterns(data_dir, tmp_path):
    with Server(data_dir.path):
        pass  # the first start reads the catalogues and keeps them: a restart does not
    out = tmp_path / "compiled.json"
    with Server(data_dir.path, wrapper=(sys.executable, "-c", RECORD_PATTERNS, str(out))) \
            as server, urllib.request.urlopen(server.base + "/") as response:
        assert response.status == 200
    assert json.loads(out.read_text()) == []


def test_a_deferred_pattern_is_the_pattern_once_used():
    spaces = deferred(r"\s+")
    assert "search" not in vars(spaces)
    assert spaces.sub(" ", "a \t b") == re.sub(r"\s+", " ", "a \t b")
    assert spaces.search is not None and "search" in vars(spaces)  # compiled once, then kept
    assert deferred("^x", re.M).findall("x\nx") == ["x", "x"]
