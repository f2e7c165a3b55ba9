#!/usr/bin/env python3
"""What one request costs inside the process: the box's app and the bare Flask baseline
called through WSGI in turns, no server, no network, no other thread.

    .venv/bin/python scripts/bench_request.py
    .venv/bin/python scripts/bench_request.py --items 2000 --profile board
    python3 scripts/bench_request.py --data SEEDED --names '{"item": ID, "request": ID}'

For each public page, kept in memory and asked for by a phone back with the cookie its
first visit gave it: microseconds a request for the box and for the baseline, and their
ratio. Each is its fastest of --repeat rounds taken in turns (as timeit does): the round
the host's other work disturbed least. This is the request's lifecycle that scripts/bench.py
measures through waitress, without the server's and the load generator's share, and with
little of the host's load in it. Then the same page right after a write to what it shows
(the page cache told of it as a post tells it): rendered again with its kept rows, or,
for the catalogue's lists and the API's, its query run again and the page kept when it
finds the same objects (the figures page: kept when what its figures are made of has no
newer change). And the figures page right after an exchange is recorded, which changes
its figures, and the catalogue and its search right after a new object they show (the
one before it deleted): rendered again, the write itself not timed. --profile LABEL prints where
that page's time goes (cProfile), kept and right after a write, to find what to cut
(such a row's label, "impact, an exchange recorded" for one: right after each write).
--data takes a box seeded already (a copy of it is used), as scripts/bench_router.py does
on a router, where seeding takes too long. --cpu times the CPU this thread spent rather than
the wall clock: on a host shared with other work, the time the thread waited for a core
is left out (the box and the baseline alike).
"""

import argparse
import cProfile
import io
import json
import pstats
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import NO_RATE_LIMITS_CONFIG, SCENARIOS, fill, seed  # noqa: E402
from bench_baseline import create_app as create_baseline  # noqa: E402
from village_load import InProcessPhone  # noqa: E402

from piratebox.pagecache import CHANGED_BY  # noqa: E402

PHONE = {"Host": "127.0.0.1:8080", "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8",
         "User-Agent": "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like "
                       "Gecko) Chrome/120.0 Mobile Safari/537.36"}


def environ_for(path, cookie=""):
    from werkzeug.test import EnvironBuilder

    path, _, query = path.partition("?")
    headers = {**PHONE, **({"Cookie": cookie} if cookie else {})}
    return EnvironBuilder(path=path, query_string=query, headers=headers,
                          environ_base={"REMOTE_ADDR": "10.3.0.7"}).get_environ()


def caller(app, environ):
    """One request, as a server would make it; fails loudly on anything but a 200."""
    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            raise RuntimeError(f"{environ['PATH_INFO']}: {status}")

    def call():
        for _chunk in app(dict(environ), start_response):
            pass

    return call


def returning_cookie(app, path):
    """The session cookie a phone's first visit to `path` gave it."""
    response = app.test_client().get(path, headers=PHONE)
    return (response.headers.get("Set-Cookie") or "").split(";", 1)[0]


def per_request_us(call, count, clock=time.perf_counter):
    started = clock()
    for _ in range(count):
        call()
    return (clock() - started) / count * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--vocabulary", choices=("bench", "village"), default="bench",
                        help="the objects' words: 20, or a village's few hundred (bench.seed)")
    parser.add_argument("--requests", type=int, default=200, help="per round and page")
    parser.add_argument("--after-write", type=int, default=20, metavar="N",
                        help="requests a round and page right after a write (0: none)")
    parser.add_argument("--repeat", type=int, default=20, help="rounds, box and baseline in turns")
    parser.add_argument("--cpu", action="store_true",
                        help="time the thread's CPU, not the wall clock (a busy host)")
    parser.add_argument("--profile", metavar="LABEL", help="print where this page's time goes")
    parser.add_argument("--data", type=Path, help="a seeded box to copy rather than seed one")
    parser.add_argument("--names", type=json.loads,
                        help='with --data, its objects: {"item": ID, "request": ID}')
    parser.add_argument("--fill", default="40,60,5", metavar="MESSAGES,FILES,EVENTS",
                        help="posted first, as phones do, so that the board, the files and "
                             "the agenda are lists (0,0,0: as seeded)")
    options = parser.parse_args()
    if options.data and not options.names:
        parser.error("--data needs --names")
    clock = time.thread_time if options.cpu else time.perf_counter

    # a copy of --data beside it, on its disk: a router's /tmp is a few MB of RAM, where the
    # box would refuse the posts that fill it (its disk "nearly full")
    with tempfile.TemporaryDirectory(dir=options.data and options.data.parent) as scratch:
        data_dir = Path(scratch) / "data"
        if options.data:
            shutil.copytree(options.data, data_dir)
            names = options.names
        else:
            print(f"seeding {options.items} items ...", file=sys.stderr)
            names = seed(data_dir, options.items, min(options.photos, options.items),
                         options.vocabulary)
        from app import create_app

        box = create_app({"DATA_DIR": str(data_dir), **NO_RATE_LIMITS_CONFIG})
        messages, files, events = (int(count) for count in options.fill.split(","))
        fill(InProcessPhone(box), messages, files, events)
        page_bytes = len(box.test_client().get("/", headers=PHONE).data)
        baseline = create_baseline(page_bytes)
        base_call = caller(baseline, environ_for("/"))
        rows = []
        for label, path, section, _base in SCENARIOS:
            path = path.format(**names)
            box_call = caller(box, environ_for(path, returning_cookie(box, path)))
            box_call(), base_call()  # rendered once, kept
            if options.profile == label:
                profile(box_call, options.requests)
                if section:
                    profile(after_a_write(box, section, box_call), options.after_write)
            rounds = [(per_request_us(box_call, options.requests, clock),
                       per_request_us(base_call, options.requests, clock))
                      for _ in range(options.repeat)]
            box_us = min(box for box, _base in rounds)
            base_us = min(base for _box, base in rounds)
            again_us = None
            if section and options.after_write:
                again_us = min(per_request_us(after_a_write(box, section, box_call),
                                              options.after_write, clock)
                               for _ in range(options.repeat))
            rows.append((label, box_us, base_us, again_us))
            write = {"impact": (", an exchange recorded", exchange_of(box, names["item"])),
                     "catalogue": (", a new object shown", new_object(box)),
                     "search": (", a new object found", new_object(box))}.get(label)
            if write and options.after_write:
                if options.profile == label + write[0]:
                    profiler = cProfile.Profile()
                    rendered_again_us(box, write[1], partial(profiler.runcall, box_call),
                                      options.after_write, clock)
                    print_profile(profiler)
                rows.append((label + write[0], None, base_us, min(
                    rendered_again_us(box, write[1], box_call, options.after_write, clock)
                    for _ in range(options.repeat))))

    print(f"\nin-process, the fastest of {options.repeat} rounds of {options.requests} "
          f"requests a page, a phone back with its cookie, pages kept in memory"
          f"{' (the thread CPU time)' if options.cpu else ''}\n")
    print("| URL | box µs/request | baseline µs/request | ratio | after a write µs | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, box_us, base_us, again_us in rows:
        kept = f"{box_us:.0f} | {base_us:.0f} | {base_us / box_us:.2f}" if box_us else \
            f"- | {base_us:.0f} | -"
        again = f"{again_us:.0f} | {base_us / again_us:.2f}" if again_us else "- | -"
        print(f"| {label} | {kept} | {again} |")


def after_a_write(app, section, call):
    """`call` right after a write to `section`, as its post tells the page cache."""
    cache, sections = app.extensions["page_cache"], CHANGED_BY[section]

    def again():
        cache.changed(sections)
        call()

    return again


def rendered_again_us(app, write, call, count, clock):
    """µs of `call` right after `write(actor)` changed what its page shows, as a post writes
    and tells the page cache, the write itself not timed."""
    from models import db

    cache, box = app.extensions["page_cache"], app.extensions["box"]
    db.connect(reuse_if_open=True)  # the thread's own, kept as the server keeps it
    spent = 0.0
    for _ in range(count):
        write(box.actor())
        cache.changed(CHANGED_BY["catalogue"])
        started = clock()
        call()
        spent += clock() - started
    return spent / count * 1e6


def exchange_of(app, item_id):
    """A write recording an exchange of the object `item_id`: a figure changed."""
    from piratebox.catalogue import logic

    def write(actor):
        logic.record(logic.find(item_id), "taken", actor)

    return write


def new_object(app):
    """A write offering a new object that the catalogue's first page and the benchmark's
    search show, the one it offered before deleted: the catalogue keeps its size, and
    each word the same number of objects (which the search's plan depends on)."""
    from piratebox.catalogue import logic

    before = []

    def write(actor):
        item, _token = logic.create({
            "kind": "offer", "mode": "give", "title": "Étagère en chêne", "description": "",
            "category": "furniture_small", "condition": "good", "place": "home",
            "place_detail": "", "pseudonym": "", "contact": "", "network": False,
            "answers": None}, [], actor)
        if before:
            logic.delete(before.pop(), actor)
        before.append(item)

    return write


def profile(call, count):
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [call() for _ in range(count)])
    print_profile(profiler)


def print_profile(profiler):
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue(), file=sys.stderr)


if __name__ == "__main__":
    main()
