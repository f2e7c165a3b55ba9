#!/usr/bin/env python3
"""The restart to the first page: the box against the bare Flask app, started in turns.

    .venv/bin/python scripts/bench_start.py
    .venv/bin/python scripts/bench_start.py --turns 15 --items 500 --photos 20
    .venv/bin/python scripts/bench_start.py --tree ../other-checkout   # two trees in turns

What scripts/bench_router.py's `cold_start` measures in the router-class machine, here:
from launching `python app.py --data DIR serve` (or scripts/bench_baseline.py, serving a
page of the same size) until `/` has been answered, both under the allocator settings of
a Raspberry Pi's service. The box has been started once before (its templates compiled,
its catalogues kept) and its bytecode is compiled, as after an install: an ordinary
restart. Each turn starts every tree's box and the bare app, each of them first in turn;
a turn's ratio is each box's time to the bare app's of the same turn, and the medians of
the turns are printed with their spread. Besides the wall-clock time (bench_router's
figure), the CPU time the server's threads used until the page was answered (from /proc,
in nanoseconds): a host shared with other work moves it far less, and on a router's
single core the two are nearly the same.
"""

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ALLOCATOR, NO_RATE_LIMITS, seed  # noqa: E402 - beside this script

from tests.server import free_port  # noqa: E402

POLL_SECONDS = 0.005  # bench_router polls every 0.1 s: a start here is a few tenths


def cpu_seconds(pid):
    """The CPU time every thread of the process has used so far (schedstat: nanoseconds)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def first_page(command, cwd, port, env):
    """Launch `command`, poll `/` until it answers; (wall seconds, CPU seconds, bytes)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, **env})
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as answer:
                    body = answer.read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if process.poll() is not None:
                    raise RuntimeError(f"{command[1]} exited with {process.returncode}") \
                        from None
                time.sleep(POLL_SECONDS)
        return time.perf_counter() - started, cpu_seconds(process.pid), len(body)
    finally:
        process.terminate()
        process.wait(timeout=30)


def box_start(python, tree, data_dir, threads):
    port = free_port()
    env = {**ALLOCATOR, **NO_RATE_LIMITS, "PIRATEBOX_SITE_URL": f"http://127.0.0.1:{port}"}
    return first_page([python, "app.py", "--data", str(data_dir), "serve", "--port",
                       str(port), "--threads", str(threads)], tree, port, env)


def bare_start(python, threads, page_bytes):
    port = free_port()
    return first_page([python, "scripts/bench_baseline.py", str(port), str(threads),
                       str(page_bytes)], ROOT, port, ALLOCATOR)


def spread(values):
    return (f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f}, "
            f"{len(values)} turns)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4, help="server threads (both)")
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--tree", action="append", default=[], type=Path,
                        help="another checkout whose box starts in the same turns "
                             "(main's, say); this one's always does")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter both servers run with (its packages are theirs)")
    options = parser.parse_args()
    trees = [ROOT, *(tree.resolve() for tree in options.tree)]
    with tempfile.TemporaryDirectory() as scratch:
        print(f"seeding {options.items} objects ...", file=sys.stderr)
        seeded = Path(scratch) / "seeded"
        seed(seeded, options.items, min(options.photos, options.items))
        data = {}
        for number, tree in enumerate(trees):
            subprocess.run([options.python, "-m", "compileall", "-q", "app.py", "models.py",
                            "piratebox", "scripts"], cwd=tree, check=True)
            data[tree] = Path(scratch) / f"data-{number}"
            shutil.copytree(seeded, data[tree])
            # the first start after an install compiles the templates: not a restart
            page_bytes = box_start(options.python, tree, data[tree], options.threads)[2]
        times = {tree: [] for tree in trees}
        bare = []
        servers = [*trees, None]  # None: the bare app
        for turn in range(options.turns):
            print(f"turn {turn + 1}/{options.turns} ...", file=sys.stderr)
            # each server in turn goes first: the first start after another's pays more
            for tree in servers[turn % len(servers):] + servers[:turn % len(servers)]:
                if tree is None:
                    bare.append(bare_start(options.python, options.threads, page_bytes))
                else:
                    times[tree].append(box_start(options.python, tree, data[tree],
                                                 options.threads))
    report(trees, times, bare)


def report(trees, times, bare):
    print("\n| turn | " + " | ".join(f"{tree.name} (s, CPU s)" for tree in trees)
          + " | bare Flask (s, CPU s) |")
    print("| ---: |" + " ---: |" * (len(trees) + 1))
    for turn, base in enumerate(bare):
        cells = [f"{times[tree][turn][0]:.3f}, {times[tree][turn][1]:.3f}" for tree in trees]
        print(f"| {turn + 1} | " + " | ".join(cells) + f" | {base[0]:.3f}, {base[1]:.3f} |")
    print()
    for tree in trees:
        wall = [box[0] / base[0] for box, base in zip(times[tree], bare, strict=True)]
        cpu = [box[1] / base[1] for box, base in zip(times[tree], bare, strict=True)]
        print(f"{tree.name}: restart to the first page, box / bare Flask: {spread(wall)}; "
              f"in CPU time: {spread(cpu)}")
    print(f"bare Flask: {statistics.median(base[0] for base in bare):.3f} s, "
          f"{statistics.median(base[1] for base in bare):.3f} CPU s (medians)")


if __name__ == "__main__":
    main()
