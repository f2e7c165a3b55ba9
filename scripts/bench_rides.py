#!/usr/bin/env python3
"""What rides cost the figures (issue 22, part 2), against a baseline in the same run.

    .venv/bin/python scripts/bench_rides.py
    .venv/bin/python scripts/bench_rides.py --rides 1000 10000 --repeat 20

A box with a year of exchanges (`--events`) computes its figures (what the impact page,
the API and the CSV ask for) without rides: the baseline. Then the same box with
`--rides` rides that left, each with two passengers (seats taken), half with the
driver's distance and half estimated from the communes: the figures again, their median
time, and the ratio to the baseline. Standard library and the box's own code only.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMUNES = ["Saint-Bonnet-le-Château", "Montbrison", "Usson-en-Forez", "Feurs",
            "Boën-sur-Lignon"]


def median_ms(work, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def add_rides(count, box_id, now, rng):
    from models import Counter, Item, WaitingEntry, db, new_id

    items, entries = [], []
    first = Counter.take("seq", count * 3)
    for number in range(count):
        ride_id = new_id()
        start, end = rng.sample(COMMUNES, 2)
        leaves = now - rng.uniform(3600, 365 * 86400)
        items.append({
            "id": ride_id, "origin": box_id, "version": 1, "seq": first + number, "deleted": False,
            "created_at": leaves - 86400, "updated_at": leaves - 86400, "kind": "offer",
            "mode": "give", "title": f"{start} → {end}", "description": "", "category": "rides",
            "condition": "", "place": "elsewhere", "place_detail": "", "pseudonym": "",
            "contact": "", "photos": "[]", "status": "expired", "reserved_by": "",
            "reserved_message": "", "lent_to": "", "lent_until": "", "expires_at": leaves,
            "hidden": False, "network": False, "search_text": "", "ride_at": leaves,
            "ride_from": start, "ride_to": end, "seats": 3,
            "km": 20.0 if number % 2 else None})
        for seat in range(2):
            entries.append({
                "id": new_id(), "origin": box_id, "version": 1,
                "seq": first + count + 2 * number + seat, "deleted": False,
                "created_at": leaves - 3600, "updated_at": leaves - 3600, "item_id": ride_id,
                "pseudonym": "Voisin", "contact": ""})
    with db.atomic():
        for start in range(0, len(items), 200):
            Item.insert_many(items[start:start + 200]).execute()
        for start in range(0, len(entries), 200):
            WaitingEntry.insert_many(entries[start:start + 200]).execute()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rides", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()

    from models import Setting, db
    from piratebox import box
    from piratebox.database import open_existing
    from piratebox.impact import logic as impact
    from piratebox.storage import DataDir
    from tests.test_impact import add_events

    rng = random.Random(22)  # noqa: S311 - test data
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        data_dir = DataDir(Path(folder) / "data")
        box.create(data_dir, role="box", name="Bench")
        open_existing(data_dir)
        with db.connection_context():
            add_events(options.events)
            box_id = Setting.get_value("box_id")
            now = time.time()

            def figures():
                return impact.figures_now(now, "Europe/Paris")

            baseline = median_ms(figures, options.repeat)
            added = 0
            for count in sorted(options.rides):
                add_rides(count - added, box_id, now, rng)
                added = count
                with_rides = median_ms(figures, options.repeat)
                shown = figures()
                rows.append((count, baseline, with_rides, with_rides / baseline,
                             shown.rides, shown.km_shared))
    print(f"{options.events} exchange events; the figures' median of {options.repeat} runs")
    print("| rides | without rides, ms | with rides, ms | ratio | rides counted | km shared |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for count, without, with_rides, ratio, counted, km in rows:
        print(f"| {count} | {without:.1f} | {with_rides:.1f} | {ratio:.2f} | {counted} | "
              f"{km:.0f} |")


if __name__ == "__main__":
    main()
