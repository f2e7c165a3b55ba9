#!/usr/bin/env python3
"""One phone holds 250 slow connections: does another phone still get its pages?

    .venv/bin/python scripts/bench_slow_phones.py               # 45 s of attack, as reported
    .venv/bin/python scripts/bench_slow_phones.py --seconds 20 --connections 500

The attacker, one loopback address, opens 250 connections, sends a request line and then
a header line on each every 20 seconds, never finishing a request, and opens again at the
next line whatever the server closed. A villager, on another address, asks for pages one
after the other on a kept-alive connection, as a phone's browser does (5 s without an
answer counts as a failure). Measured, quiet and under attack, for the box as deployed
(`app.py serve`, its guard at its defaults) and, as the baseline in the same run, for a
bare Flask app on waitress at waitress's defaults (scripts/bench_baseline.py). Figures,
not assertions; docs/benchmarks.md keeps them.
"""

import argparse
import contextlib
import http.client
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server import free_port, wait_until_up  # noqa: E402

PAGES = ["/", "/items/", "/board/", "/events/", "/files/"]
BASELINE_PAGES = ["/"]  # all the bare app has
ATTACKER = "127.0.3.1"
VILLAGER = "127.0.3.2"
TIMEOUT = 5


class Slowloris:
    """One address holding `count` connections, each sending a header line every `every`
    seconds and never finishing its request; what the server closes is opened again at
    the next line. Counts what the server turned away at once (429), what it cut after
    holding it, and the most it held at once (open for more than a second)."""

    def __init__(self, port, count, every, address=ATTACKER):
        self.port, self.count, self.every, self.address = port, count, every, address
        self.selector = selectors.DefaultSelector()
        self.turned_away = self.cut = self.held_most = self.refused = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open(self):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT,
                                            source_address=(self.address, 0))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: boite.lan\r\n")
        except OSError:
            self.refused += 1  # the server does not even accept any more
            return
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, data=time.monotonic())

    def run(self):
        closed = self.count
        next_line = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_line:
                next_line += self.every
                for key in list(self.selector.get_map().values()):
                    with contextlib.suppress(OSError):
                        key.fileobj.send(b"X-Slow: 1\r\n")
                for _ in range(closed):
                    self.open()
                closed = self.count - len(self.selector.get_map())
            for key, _events in self.selector.select(timeout=0.05):
                try:
                    answer = key.fileobj.recv(4096)
                except OSError:
                    answer = b""
                if answer.startswith(b"HTTP/1.1 429"):
                    self.turned_away += 1
                else:
                    self.cut += 1
                self.selector.unregister(key.fileobj)
                key.fileobj.close()
                closed += 1
            held = sum(1 for key in self.selector.get_map().values() if now - key.data > 1)
            self.held_most = max(self.held_most, held)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)


def villager(port, seconds, pages):
    """Pages one after the other for `seconds`: (latencies of answered ones, failures)."""
    latencies, failures = [], 0
    connection = None
    deadline = time.monotonic() + seconds
    number = 0
    while time.monotonic() < deadline:
        path = pages[number % len(pages)]
        number += 1
        started = time.perf_counter()
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT,
                                                        source_address=(VILLAGER, 0))
            connection.request("GET", path, headers={"Host": "boite.lan"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise http.client.HTTPException(response.status)
            latencies.append(time.perf_counter() - started)
        except (OSError, http.client.HTTPException):
            failures += 1
            if connection is not None:
                connection.close()
            connection = None
    if connection is not None:
        connection.close()
    return latencies, failures


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None


def start(command):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=os.environ.copy())
    return process


def measure(label, command, port, pages, args):
    rows = []
    process = start(command)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, timeout=30)
        latencies, failures = villager(port, args.quiet_seconds, pages)
        rows.append((label, "quiet", latencies, failures, None))
        with Slowloris(port, args.connections, args.every) as attack:
            time.sleep(2)  # the attack's connections are all open
            latencies, failures = villager(port, args.seconds, pages)
        rows.append((label, f"{args.connections} slow connections", latencies, failures, attack))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return rows


def ms(value):
    return "-" if value is None else f"{value * 1000:.0f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=45, help="attack length")
    parser.add_argument("--quiet-seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=250)
    parser.add_argument("--every", type=float, default=20, help="seconds between lines")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        subprocess.run([sys.executable, str(ROOT / "app.py"), "--data", str(data), "init",
                        "--name", "Bench", "--demo"], check=True, stdout=subprocess.DEVNULL)
        box_port, base_port = free_port(), free_port()
        rows = measure("box", [sys.executable, str(ROOT / "app.py"), "--data", str(data),
                               "serve", "--port", str(box_port)], box_port, PAGES, args)
        rows += measure("bare waitress", [sys.executable, str(ROOT / "scripts" /
                                                              "bench_baseline.py"),
                                          str(base_port), "4", "9000"], base_port,
                        BASELINE_PAGES, args)

    print(f"villager {VILLAGER} asks {len(PAGES)} pages in turn (the baseline: its one "
          f"page); attacker {ATTACKER}: "
          f"{args.connections} connections, a header line every {args.every:g} s; "
          f"a request unanswered after {TIMEOUT} s fails\n")
    print("| server | while | requests | answered | failed | p50 ms | p95 ms | max ms "
          "| attacker turned away | cut | held at most | not accepted |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, phase, latencies, failures, attack in rows:
        figures = (f"{attack.turned_away} | {attack.cut} | {attack.held_most} | "
                   f"{attack.refused}") if attack else "- | - | - | -"
        print(f"| {label} | {phase} | {len(latencies) + failures} | {len(latencies)} | "
              f"{failures} | {ms(statistics.median(latencies) if latencies else None)} | "
              f"{ms(percentile(latencies, 0.95))} | {ms(max(latencies, default=None))} | "
              f"{figures} |")
    box_quiet, box_attacked = rows[0][2], rows[1][2]
    if box_quiet and box_attacked:
        print(f"\nbox p95 under attack / quiet: "
              f"{percentile(box_attacked, 0.95) / percentile(box_quiet, 0.95):.2f}")
    print(f"answered under attack: box {answered_share(rows[1]):.0%}, "
          f"bare waitress {answered_share(rows[3]):.0%}")
    return 0


def answered_share(row):
    _label, _phase, latencies, failures, _attack = row
    return len(latencies) / max(1, len(latencies) + failures)


if __name__ == "__main__":
    sys.exit(main())
