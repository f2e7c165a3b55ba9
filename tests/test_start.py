"""A restart answers its first page before it writes anything: what the first page does not
need is done once that page has gone out (app.py's `after_first_answer`), in a real
served process on a real SQLite file."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import app as application
from models import Setting, db
from piratebox.database import open_existing
from tests.server import ROOT, free_port

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
        listening(port, server)
        time.sleep(0.3)  # a start that still wrote would have written by now
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
