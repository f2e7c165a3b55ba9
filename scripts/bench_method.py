#!/usr/bin/env python3
"""What CoCoTe's method costs the box (issue 22), each against a baseline in the same run.

    .venv/bin/python scripts/bench_method.py
    .venv/bin/python scripts/bench_method.py --requests 20000 --phones 300

1. Footfall: the home page is asked for by `--phones` different addresses, over and over,
   so that every answer after the first comes from the page cache (the hot path). Rounds
   alternate between the box as it runs (counting) and the same box whose counter does
   nothing (the baseline); the median time of a request in each and their ratio. Then the
   cost of one count on its own, and how often the counter wrote to the database.
2. The weekly photo compared: one comparison of two phone-sized photos, against
   re-encoding one such photo as every upload is (piratebox/photos.py).
3. The quarter's report: the PDF of a box with a year of exchanges, against the CSV of
   the same box's figures.
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

            photo_ratio = compare_photos(Path(folder))
            report_ms, csv_ms = report_and_csv(app)
    counting_ms = statistics.median(times["counting"]) * 1000
    baseline_ms = statistics.median(times["baseline"]) * 1000
    print(f"{options.rounds} rounds of {options.requests} cached home pages from "
          f"{options.phones} addresses\n")
    print("| box | median ms / request |\n| --- | ---: |")
    print(f"| counting phones | {counting_ms:.3f} |")
    print(f"| counter doing nothing (baseline) | {baseline_ms:.3f} |")
    print(f"| ratio | {counting_ms / baseline_ms:.3f} |\n")
    print(f"one count alone: {per_count * 1e6:.2f} µs; rows the counter wrote during the "
          f"run: {rows} (one write every {footfall.FLUSH_SECONDS} s at most)\n")
    compare_ms, process_ms = photo_ratio
    print("| work | median ms | baseline | baseline ms | ratio |")
    print("| --- | ---: | --- | ---: | ---: |")
    print(f"| compare two weekly photos | {compare_ms:.1f} | re-encode one upload | "
          f"{process_ms:.1f} | {compare_ms / process_ms:.2f} |")
    print(f"| quarter's report (PDF) | {report_ms:.1f} | the CSV of the figures | "
          f"{csv_ms:.1f} | {report_ms / csv_ms:.2f} |")


def median_ms(work, times=7):
    durations = []
    for _time in range(times):
        started = time.perf_counter()
        work()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1000


def compare_photos(folder):
    """Two 12-megapixel-ish phone photos as the box keeps them (1280 px), compared."""
    import io

    from piratebox import photos
    from piratebox.impact import weekly_photo
    from tests.test_weekly_photo import LAST_WEEK, scene, this_week

    raw = scene(LAST_WEEK)
    kept = []
    for name, data in (("older.jpg", raw), ("newer.jpg", scene(this_week(), seed=2))):
        path = folder / name
        path.write_bytes(photos.process(io.BytesIO(data))[0])
        kept.append(path)
    compare = median_ms(lambda: weekly_photo.compare(kept[1], kept[0]))
    process = median_ms(lambda: photos.process(io.BytesIO(raw)))
    return compare, process


def report_and_csv(app):
    """A year of exchanges (one every two hours) and the report of its last quarter."""
    import io

    from models import Exchange, db
    from piratebox.i18n import Translator
    from piratebox.impact import logic as impact
    from piratebox.impact import quarter_report, report

    now = time.time()
    rows = [{"id": f"e{n:025d}", "origin": "box", "version": n + 1, "seq": n + 1,
             "deleted": False, "created_at": now, "updated_at": now, "item_id": f"i{n}",
             "action": ("taken", "given", "lent", "deposited")[n % 4], "kind": "offer",
             "mode": "give", "place": "box", "category": ("books", "bikes", "clothes")[n % 3],
             "mass_kg": 1.0, "avoided_purchase": n % 2 == 0, "happened_at": now - n * 7200}
            for n in range(4380)]
    with app.app_context(), db.connection_context():
        with db.atomic():
            for start in range(0, len(rows), 500):
                Exchange.insert_many(rows[start:start + 500]).execute()
        quarter = quarter_report.recent_quarters(now, "Europe/Paris")[1]
        here = app.extensions["box"]

        def pdf_report():
            quarter_report.make(quarter, here.identity, here.blobs, now, "Europe/Paris",
                                Translator("fr"), "fr").write(io.BytesIO())

        def spreadsheet():
            report.csv_rows(impact.figures_now(now, "Europe/Paris"), decimal_comma=True)

        return median_ms(pdf_report), median_ms(spreadsheet)


if __name__ == "__main__":
    main()
