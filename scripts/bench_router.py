#!/usr/bin/env python3
"""Benchmark the box on a router-class machine against a bare Flask app there, in one run.

    .venv/bin/python scripts/bench_router.py --ssh "ssh -p 12222 root@127.0.0.1" \\
        --box-url http://127.0.0.1:18080 --baseline-url http://127.0.0.1:18081

The router (a real one, or a virtual machine the size of one) runs the project's tree at
--app with its own Python and packages, and is reached with --ssh; the box listens there
on --box-port and the baseline (scripts/bench_baseline.py: a bare Flask app on waitress,
a page of the same size) on --baseline-port, which this machine reaches at --box-url and
--baseline-url. A box of --items objects is seeded here and copied there. --up and --down
are commands run before and after (starting and stopping a virtual machine, say).

Measured, each time the box and the baseline in the same run, and printed as ratios:
cold start to the first page (the first start ever, then ordinary restarts), the first
visit to each page after a restart, requests per second on each page with wrk (4
connections, and 1), each page right after a write to what it shows, the village mix
(many phones, each with its own cookie, reading and posting) and the RSS after it, both
servers under the allocator settings of a Raspberry Pi's service (scripts/bench.py). And
what one request costs inside the process there (scripts/bench_request.py: the box and
the bare Flask app called in turns, no network): the figure the host's load disturbs least.
Nothing here is a timed test: the machine is slow and, if emulated, shares its host;
ratios are measured side by side and repeated (--repeat) to say how noisy they are.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import (  # noqa: E402
    ALLOCATOR,
    NO_RATE_LIMITS,
    SCENARIOS,
    WRK_REPORT,
    fill,
    load_wrk,
    returning_phone_cookie,
    seed,
)
from village_load import Phone, after_a_write, alone, cpu_seconds, run  # noqa: E402


class Router:
    """The machine: commands over ssh, the two servers started and stopped there."""

    def __init__(self, options):
        self.ssh = shlex.split(options.ssh)
        self.options = options
        self.pids = {}

    def run(self, command, stdin=None, check=True):
        result = subprocess.run([*self.ssh, command], input=stdin, capture_output=True,
                                check=False, timeout=1800)
        if check and result.returncode:
            raise RuntimeError(f"on the router, {command!r} failed: "
                               f"{result.stderr.decode(errors='replace')[-500:]}")
        return result.stdout.decode(errors="replace")

    def start(self, which, page_bytes=0):
        """Start the box or the baseline in the background; returns when it is launched."""
        o = self.options
        settings = dict(ALLOCATOR)
        if which == "box":
            # the address this machine reaches it at: a forwarded port's Host is no phone's
            # typing, and the captive portal would send every request to the box's name
            settings.update(NO_RATE_LIMITS, PIRATEBOX_SITE_URL=o.box_url)
            program = (f"app.py --data {o.data} serve --host 0.0.0.0 --port {o.box_port} "
                       f"--threads {o.threads}")
        else:
            program = (f"scripts/bench_baseline.py {o.baseline_port} {o.threads} "
                       f"{page_bytes} 0.0.0.0")
        assignments = " ".join(f"{name}={value}" for name, value in settings.items())
        command = f"env {assignments} python3 {program}"
        self.pids[which] = self.run(
            f"cd {o.app} && {{ nohup {command} >/dev/null 2>&1 & echo $!; }}").strip()

    def stop(self, which):
        pid = self.pids.pop(which, None)
        if pid:
            self.run(f"kill {pid}; while kill -0 {pid} 2>/dev/null; do sleep 0.2; done",
                     check=False)

    def cpu_seconds(self, which):
        return cpu_seconds(self.run(f"cat /proc/{self.pids[which]}/stat"))

    def rss_mb(self, which):
        status = self.run(f"cat /proc/{self.pids[which]}/status")
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


def get(url, timeout=600):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - ours
        return response.status, response.read()


def wait_for_page(url, deadline=600):
    started = time.perf_counter()
    while time.perf_counter() - started < deadline:
        try:
            return get(url)
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise TimeoutError(url)


def cold_start(router, which, url, page_bytes=0):
    """Seconds from launching the server to its first page (the home page)."""
    started = time.perf_counter()
    router.start(which, page_bytes)
    wait_for_page(url + "/")
    return time.perf_counter() - started


def first_visits(box_url, names):
    """Seconds for each page the first time it is asked for since the server started."""
    seconds = {}
    for label, path, _section, _base in SCENARIOS:
        started = time.perf_counter()
        get(box_url + path.format(**names))
        seconds[label] = time.perf_counter() - started
    return seconds


def interleaved(script, box, base, options, connections):
    """wrk on the box and the baseline in turns, --slices times each: an emulated machine's
    speed drifts with its host's load, and each side gets the same share of it. Each
    request carries the cookie a phone got at its first visit, as in scripts/bench.py."""
    cookie = returning_phone_cookie(port_of(box[0]), box[1])
    totals = {}
    for _ in range(options.slices):
        for which, (url, path) in (("base", base), ("box", box)):
            measured = load_wrk(script, port_of(url), path,
                                max(1, options.seconds // options.slices), connections,
                                cookie)
            total = totals.setdefault(which, {"count": 0, "seconds": 0.0, "p50": []})
            total["count"] += measured["count"]
            total["seconds"] += measured["count"] / measured["rps"] if measured["rps"] else 0
            total["p50"].append(measured["p50"])
    return tuple({"rps": total["count"] / total["seconds"] if total["seconds"] else 0.0,
                  "p50": statistics.median(total["p50"])}
                 for total in (totals["box"], totals["base"]))


def port_of(url):
    return urlsplit(url).port


def spread(values):
    return (f"{statistics.median(values):.2f} (min {min(values):.2f}, "
            f"max {max(values):.2f}, {len(values)} runs)")


def seed_router(router, options):
    """A box seeded here, copied there; the tree's bytecode compiled as an install does."""
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        print(f"seeding {options.items} objects here ...", file=sys.stderr)
        names = seed(data_dir, options.items, min(options.photos, options.items))
        archive = Path(scratch) / "data.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(data_dir, arcname=".")
        print("copying it to the router ...", file=sys.stderr)
        router.run(f"rm -rf {options.data} && mkdir -p {options.data} && "
                   f"tar -xzf - -C {options.data}", stdin=archive.read_bytes())
    router.run(f"python3 -m compileall -q {options.app}")
    return names


def measure(options, figures):
    """Fill `figures` as the measures come (what was measured is reported if one fails)."""
    router = Router(options)
    box_url, base_url = options.box_url.rstrip("/"), options.baseline_url.rstrip("/")
    names = seed_router(router, options)

    print("the first start, and the first visit to each page ...", file=sys.stderr)
    router.run(f"rm -rf {options.data}/cache")  # as after an install: nothing compiled yet
    figures["first_start"] = cold_start(router, "box", box_url)
    page_bytes = len(get(box_url + "/")[1])
    figures["first_visit"].append(first_visits(box_url, names))
    router.stop("box")
    print("cold starts ...", file=sys.stderr)
    for _ in range(options.repeat):
        box_seconds = cold_start(router, "box", box_url)
        router.stop("box")
        base_seconds = cold_start(router, "baseline", base_url, page_bytes)
        router.stop("baseline")
        figures["starts"].append((box_seconds, base_seconds))

    print("one request inside the process ...", file=sys.stderr)
    figures["in_process"] = router.run(
        f"cd {options.app} && python3 scripts/bench_request.py --data {options.data} "
        f"--names {shlex.quote(json.dumps(names))} --repeat 5 --requests 10 "
        f"--after-write 3 --fill 20,20,3")

    print("the first visit to each page after a restart ...", file=sys.stderr)
    cold_start(router, "box", box_url)
    figures["first_visit"].append(first_visits(box_url, names))
    fill(Phone(port_of(box_url), 0, ""), messages=20, files=20, events=3)

    router.start("baseline", page_bytes)
    wait_for_page(base_url + "/")
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "report.lua"
        script.write_text(WRK_REPORT)
        for label, path, section, base_path in SCENARIOS:
            if options.only and label not in options.only:
                continue
            print(f"load {label} ...", file=sys.stderr)
            path = path.format(**names)
            for _ in range(3):  # rendered and kept before it is measured, on both
                get(box_url + path)
                get(base_url + base_path)
            row = {"label": label}
            for connections in (4, 1):
                row[connections] = interleaved(script, (box_url, path), (base_url, base_path),
                                               options, connections)
            if section:
                box_times, base_times = [], []
                for _ in range(options.slices):  # side by side, as for the loads
                    box_times.append(after_a_write(port_of(box_url), path, section, count=3))
                    base_times.append(alone(port_of(base_url), base_path, count=3))
                row["after_write"] = statistics.median(box_times)
                row["base_alone"] = statistics.median(base_times)
            figures["pages"].append(row)

    print(f"the village mix, {options.phones} phones ...", file=sys.stderr)
    for number in range(options.repeat):
        pair = []
        for which, url in (("box", box_url), ("baseline", base_url)):
            print(f"[{number + 1}/{options.repeat}] {which} ...", file=sys.stderr)
            pair.append(run(port_of(url), lambda which=which: router.rss_mb(which),
                            options.phones, options.village_seconds, names["item"],
                            sample_every=10, cpu=lambda which=which: router.cpu_seconds(which)))
        figures["village"].append(pair)
    router.stop("box")
    router.stop("baseline")


def report(options, figures):
    print(f"\nrouter: {options.items} objects, {options.threads} server threads, "
          f"wrk {options.seconds} s a page, {options.repeat} repeats\n")
    if figures["in_process"]:
        print(figures["in_process"])
    starts = figures["starts"]
    if not starts:
        return
    print("| start | box (s) | bare Flask (s) | box / bare Flask |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| first start after an install (templates compiled) | "
          f"{figures['first_start']:.1f} | - | - |")
    for box, base in starts:
        print(f"| restart to the first page | {box:.1f} | {base:.1f} | {box / base:.2f} |")
    print(f"\ncold start box / bare Flask: {spread([box / base for box, base in starts])}\n")

    if len(figures["first_visit"]) < 2:
        return
    print("| page | first visit after the first start (s) | after a restart (s) |")
    print("| --- | ---: | ---: |")
    after_install, after_restart = figures["first_visit"]
    for label, seconds in after_install.items():
        print(f"| {label} | {seconds:.2f} | {after_restart[label]:.2f} |")

    print("\n| page | box req/s (4 conn.) | bare req/s | ratio | box req/s (1 conn.) | bare "
          "req/s | ratio | box p50 ms | after a write ms | bare alone ms | after-a-write "
          "ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in figures["pages"]:
        (box4, base4), (box1, base1) = row[4], row[1]
        after = (f"{row['after_write'] * 1000:.0f} | {row['base_alone'] * 1000:.0f} | "
                 f"{row['base_alone'] / row['after_write']:.2f}" if "after_write" in row
                 else "- | - | -")
        print(f"| {row['label']} | {box4['rps']:.1f} | {base4['rps']:.1f} | "
              f"{box4['rps'] / base4['rps']:.2f} | {box1['rps']:.1f} | {base1['rps']:.1f} | "
              f"{box1['rps'] / base1['rps']:.2f} | {box4['p50']:.0f} | {after} |")

    print("\n| run | server | requests | req/s | server CPU ms a request | 5xx | errors | p50 ms "
          "| p95 ms | RSS at the end (MB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratios, cpu_ratios, rss = [], [], []
    if not figures["village"]:
        return
    for number, (box, base) in enumerate(figures["village"], 1):
        ratios.append(box["rps"] / base["rps"])
        cpu_ratios.append(base["cpu_ms"] / box["cpu_ms"])
        rss.append(box["rss_mb"][-1][1] / base["rss_mb"][-1][1])
        for label, result in (("box", box), ("bare Flask", base)):
            print(f"| {number} | {label} | {result['requests']} | {result['rps']:.1f} | "
                  f"{result['cpu_ms']:.1f} | {result['server_errors']} | {result['errors']} | "
                  f"{result['p50_ms']:.0f} | {result['p95_ms']:.0f} | "
                  f"{result['rss_mb'][-1][1]:.1f} |")
    print(f"\nvillage mix box / bare Flask, req/s: {spread(ratios)}")
    print(f"village mix, CPU a request, bare Flask / box: {spread(cpu_ratios)}")
    print(f"RSS after the village mix, box / bare Flask: {spread(rss)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ssh", required=True, help="how to run a command on the router")
    parser.add_argument("--box-url", required=True, help="the router's --box-port, from here")
    parser.add_argument("--baseline-url", required=True,
                        help="the router's --baseline-port, from here")
    parser.add_argument("--box-port", type=int, default=8080)
    parser.add_argument("--baseline-port", type=int, default=8081)
    parser.add_argument("--app", default="/srv/box", help="the project's tree on the router")
    parser.add_argument("--data", default="/root/bench-data",
                        help="where the seeded box goes on the router (replaced)")
    parser.add_argument("--up", help="a command to run first (start a virtual machine)")
    parser.add_argument("--down", help="a command to run at the end")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4, help="server threads (both)")
    parser.add_argument("--seconds", type=int, default=30, help="wrk, per page and server")
    parser.add_argument("--slices", type=int, default=6,
                        help="each measure in so many turns, box and baseline alternating")
    parser.add_argument("--village-seconds", type=int, default=60)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", metavar="LABEL",
                        help="measure only this page (repeat for more), e.g. --only home")
    options = parser.parse_args()
    if options.up:
        subprocess.run(shlex.split(options.up), check=True)
    figures = {"first_start": None, "in_process": "", "starts": [], "first_visit": [],
               "pages": [], "village": []}
    try:
        measure(options, figures)
    finally:
        if options.down:
            subprocess.run(shlex.split(options.down), check=False)
        report(options, figures)


if __name__ == "__main__":
    main()
