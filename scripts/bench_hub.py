#!/usr/bin/env python3
"""Benchmark a hub aggregating many boxes, on SQLite and on PostgreSQL in the same run.

    .venv/bin/python scripts/bench_hub.py                      # 300 boxes x 1,000 objects
    .venv/bin/python scripts/bench_hub.py --boxes 30 --items 200

The benchmark enrols the boxes at a hub, then writes for each a real signed bundle (the
objects and their "offered" events, as a box would send them) with the bundle writer the
boxes use. Then, for each engine: the time to import every bundle, the time to import them
all again (each is recognised and skipped), and the latency of the hub's dashboard
(/stats/: the figures per box and per commune over every event) and of a catalogue
search, through the real server with the page cache off. On SQLite, the floor: the same
rows, as the import stores them, inserted by raw sqlite3 executemany into the same
schema in one transaction (the import verifies, parses and checks every record, and
commits once per bundle: the ratio says what that costs); the two take turns, --repeat
times, and the best of each is shown (a shared machine's load comes and goes), in time
and in CPU time (the import command's, the floor's process's: what the load leaves). The
imports run as the command a mediator types, bytecode compiled. PostgreSQL runs as a
throw-away cluster in a temporary folder (Debian's postgresql package); without it only
SQLite is measured.
"""

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server import Server, free_port  # noqa: E402

WORDS = ("étagère", "chêne", "vélo", "enfant", "perceuse", "livre", "manteau", "table",
         "chaise", "lampe", "jouet", "casserole", "tondeuse", "robe", "pull", "poussette")


def postgres_cluster():
    """Start a throw-away PostgreSQL; returns (url, stop function) or None."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        return None
    bin_dir = bins[-1]
    folder = Path(tempfile.mkdtemp(prefix="cocote-pg-"))  # its own, so postgres can enter
    run = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(folder, "postgres")
        run = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*run, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-A", "trust",
                    "-U", "postgres"], check=True, capture_output=True)
    subprocess.run([*run, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-l",
                    str(folder / "log"), "-w", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=''", "start"],
                   check=True, capture_output=True)

    def stop():
        subprocess.run([*run, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m",
                        "fast", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)

    subprocess.run([*run, str(bin_dir / "createdb"), "-h", str(folder), "-p", str(port),
                    "-U", "postgres", "hub"], check=True)
    return f"postgresql://postgres@/hub?host={folder}&port={port}", stop


def cli(data_dir, *args):
    subprocess.run([sys.executable, str(ROOT / "app.py"), "--data", str(data_dir), *args],
                   check=True, stdout=subprocess.DEVNULL)


def make_hub(data_dir, boxes, database_url=None):
    """A hub with `boxes` enrolments; returns [(enrolment id, key, box id, name)]."""
    from models import Peer, db
    from piratebox.database import open_existing
    from piratebox.storage import DataDir

    cli(data_dir, "init", "--role", "hub", "--name", "Loire",
        *(["--database-url", database_url] if database_url else []))
    stick = data_dir.parent / f"stick-{data_dir.name}"
    (stick / "cocote").mkdir(parents=True)
    folder = DataDir(data_dir)
    open_existing(folder)
    from piratebox.sync import enrolment

    with db.connection_context():
        for number in range(boxes):
            enrolment.enrol(f"Village {number:03d}", stick, time.time(),
                         commune=f"Commune {number // 3:03d}")
        return [(peer.id, peer.key, peer.name) for peer in Peer.select().order_by(Peer.name)]


def write_bundles(folder, hub_id, enrolments, items, seed=7):
    """One real signed bundle per box, as its first sync would write it."""
    from models import new_id
    from piratebox.catalogue.categories import OBJECT_CATEGORIES
    from piratebox.sync import bundle

    rng = random.Random(seed)  # noqa: S311 - sample data
    paths = []
    now = time.time()
    for enrolment, key, name in enrolments:
        box_id = new_id()
        lines = []
        for number in range(items):
            item_id, event_id = new_id(), new_id()
            category = rng.choice(OBJECT_CATEGORIES).code
            created = now - rng.random() * 300 * 86400
            common = {"origin": box_id, "deleted": False, "created_at": created,
                      "updated_at": created}
            network = number % 10 == 0
            # as records.travelling_state writes it: what stays in the village left out
            # (who reserved or borrowed), and how to reach the owner only when on offer
            # to the network (where it must be given: rules.py)
            reach = ({"place_detail": "", "pseudonym": "", "contact": "06 12 34 56 78"}
                     if network else {})
            lines.append({"table": "item", "record": {
                "id": item_id, "version": 2 * number + 1, **common, "kind": "offer",
                "mode": "give", "title": " ".join(rng.sample(WORDS, 3)).capitalize(),
                "description": " ".join(rng.choices(WORDS, k=10)), "category": category,
                "condition": "good", "place": "home", **reach, "photos": "[]",
                "status": "available", "avoided_purchase": None, "lent_until": "",
                "expires_at": None, "answers": None, "hidden": False, "network": network,
                "ride_at": None, "ride_from": "", "ride_to": "", "seats": None, "km": None,
                "riders": None}})
            lines.append({"table": "exchange", "record": {
                "id": event_id, "version": 2 * number + 2, **common, "item_id": item_id,
                "action": rng.choice(("offered", "given", "taken")), "kind": "offer",
                "mode": "give", "place": "home", "category": category, "mass_kg": 2.0,
                "avoided_purchase": rng.choice((True, False, None)), "happened_at": created}})
        manifest = {"format": bundle.FORMAT, "version": f"{bundle.MAJOR}.{bundle.MINOR}",
                    "bundle_id": new_id(), "previous": None,
                    "sender": {"id": box_id, "role": "box", "name": name, "epoch": new_id()},
                    "recipient": hub_id, "enrolment": enrolment, "created_at": now,
                    "upto": 2 * items, "ack": 0}
        path = folder / f"{box_id}-to-{hub_id}.cocote"
        bundle.write(path, manifest, key, iter(lines), {})
        paths.append(path)
    return paths


def raw_floor(data_dir, paths):
    """(seconds, CPU seconds) for raw sqlite3 to insert the bundles' rows, as the import
    stores them, into `data_dir` (the hub before its import): read and prepared before the
    clock starts."""
    from models import Exchange, Item

    models = {"item": Item, "exchange": Exchange}
    rows = {table: [] for table in models}
    seq = 0
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            for line in archive.read("records.jsonl").splitlines():
                record = json.loads(line)
                model = models[record["table"]]
                values = {field.name: field.default() if callable(field.default)
                          else field.default for field in model._meta.sorted_fields}
                values.update(record["record"])  # a field left out holds its default
                seq += 1
                values["seq"] = seq
                if hasattr(model, "search_text_of"):
                    values["search_text"] = model.search_text_of(values)
                rows[record["table"]].append(
                    [values[field.name] for field in model._meta.sorted_fields])
    connection = sqlite3.connect(data_dir / "piratebox.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode = wal")
    connection.execute("PRAGMA synchronous = full")  # as the box's own connections
    started, cpu = time.perf_counter(), time.process_time()
    connection.execute("BEGIN IMMEDIATE")
    for table, model in models.items():
        fields = model._meta.sorted_fields
        connection.executemany(
            f"INSERT INTO {table} ({', '.join(field.column_name for field in fields)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(fields))})", rows[table])
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - started, time.process_time() - cpu
    connection.close()
    return elapsed


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_all(data_dir, paths):
    """(seconds, CPU seconds) of the import command, from its start to its end."""
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run([sys.executable, str(ROOT / "app.py"), "--data", str(data_dir), "import",
                    *map(str, paths)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, children_cpu() - cpu


def latency(base, path, count=5):
    times = []
    for _ in range(count):
        started = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=600) as response:
            response.read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def import_and_floor(label, data_dir, paths, repeat):
    """(import, floor) as (seconds, CPU seconds) on SQLite, the best of `repeat` turns of
    each, each turn on a copy of the hub as it was before any import: the load of a shared
    machine comes and goes, and the two take turns so that it weighs on both alike. The CPU
    time says what the host's load leaves of the ratio: a process waiting for a core
    counts none."""
    before = data_dir.parent / f"before-{label}"
    shutil.copytree(data_dir, before)
    imports, floors = [], []
    for turn in range(repeat):
        print(f"{label}: the raw sqlite3 floor, then the import ({turn + 1}/{repeat}) ...",
              file=sys.stderr)
        floor_dir = data_dir.parent / f"floor-{label}"
        shutil.copytree(before, floor_dir)
        os.sync()  # the copy's writes are no part of the commit measured
        floors.append(raw_floor(floor_dir, paths))
        shutil.rmtree(floor_dir)
        if turn:
            shutil.rmtree(data_dir)
            shutil.copytree(before, data_dir)
        os.sync()
        imports.append(import_all(data_dir, paths))
    shutil.rmtree(before)
    return (min(wall for wall, _cpu in imports), min(cpu for _wall, cpu in imports)), (
        min(wall for wall, _cpu in floors), min(cpu for _wall, cpu in floors))


def measure(label, data_dir, boxes, items, repeat, database_url=None):
    from models import db
    from piratebox import box
    from piratebox.database import open_existing
    from piratebox.storage import DataDir

    print(f"{label}: enrolling {boxes} boxes ...", file=sys.stderr)
    enrolments = make_hub(data_dir, boxes, database_url)
    open_existing(DataDir(data_dir))
    with db.connection_context():
        hub_id = box.identity()["id"]
    bundles = data_dir.parent / f"bundles-{label}"
    bundles.mkdir()
    print(f"{label}: writing {boxes} bundles of {items} objects ...", file=sys.stderr)
    paths = write_bundles(bundles, hub_id, enrolments, items)
    if database_url is None:
        first, floor = import_and_floor(label, data_dir, paths, repeat)
    else:
        print(f"{label}: importing ...", file=sys.stderr)
        first, floor = import_all(data_dir, paths), None
    again, _cpu = import_all(data_dir, paths)
    with Server(data_dir, env={"PIRATEBOX_PAGE_CACHE_SECONDS": "0"}) as server:  # computed
        dashboard = latency(server.base, "/stats/")
        search = latency(server.base, "/items/?q=velo+chene")
    return {"engine": label, "first": first, "again": again, "dashboard": dashboard,
            "search": search, "records": boxes * items * 2, "floor": floor}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=300)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="turns of the SQLite import and its floor (the best of each)")
    options = parser.parse_args()
    # the imports start as an installed box does, its bytecode compiled (scripts/run,
    # deploy/): a start that compiles every module is no part of an import
    subprocess.run([sys.executable, "-m", "compileall", "-q", "app.py", "models.py",
                    "piratebox"], cwd=ROOT, check=True)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        results.append(measure("SQLite", scratch / "hub-sqlite", options.boxes,
                               options.items, options.repeat))
        cluster = postgres_cluster()
        if cluster is None:
            print("PostgreSQL is not installed: only SQLite measured.", file=sys.stderr)
        else:
            url, stop = cluster
            try:
                results.append(measure("PostgreSQL", scratch / "hub-pg", options.boxes,
                                       options.items, 1, database_url=url))
            finally:
                stop()
    print(f"\n{options.boxes} boxes x {options.items} objects "
          f"({options.boxes * options.items * 2} records with their events), "
          f"{os.cpu_count()} CPUs; SQLite's import and floor: the best of {options.repeat}\n")
    print("| engine | import (s) | records/s | raw sqlite3 floor (s) | floor / import "
          "| CPU: import (s) | floor (s) | floor / import "
          "| import again (s) | /stats/ p50 ms | search p50 ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in results:
        (first, first_cpu), floor = row["first"], row["floor"]
        ratios = (f"{floor[0]:.1f} | {floor[0] / first:.2f} | {first_cpu:.2f} | "
                  f"{floor[1]:.2f} | {floor[1] / first_cpu:.2f}" if floor
                  else "- | - | - | - | -")  # the server's CPU is not the command's
        print(f"| {row['engine']} | {first:.1f} | {row['records'] / first:.0f} | {ratios} | "
              f"{row['again']:.1f} | {row['dashboard']:.0f} | {row['search']:.0f} |")


if __name__ == "__main__":
    main()
