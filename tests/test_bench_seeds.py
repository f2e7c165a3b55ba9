"""The benchmarks' sample villages can still be made: a benchmark that cannot seed its box
measures nothing (a new kind of record once made every seed fail at its first object)."""

import subprocess
import sys
from pathlib import Path

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
