#!/usr/bin/env python3
"""What it costs a photo address to refuse the photos of hidden or deleted objects.

    .venv/bin/python scripts/bench_photo_check.py
    .venv/bin/python scripts/bench_photo_check.py --items 10000 --withheld 0,100,1000,5000

A box with `--items` objects, each with a photo (the records written through the
catalogue's own create; the photo hashes set as the pipeline sets them, one photo file on
disk). For each count of withheld objects (hidden or deleted, half each): the median time
of `GET /photos/<hash>.jpg` for a shown object's photo, in the app (Flask's test client,
2,000 requests), against the baseline of the same request with no object withheld, in
the same run. Which record shows which photo is kept in the blob_use table as records
change, so a request reads one row of an index whatever the number withheld.
"""

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app as application  # noqa: E402
from models import Blob, BlobUse, Item, db  # noqa: E402
from piratebox import box  # noqa: E402
from piratebox.blobs import BlobStore  # noqa: E402
from piratebox.box import Actor  # noqa: E402
from piratebox.catalogue import logic  # noqa: E402
from piratebox.database import open_existing  # noqa: E402
from piratebox.storage import DataDir  # noqa: E402

REQUESTS = 2000
ITEM = {"kind": "offer", "mode": "give", "category": "books", "condition": "good",
        "place": "home", "place_detail": "", "pseudonym": "", "contact": "",
        "description": "", "network": False, "answers": None}


def digest(number, size):
    return hashlib.sha256(f"{number}-{size}".encode()).hexdigest()


def seed(data_dir, items):
    box.create(data_dir, role="box", name="Bench")
    open_existing(data_dir)
    store = BlobStore(data_dir)
    with db.connection_context(), db.atomic():
        actor = Actor(box.identity()["id"], 1_790_000_000.0, store)
        for number in range(items):
            actor.now = 1_790_000_000.0 + number  # one after the other, the newest last
            item, _token = logic.create({**ITEM, "title": f"Objet {number}"}, [], actor)
            photos = [{"full": digest(number, "full"), "thumb": digest(number, "thumb")}]
            Item.update(photos=json.dumps(photos)).where(Item.id == item.id).execute()
            for size in ("full", "thumb"):
                Blob.insert(hash=digest(number, size), size=1, kind="photo" if size == "full"
                            else "thumb", created_at=actor.now).execute()
        BlobUse.refresh(list(Item.select()))  # as a change made through the pages keeps it
    shown = digest(items - 1, "thumb")  # the newest object's photo: never withheld below
    store.path(shown).parent.mkdir(parents=True, exist_ok=True)
    store.path(shown).write_bytes(b"\xff\xd8 a thumbnail")
    return shown


def median_ms(call, count):
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--withheld", default="0,100,1000,5000",
                        help="counts of hidden or deleted objects, comma-separated")
    args = parser.parse_args(argv)
    counts = [int(count) for count in args.withheld.split(",")]

    with tempfile.TemporaryDirectory() as folder:
        data_dir = DataDir(Path(folder) / "data")
        print(f"seeding {args.items} objects ...", file=sys.stderr)
        shown = seed(data_dir, args.items)
        app = application.create_app({"DATA_DIR": str(data_dir.path)})
        client = app.test_client()

        def photo():
            response = client.get(f"/photos/{shown}.jpg")
            response.close()
            assert response.status_code == 200, response.status_code

        rows = []
        for count in counts:
            with db.connection_context():
                ids = [row.id for row in Item.select(Item.id).order_by(Item.created_at)]
                Item.update(hidden=False, deleted=False).execute()
                Item.update(hidden=True).where(Item.id.in_(ids[:count:2])).execute()
                Item.update(deleted=True).where(Item.id.in_(ids[1:count:2])).execute()
                BlobUse.refresh(list(Item.select()))
            app.extensions["page_cache"].changed()  # as any write does
            rows.append((count, median_ms(photo, REQUESTS)))

    baseline = rows[0][1]
    print(f"{args.items} objects; GET a shown object's photo, median of {REQUESTS}; "
          f"baseline: none withheld\n")
    print("| hidden or deleted objects | photo request ms | ratio to baseline |")
    print("| ---: | ---: | ---: |")
    for count, request_ms in rows:
        print(f"| {count} | {request_ms:.3f} | {request_ms / baseline:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
