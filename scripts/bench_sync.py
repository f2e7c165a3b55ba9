#!/usr/bin/env python3
"""Benchmark what a mediator's round writes on the stick, against the new content it carries.

    .venv/bin/python scripts/bench_sync.py                 # 30 objects with a photo each
    .venv/bin/python scripts/bench_sync.py --objects 100

A hub and two villages, enrolled through the real commands. Round 1: Saint-Bonnet posts
objects, each with a phone-sized photo through the real pipeline, half of them shown to
the network. Round 2: it edits the titles of a third of them. Round 3: nothing changes.
Each round is the mediator's: Saint-Bonnet syncs, the hub, Marols, Saint-Bonnet again,
with `piratebox sync` run as the hotplug scripts run it.

For each round the table gives the new content (the records changed at Saint-Bonnet, as
the JSON they travel as, and the photos made that round), every bundle written on the
stick, and two ratios: bytes written / new content (the baseline: the least a round can
write is its new content once, plus the network's share again for Marols), and the
hub's return bundle to Saint-Bonnet / Saint-Bonnet's own bundle (under 5 % when nothing
came back that it did not have).

Then the network gets a history (Saint-Bonnet gives away half of what it showed to the
network and deletes a few more) and a new village, Luriecq, joins: its first bundle from
the hub against what it needs (the network's open offers, as they travel, with their
photos) and against the network's whole history (what a hub that sent every object ever
shown would send).
"""

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cli(data_dir, *args):
    subprocess.run([sys.executable, str(ROOT / "app.py"), "--data", str(data_dir), *args],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def opened(data_dir):
    from models import db
    from piratebox.database import open_existing
    from piratebox.storage import DataDir

    open_existing(DataDir(data_dir))
    return db.connection_context()


def identity(data_dir):
    from piratebox import box

    with opened(data_dir):
        return box.identity()["id"]


def phone_photo(rng):
    """A photo as a phone takes it: 2000 x 1500, a gradient with grain."""
    from PIL import Image

    width, height = 2000, 1500
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    grain = Image.effect_noise((width, height), 40).convert("RGB")
    tint = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    image = Image.blend(Image.blend(base, tint, 0.5), grain, 0.25)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def post_objects(data_dir, count, rng):
    from piratebox.blobs import BlobStore
    from piratebox.box import Actor
    from piratebox.catalogue import categories, logic
    from piratebox.storage import DataDir

    box_id = identity(data_dir)
    with opened(data_dir):
        actor = Actor(box_id, time.time(), BlobStore(DataDir(data_dir)))
        for number in range(count):
            logic.create({
                "kind": "offer", "mode": rng.choice(sorted(categories.MODES)),
                "place": rng.choice(sorted(categories.PLACES)), "title": f"Objet {number}",
                "category": rng.choice(categories.OBJECT_CATEGORIES).code,
                "description": "Bon état",
                "network": number % 2 == 0, "contact": "06 12 34 56 78"},
                [phone_photo(rng)], actor)


def edit_titles(data_dir, share):
    from models import Item
    from piratebox.blobs import BlobStore
    from piratebox.box import Actor
    from piratebox.catalogue import logic
    from piratebox.storage import DataDir

    box_id = identity(data_dir)
    with opened(data_dir):
        actor = Actor(box_id, time.time(), BlobStore(DataDir(data_dir)))
        items = list(Item.select().order_by(Item.created_at))
        for item in items[: max(1, int(len(items) * share))]:
            logic.edit(item, {"title": f"{item.title} (réparé)"}, [], actor)


def new_content(data_dir, since_seq):
    """What changed at the box since `since_seq`: (bytes of the records as they travel,
    bytes of the photos they brought)."""
    from models import Blob, Counter
    from piratebox.sync import records

    with opened(data_dir):
        changed = [row for model in records.TABLES.values()
                   for row in model.select().where(model.seq > since_seq)]
        record_bytes = sum(len(json.dumps(records.state_of(row), ensure_ascii=False,
                                          sort_keys=True).encode()) + 1 for row in changed)
        needed = {digest for row in changed for digest in row.blob_hashes()}
        photo_bytes = sum(blob.size for blob in Blob.select().where(Blob.hash.in_(needed))
                          .where(Blob.hash.not_in(_seen)))
        _seen.update(needed)
        return record_bytes, photo_bytes, Counter.current("seq")


_seen = set()  # photos already counted as new content in an earlier round


def round_trip(stick, bonnet, hub, marols, ids):
    """The mediator's round; returns {bundle: bytes written} for every bundle written."""
    written = {}
    for label, data_dir in (("Saint-Bonnet", bonnet), ("hub", hub), ("Marols", marols),
                            ("Saint-Bonnet again", bonnet)):
        cli(data_dir, "sync", str(stick))
        me = ids[data_dir]
        for path in (stick / "cocote").glob(f"{me}-to-*.cocote"):
            recipient = path.name.split("-to-")[1].removesuffix(".cocote")
            written[f"{label} -> {names_of(ids)[recipient]}"] = path.stat().st_size
    return written


def give_away_and_delete(data_dir):
    """Half of the objects shown to the network given, a sixth deleted: a network's history."""
    from models import Item
    from piratebox.blobs import BlobStore
    from piratebox.box import Actor
    from piratebox.catalogue import logic
    from piratebox.storage import DataDir

    box_id = identity(data_dir)
    with opened(data_dir):
        actor = Actor(box_id, time.time(), BlobStore(DataDir(data_dir)))
        shown = list(Item.select().where(Item.network == True).order_by(Item.created_at))  # noqa: E712
        for number, item in enumerate(shown):
            if number % 2 == 0:
                logic.transition(item, "give" if item.mode != "lend" else "lend", actor,
                                 **({"lent_to": "Paul"} if item.mode == "lend" else {}))
            elif number % 3 == 0:
                logic.delete(item, actor)


def offers_and_history(hub):
    """At the hub: (bytes of the network's open offers as they travel, with their photos;
    bytes of every object ever shown to the network, with its photos)."""
    from models import Blob, Item
    from piratebox.sync import records

    def weight(rows):
        photos = {digest for row in rows for digest in row.blob_hashes()}
        return (sum(len(json.dumps(records.travelling_state(row), ensure_ascii=False,
                                   sort_keys=True).encode()) + 1 for row in rows)
                + sum(blob.size for blob in Blob.select().where(Blob.hash.in_(photos))))

    with opened(hub):
        offered = list(Item.select().where(Item.offered_to_network()))
        ever = list(Item.select().where(Item.shown_seq.is_null(False)))
        return weight(offered), weight(ever), len(offered), len(ever)


def a_village_joins(stick, hub, name, scratch):
    """A new village enrolled and synced: the size of the hub's first bundle to it."""
    from piratebox.sync import enrolment

    village = scratch / name
    cli(village, "init", "--name", name)
    cli(hub, "hub", "enrol", name, "--to", str(stick))
    cli(village, "sync", str(stick))
    with opened(village):
        enrolment.confirm(time.time())
    cli(village, "sync", str(stick))
    cli(hub, "sync", str(stick))
    return (stick / "cocote" / f"{identity(hub)}-to-{identity(village)}.cocote").stat().st_size


def names_of(ids):
    return {box_id: path.name for path, box_id in ids.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=30)
    options = parser.parse_args()
    rng = random.Random(16)  # noqa: S311 - sample data
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        stick = scratch / "stick"
        (stick / "cocote").mkdir(parents=True)
        hub, bonnet, marols = scratch / "hub", scratch / "Saint-Bonnet", scratch / "Marols"
        cli(hub, "init", "--role", "hub", "--name", "Hub")
        for village in (bonnet, marols):
            cli(village, "init", "--name", village.name)
            cli(hub, "hub", "enrol", village.name, "--to", str(stick))
            cli(village, "sync", str(stick))
            from piratebox.sync import enrolment

            with opened(village):
                enrolment.confirm(time.time())
        ids = {path: identity(path) for path in (hub, bonnet, marols)}
        round_trip(stick, bonnet, hub, marols, ids)  # enrolment: nothing but addresses
        seq = new_content(bonnet, 0)[2]
        rows = []
        for label, work in (
                (f"1: {options.objects} objects with a photo", lambda: post_objects(
                    bonnet, options.objects, rng)),
                ("2: a third retitled", lambda: edit_titles(bonnet, 1 / 3)),
                ("3: nothing changed", lambda: None)):
            print(f"round {label} ...", file=sys.stderr)
            work()
            record_bytes, photo_bytes, seq_after = new_content(bonnet, seq)
            seq = seq_after
            written = round_trip(stick, bonnet, hub, marols, ids)
            rows.append((label, record_bytes, photo_bytes, written))
        print("round 4: a history, and a village that joins ...", file=sys.stderr)
        give_away_and_delete(bonnet)
        round_trip(stick, bonnet, hub, marols, ids)
        needed, history, open_count, ever_count = offers_and_history(hub)
        joined = a_village_joins(stick, hub, "Luriecq", scratch)
    print(f"\nA mediator's round: Saint-Bonnet -> hub -> Marols -> Saint-Bonnet, "
          f"{options.objects} objects, half shown to the network\n")
    print("| round | new records KB | new photos KB | box -> hub KB | hub -> box KB "
          "| hub -> Marols KB | written on the stick KB | written / new | "
          "return / box bundle |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, record_bytes, photo_bytes, written in rows:
        sent = written["Saint-Bonnet -> hub"]
        back = written["hub -> Saint-Bonnet"]
        total = sum(written.values())
        new = record_bytes + photo_bytes
        print(f"| {label} | {record_bytes / 1024:.1f} | {photo_bytes / 1024:.0f} | "
              f"{sent / 1024:.1f} | {back / 1024:.1f} | {written['hub -> Marols'] / 1024:.1f} "
              f"| {total / 1024:.0f} | {f'{total / new:.2f}' if new else '—'} | "
              f"{back / sent:.1%} |")
    print("\nA village joins a network with a history: the hub's first bundle to it\n")
    print("| offers open / ever shown | open offers KB | history KB | first bundle KB | "
          "first bundle / open offers | first bundle / history |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {open_count} / {ever_count} | {needed / 1024:.0f} | {history / 1024:.0f} | "
          f"{joined / 1024:.0f} | {joined / needed:.2f} | {joined / history:.2f} |")


if __name__ == "__main__":
    main()
