"""A Saturday in the village hall: many phones at once on a mix of pages and small
uploads, against the real server. Used by `scripts/bench.py --village` (100 phones, 60 s,
figures for docs/benchmarks.md) and by tests/test_load.py (a short run in the suite).

Each phone is a thread with its own cookie jar and CSRF token, doing what a villager does:
mostly reading (home, objects, a search, an object, files, board, agenda, impact), now and
then a board message or a small file. Reported: requests, errors (5xx, refused
connections, timeouts), p50/p95/p99 latency, the server's RSS every few seconds, so
growth after warm-up shows, and, given a way to read it, the server's CPU time a request:
on a router's one core that is what bounds the requests a second, and on a host that
other work shares it moves far less than the requests a second do.
"""

import http.client
import os
import random
import re
import secrets
import statistics
import threading
import time
from urllib.parse import urlencode

READS = ["/", "/items/", "/items/?q=velo", "/items/{item}", "/files/", "/board/",
         "/events/", "/stats/", "/api/v1/items"]

def phone_address(number):
    """A loopback address of its own for phone `number`, as every phone has its own on the
    box's wifi (the server counts connections per address). Linux answers on all of
    127.0.0.0/8."""
    return f"127.0.{1 + number // 250}.{1 + number % 250}"

def percentile(values, share):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1)) / 1024

def cpu_seconds(stat, ticks_a_second=100):
    """The user and system CPU time a process has used, from its /proc/PID/stat text (its
    name, in parentheses, may hold spaces: the fields are counted after it)."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks_a_second

def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return cpu_seconds(stat.read(), os.sysconf("SC_CLK_TCK"))

class Phone:
    def __init__(self, port, number, item_id, host="127.0.0.1"):
        self.host, self.port, self.number, self.item_id = host, port, number, item_id
        self.cookie = ""
        self.token = ""
        self.connection = None
        self.rng = random.Random(number)  # noqa: S311 - a load mix, not a secret
        self.words_posted = 0

    def request(self, method, path, body=None, headers=None):
        if self.connection is None:
            # on loopback each phone has its own address; across a network, the host's
            local = self.host.startswith("127.")
            self.connection = http.client.HTTPConnection(
                self.host, self.port, timeout=30,
                source_address=(phone_address(self.number), 0) if local else None)
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None
            raise
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, data

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def read(self, path):
        status, data = self.request("GET", path)
        found = re.search(rb'name="csrf_token" value="([^"]+)"', data)
        if found:
            self.token = found.group(1).decode()
        return status

    def post_form(self, path, fields):
        body = urlencode({"csrf_token": self.token, **fields})
        status, _ = self.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        return status

    def post_multipart(self, path, fields, file_field="", file_name="", content=b""):
        # a browser draws a new boundary for every form it sends (the box's parser and the
        # bare app's see a boundary they have not seen before, as on a Saturday)
        boundary = f"----VillageFormBoundary{secrets.token_hex(8)}"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n".encode() for name, value in
                 {"csrf_token": self.token, **fields}.items()]
        if file_field:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                         f'filename="{file_name}"\r\n\r\n'.encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        status, _ = self.request("POST", path, body=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        return status

    # One write per section of the box's pages (see piratebox/pagecache.py).
    def write_board(self):
        # new words each time: the same words again within a moment are one message (a
        # second tap), which the box does not write twice
        self.words_posted += 1
        return self.post_form("/board/",
                              {"text": f"Bonjour de {self.number} ({self.words_posted})"})

    def write_files(self):
        content = bytes(self.rng.getrandbits(8) for _ in range(10_000))
        return self.post_multipart("/files/", {}, "files", f"photo-{self.number}.bin", content)

    def write_catalogue(self):
        return self.post_multipart("/items/new", {
            "kind": "offer", "mode": "give", "title": f"Chaise {self.number}",
            "category": "furniture_small", "condition": "good", "place": "home"})

    def write_events(self):
        return self.post_form("/events/new", {"title": f"Café réparation {self.number}",
                                              "kind": "repair_cafe", "day": "2030-05-04",
                                              "start": "14:00"})

    def step(self):
        """One thing a villager does; returns (status, seconds)."""
        roll = self.rng.random()
        started = time.perf_counter()
        if not self.token or roll < 0.90:
            status = self.read(self.rng.choice(READS).format(item=self.item_id))
        elif roll < 0.95:
            status = self.write_board()
        else:
            status = self.write_files()
        return status, time.perf_counter() - started

class InProcessPhone(Phone):
    """A phone that asks the app itself, through its WSGI test client: no server, no
    socket (scripts/bench_request.py fills a box this way)."""

    def __init__(self, app, number=0, item_id=""):
        super().__init__(None, number, item_id)
        self.client = app.test_client()

    def request(self, method, path, body=None, headers=None):
        response = self.client.open(path, method=method, data=body, headers=headers)
        return response.status_code, response.get_data()

def after_a_write(port, path, section, count=20, host="127.0.0.1"):
    """Median seconds of a GET of `path` right after a write to `section` (board, files,
    catalogue, events) by the same phone: the page must be rendered again, once."""
    phone = Phone(port, 0, "", host)
    phone.read("/board/")
    times = []
    try:
        for _ in range(count):
            status = getattr(phone, f"write_{section}")()
            if status >= 400:
                raise RuntimeError(f"the {section} write was refused ({status})")
            started = time.perf_counter()
            phone.request("GET", path)
            times.append(time.perf_counter() - started)
    finally:
        phone.close()
    return statistics.median(times)

def alone(port, path, count=20, host="127.0.0.1"):
    """Median seconds of a GET of `path` by one phone, nobody else asking."""
    phone = Phone(port, 0, "", host)
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            phone.request("GET", path)
            times.append(time.perf_counter() - started)
    finally:
        phone.close()
    return statistics.median(times)

def run(port, memory, phones=100, seconds=60, item_id="", sample_every=5.0, host="127.0.0.1",
        cpu=None):
    """Load the server; returns a dict of figures. `memory()` gives the server's RSS in MB
    (rss_mb of its process id here, or read over ssh on a router), `cpu()` the CPU
    seconds it has used (cpu_of here)."""
    stop = threading.Event()
    lock = threading.Lock()
    latencies, statuses, errors = [], {}, []

    def villager(number):
        phone = Phone(port, number, item_id, host)
        try:
            while not stop.is_set():
                try:
                    status, took = phone.step()
                except (OSError, http.client.HTTPException) as error:
                    with lock:
                        errors.append(type(error).__name__)
                    continue
                with lock:
                    latencies.append(took)
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            phone.close()

    threads = [threading.Thread(target=villager, args=(n,), daemon=True) for n in range(phones)]
    cpu_before = cpu() if cpu else None
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    rss = []
    while time.perf_counter() - started < seconds:
        time.sleep(min(sample_every, seconds))
        rss.append((round(time.perf_counter() - started), memory()))
    stop.set()
    cpu_used = cpu() - cpu_before if cpu else None  # the requests counted are those up to now
    requests = len(latencies)
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - started
    warm = [value for at, value in rss if at >= seconds / 3] or [rss[-1][1]]
    return {
        "phones": phones, "seconds": round(elapsed, 1), "requests": len(latencies),
        "rps": len(latencies) / elapsed, "statuses": dict(sorted(statuses.items())),
        "server_errors": sum(count for status, count in statuses.items() if status >= 500),
        "errors": len(errors), "error_kinds": sorted(set(errors)),
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "rss_mb": rss, "rss_growth_after_warmup_mb": max(warm) - warm[0],
        "cpu_ms": cpu_used * 1000 / requests if cpu and requests else None,
    }
