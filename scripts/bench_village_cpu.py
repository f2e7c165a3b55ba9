#!/usr/bin/env python3
"""Where the village mix's server CPU goes, by request kind: the box served by waitress and
its guard as `piratebox serve` serves it, the phones of scripts/village_load.py in a
process of their own, and each request's CPU time counted by its method, path and whether
the kept pages' lane answered it ahead of the app.

    .venv/bin/python scripts/bench_village_cpu.py
    .venv/bin/python scripts/bench_village_cpu.py --phones 50 --seconds 20 --items 500 --bare

Printed: for each kind, its requests, the CPU milliseconds one took inside the WSGI app
(this thread's CPU time, so a thread waiting for the interpreter or the disk is not
counted) and its share of the app's CPU; then the server's own threads (waitress's loop,
which reads requests and writes answers, and the workers outside the app), from
/proc/self/task. `--bare` measures the bare Flask app (scripts/bench_baseline.py) the same
way, on plain waitress as scripts/bench.py runs it. The counting costs a few µs a request:
read the shares, and take the ratio to the bare app from scripts/bench.py --village.
"""

import argparse
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import NO_RATE_LIMITS_CONFIG, seed  # noqa: E402 - beside this script
from bench_baseline import create_app as create_baseline  # noqa: E402
from village_load import cpu_seconds, run  # noqa: E402

from tests.server import free_port  # noqa: E402

APP_KEY = "bench.reached_the_app"


def kind_of(environ):
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if path.startswith("/items/") and path != "/items/":
        path = "/items/<id>"
    if environ.get("QUERY_STRING"):
        path += "?q="
    return f"{method} {path}", "app" if environ.get(APP_KEY) else "ahead"


class Counted:
    """The WSGI app, each request's CPU time added to its kind's."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.lock = threading.Lock()
        self.kinds = defaultdict(lambda: [0, 0.0])

    def __call__(self, environ, start_response):
        started = time.thread_time()
        body = list(self.wsgi_app(environ, start_response))
        took = time.thread_time() - started
        with self.lock:
            counted = self.kinds[kind_of(environ)]
            counted[0] += 1
            counted[1] += took
        return body


def box_server(data_dir, threads):
    """The box as `piratebox serve` makes it, a request that reaches the app behind the
    kept pages' lane marked so."""
    from app import create_app
    from piratebox import serving, tuning, web

    lane = web.serve_kept_pages

    def marking_the_app(app):
        behind = app.wsgi_app

        def reached(environ, start_response):
            environ[APP_KEY] = True
            return behind(environ, start_response)

        app.wsgi_app = reached
        return lane(app)

    web.serve_kept_pages = marking_the_app
    app = create_app({"DATA_DIR": str(data_dir), **NO_RATE_LIMITS_CONFIG})
    tuning.compile_templates_apart(app)
    tempfile.tempdir = str(app.extensions["box"].data_dir.scratch())
    counted = app.wsgi_app = Counted(app.wsgi_app)
    return serving.make_server(app, "127.0.0.1", free_port(), threads), counted


def bare_server(threads):
    import waitress

    counted = Counted(create_baseline(12_000))
    return waitress.create_server(counted, host="127.0.0.1", port=free_port(),
                                  threads=threads), counted


def threads_cpu():
    """{thread id: CPU seconds} of this process's threads."""
    found = {}
    for task in Path("/proc/self/task").iterdir():
        found[task.name] = cpu_seconds((task / "stat").read_text(), os.sysconf("SC_CLK_TCK"))
    return found


def load(port, phones, seconds, item, results):
    results.put(run(port, lambda: 0.0, phones, seconds, item))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--threads", type=int, default=4, help="server threads")
    parser.add_argument("--bare", action="store_true", help="the bare Flask app instead")
    options = parser.parse_args()
    # as `piratebox serve` (app.configure_logging), and the bare app alike
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        if options.bare:
            item = "none"
            server, counted = bare_server(options.threads)
        else:
            print(f"seeding {options.items} items ...", file=sys.stderr)
            item = seed(data_dir, options.items, min(options.photos, options.items))["item"]
            server, counted = box_server(data_dir, options.threads)
        before = threads_cpu()
        loop = threading.Thread(target=server.run, daemon=True)
        loop.start()
        spawn = multiprocessing.get_context("spawn")
        results = spawn.Queue()
        phones = spawn.Process(target=load, args=(server.effective_port, options.phones,
                                                  options.seconds, item, results))
        phones.start()
        figures = results.get()
        phones.join()
        after = threads_cpu()
        with counted.lock:
            kinds = dict(counted.kinds)
        shutil.rmtree(data_dir, ignore_errors=True)
    report(options, figures, kinds, before, after, loop.native_id)


def report(options, figures, kinds, before, after, loop_id):
    requests = sum(count for count, _cpu in kinds.values())
    in_app = sum(cpu for _count, cpu in kinds.values())
    loop = after.get(str(loop_id), 0.0) - before.get(str(loop_id), 0.0)
    server = sum(after[task] - before.get(task, 0.0) for task in after) - loop
    print(f"\n{'bare Flask' if options.bare else 'box'}: {options.phones} phones, "
          f"{options.seconds} s, {requests} requests ({figures['rps']:.0f} req/s), statuses "
          f"{figures['statuses']}\n")
    print("| request | answered by | requests | CPU ms each | share of the app's CPU |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (kind, by), (count, cpu) in sorted(kinds.items(), key=lambda item: -item[1][1]):
        print(f"| {kind} | {by} | {count} | {cpu / count * 1000:.2f} | "
              f"{cpu / in_app * 100:.1f} % |")
    print(f"\nCPU ms a request: in the app {in_app / requests * 1000:.3f}, the workers "
          f"outside it {(server - in_app) / requests * 1000:.3f}, waitress's loop "
          f"{loop / requests * 1000:.3f}; the server's threads in all "
          f"{(server + loop) / requests * 1000:.3f}")


if __name__ == "__main__":
    main()
