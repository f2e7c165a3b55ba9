#!/usr/bin/env python3
"""What counting phones costs a page served from the cache, measured in the same process.

    .venv/bin/python scripts/bench_footfall.py
    .venv/bin/python scripts/bench_footfall.py --requests 20000 --phones 300

The home page is asked for by `--phones` different addresses, over and over, so that every
answer after the first comes from the page cache (the hot path). Rounds alternate between
the box as it runs (counting) and the same box whose counter does nothing (the baseline);
the table gives the median time of a request in each and their ratio. Then the cost of one
count on its own, and how often the counter wrote to the database.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class NotCounting:
    def saw(self, address, now):
        pass


def timed_round(client, addresses, requests):
    started = time.perf_counter()
    for number in range(requests):
        client.environ_base["REMOTE_ADDR"] = addresses[number % len(addresses)]
        client.get("/")
    return (time.perf_counter() - started) / requests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--phones", type=int, default=300)
    options = parser.parse_args()

    import app as application
    from models import Footfall, db
    from piratebox import box, footfall
    from piratebox.storage import DataDir

    with tempfile.TemporaryDirectory() as folder:
        data_dir = DataDir(Path(folder) / "data")
        box.create(data_dir, role="box", name="Bench")
        app = application.create_app({"DATA_DIR": str(data_dir.path)})
        counting = app.extensions["footfall"]
        client = app.test_client()
        addresses = [f"10.0.{n // 250}.{n % 250 + 2}" for n in range(options.phones)]
        timed_round(client, addresses, 200)  # the page is in the cache from here on
        times = {"counting": [], "baseline": []}
        for _round in range(options.rounds):
            for label, counter in (("counting", counting), ("baseline", NotCounting())):
                app.extensions["footfall"] = counter
                times[label].append(timed_round(client, addresses, options.requests))
        app.extensions["footfall"] = counting

        alone = footfall.Counter("Europe/Paris")
        now = time.time()
        with app.app_context():
            alone.saw(addresses[0], now)  # opens the day
            started = time.perf_counter()
            for number in range(100_000):
                alone.saw(addresses[number % len(addresses)], now)
            per_count = (time.perf_counter() - started) / 100_000
            with db.connection_context():
                rows = Footfall.select().count()

    counting_ms = statistics.median(times["counting"]) * 1000
    baseline_ms = statistics.median(times["baseline"]) * 1000
    print(f"{options.rounds} rounds of {options.requests} cached home pages from "
          f"{options.phones} addresses\n")
    print("| box | median ms / request |\n| --- | ---: |")
    print(f"| counting phones | {counting_ms:.3f} |")
    print(f"| counter doing nothing (baseline) | {baseline_ms:.3f} |")
    print(f"| ratio | {counting_ms / baseline_ms:.3f} |\n")
    print(f"one count alone: {per_count * 1e6:.2f} µs; rows the counter wrote during the "
          f"run: {rows} (one write every {footfall.FLUSH_SECONDS} s at most)")


if __name__ == "__main__":
    main()
