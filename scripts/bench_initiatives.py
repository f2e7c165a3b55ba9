#!/usr/bin/env python3
"""Benchmark the map of initiatives: what drawing the map and the list costs a box, and
how heavy the page is, against the catalogue's first page (20 objects, the page villagers
open most) in the same process, on the same database.

    .venv/bin/python scripts/bench_initiatives.py                  # 30, 100 and 300
    .venv/bin/python scripts/bench_initiatives.py --initiatives 50 200 --repeat 20

Initiatives are spread over the shipped communes of the Loire, half with a point of their
own, half drawn at their commune; each page is rendered through the application (the
Flask test client: routing, the query, the SVG, the template), best of `--repeat`.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seed(client, count, rng):
    """`count` initiatives more, through the mediator's own form."""
    from piratebox.initiatives import KINDS, THEMES, communes
    from tests.conftest import post_from_page

    places = list(communes.reference().values())
    for number in range(count):
        name, lat, lon = rng.choice(places)
        own_point = number % 2 == 0
        post_from_page(client, "/admin/initiatives/new", "/admin/initiatives/new", {
            "name": f"Initiative {number} de {name}", "kind": rng.choice(sorted(KINDS)),
            "theme": rng.choice(sorted(THEMES)), "commune": name, "place": "Salle des fêtes",
            "hours": "Samedi 10 h – 12 h", "contact": "06 12 34 56 78", "description": "",
            "latitude": f"{lat + rng.uniform(-0.02, 0.02):.4f}" if own_point else "",
            "longitude": f"{lon + rng.uniform(-0.02, 0.02):.4f}" if own_point else ""})


def timed(client, path, repeat):
    best, size = None, 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, path
        size = len(response.data)
        best = elapsed if best is None else min(best, elapsed)
    return best * 1000, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, nargs="+", default=[30, 100, 300])
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()

    import app as application
    from models import db
    from piratebox import box, demo
    from piratebox.database import open_existing
    from piratebox.storage import DataDir
    from tests.conftest import TEST_CONFIG, post_from_page

    rng = random.Random(22)  # noqa: S311 - repeatable sample data
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = DataDir(Path(scratch) / "box")
        box.create(folder, role="box", name="Bench", now=time.time())
        open_existing(folder)
        with db.connection_context():
            box.set_password("bench-password", 1000)
        demo.add_samples(folder, now=time.time())
        app = application.create_app({"DATA_DIR": str(folder.path), **TEST_CONFIG,
                                      "PAGE_CACHE_SECONDS": 0, "POSTS_PER_HOUR": 10**6})
        mediator, visitor = app.test_client(), app.test_client()
        post_from_page(mediator, "/admin/", "/admin/login", {"password": "bench-password"})
        so_far = 0
        for count in sorted(options.initiatives):
            seed(mediator, count - so_far, rng)
            so_far = count
            baseline = timed(visitor, "/items/", options.repeat)
            for label, path in (("map and list", "/initiatives/"),
                                ("one theme", "/initiatives/?theme=food"),
                                ("printable sheet", "/initiatives/print")):
                ms, size = timed(visitor, path, options.repeat)
                rows.append((count, label, ms, size, baseline))
    print(f"\nThe map of initiatives against the catalogue's first page, best of "
          f"{options.repeat}\n")
    print("| initiatives | page | ms | KB | catalogue ms | ratio | catalogue KB |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for count, label, ms, size, (base_ms, base_size) in rows:
        print(f"| {count} | {label} | {ms:.1f} | {size / 1024:.1f} | {base_ms:.1f} | "
              f"{ms / base_ms:.2f} | {base_size / 1024:.1f} |")


if __name__ == "__main__":
    main()
