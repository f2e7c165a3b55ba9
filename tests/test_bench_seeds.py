"""The benchmarks' sample villages can still be made: a benchmark that cannot seed its box
measures nothing (a new kind of record once made every seed fail at its first object).
And their bare Flask app runs as the box's server does."""

import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.server import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_village_is_seeded_with_objects_and_photos(tmp_path):
    data = tmp_path / "data"
    seeding = ("import sys; sys.path.insert(0, 'scripts'); import bench; "
               f"bench.seed({str(data)!r}, 12, 2); "
               "from models import Item, db; "
               "db.connect(reuse_if_open=True); print(Item.select().count())")
    result = subprocess.run([sys.executable, "-c", seeding], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) >= 12


def test_the_bare_app_writes_no_line_for_a_request_that_waits_for_a_thread(tmp_path):
    """The box's server does not log waitress's queue (app.configure_logging): the
    baseline that its CPU a request is compared with must not either."""
    port = free_port()
    errors = tmp_path / "stderr"
    with errors.open("w") as written:
        server = subprocess.Popen([sys.executable, "scripts/bench_baseline.py", str(port), "1",
                                   "20000"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=written)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server)

        def ask(_number):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
                return answer.status

        with ThreadPoolExecutor(16) as phones:
            assert set(phones.map(ask, range(400))) == {200}
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "Task queue depth" not in errors.read_text()
