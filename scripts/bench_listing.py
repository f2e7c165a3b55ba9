#!/usr/bin/env python3
"""Benchmark what the catalogue's lists cost now that a village lists only its own objects
and the network's offers, against the rule before (every object not deleted nor hidden),
in the same process, on the same database.

    .venv/bin/python scripts/bench_listing.py                  # 10,000 objects
    .venv/bin/python scripts/bench_listing.py --objects 2000 --network-share 0.3

The box holds `objects` of its own and as many again from other villages: a share of them
offered to the network, the rest what a hub sends a village when an offer ends, half
given (history) and half taken back by its village (still available there, not shown
here). Each query is timed as the catalogue page runs it
(catalogue.logic.browse: one ordered id scan, the count capped, a page of cards), best of
`--repeat` runs; the table gives milliseconds and the ratio new / before.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = [  # (label, filters)
    ("listing, page 1", {}),
    ("listing, page 20", {"page": 20}),
    ("search, one word", {"q": "etagere"}),
    ("search, two words", {"q": "etagere chene"}),
    ("one category", {"category": "books"}),
    ("all statuses", {"status": "all"}),
]
WORDS = ["etagere", "chene", "velo", "enfant", "lampe", "chevet", "poussette", "livre",
         "roman", "perceuse", "tondeuse", "table", "chaise", "pull", "manteau", "jouet",
         "puzzle", "casserole"]


def seed(folder, objects, share):
    """This box's objects, and as many from other villages: offered, or history."""
    from models import Counter, Item, db, new_id
    from piratebox import box
    from piratebox.catalogue.categories import OBJECT_CATEGORIES

    rng = random.Random(19)  # noqa: S311 - repeatable sample data
    box.create(folder, role="box", name="Bench", now=time.time())
    from piratebox.database import open_existing

    open_existing(folder)
    with db.connection_context(), db.atomic():
        me = box.identity()["id"]
        others = [new_id() for _ in range(5)]
        rows = []
        for number in range(2 * objects):
            own = number % 2 == 0
            offered = not own and rng.random() < share
            given = not own and not offered and rng.random() < 0.5
            title = " ".join(rng.sample(WORDS, 3))
            item = Item(id=new_id(), origin=me if own else rng.choice(others),
                        version=number + 1, seq=number + 1 if own else 0,
                        created_at=1.7e9 + number * 60, updated_at=1.7e9 + number * 60,
                        kind="offer", mode="give", title=title, category=rng.choice(
                            OBJECT_CATEGORIES).code, place="home", network=offered or given,
                        status="given" if given else "available")
            item.refresh_search_text()
            rows.append(item.__data__)
        for start in range(0, len(rows), 30):
            Item.insert_many(rows[start:start + 30]).execute()
        Counter.witness("lamport", 2 * objects)


def timed(run, repeat):
    best = None
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--network-share", type=float, default=0.2,
                        help="of the other villages' objects, the share still on offer")
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()

    from models import Item, db
    from piratebox.catalogue import logic
    from piratebox.storage import DataDir

    rules = {"before": lambda: Item.live().where(Item.hidden == False),  # noqa: E712
             "now": Item.listed}
    with tempfile.TemporaryDirectory() as scratch:
        folder = DataDir(Path(scratch) / "box")
        seed(folder, options.objects, options.network_share)
        results = []
        with db.connection_context():
            for label, filters in QUERIES:
                page = filters.get("page", 1)
                row = {}
                for name, rule in rules.items():
                    Item.listed = staticmethod(rule)  # the rule browse() lists through
                    shown = logic.browse({**filters, "status": filters.get("status", "")},
                                         page)[1]
                    row[name] = (timed(lambda f=filters, p=page: logic.browse(f, p),
                                       options.repeat), shown)
                results.append((label, row))
    print(f"\nThe catalogue's lists: {options.objects} objects of this village and as many "
          f"from others ({options.network_share:.0%} of those still offered), best of "
          f"{options.repeat}\n")
    print("| query | before ms | now ms | now / before | listed before | listed now |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, row in results:
        (before, listed_before), (now, listed_now) = row["before"], row["now"]
        print(f"| {label} | {before:.1f} | {now:.1f} | {now / before:.2f} | "
              f"{listed_before} | {listed_now} |")


if __name__ == "__main__":
    main()
