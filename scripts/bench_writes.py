#!/usr/bin/env python3
"""What one write of the village mix costs inside the process: a word on the board and a
small upload to the file share, posted by phones back with their cookie, to the box's app
and to the bare Flask baseline (which parses the same body and redirects), called through
WSGI in turns: no server, no network, no other thread.

    .venv/bin/python scripts/bench_writes.py
    .venv/bin/python scripts/bench_writes.py --profile upload

For each write: microseconds a request for the box and for the baseline, and their ratio,
in wall time and in CPU time (the disk's waits left out), each the fastest of --repeat
rounds taken in turns (as scripts/bench_request.py does for pages). A box's write is the
whole of it: the body parsed, the CSRF token and the rate limits checked, the upload
spooled, hashed and flushed, the room on the disk looked at, the record committed
(synchronous=FULL), the page cache told, the redirect and the cookie answered. Each phone
then follows the redirect, untimed, as a browser does (the page takes the flashed message
out of the session, which would grow otherwise). The phones (--phones) each have their
own address and session, as on the wifi; the rate limits are raised as scripts/bench.py
raises them, since one round posts more than a phone may in an hour (they are still
looked up at every post). The bare app decodes its forms with Werkzeug's own decoder,
as in a process of its own (the box's app has Werkzeug's parser use piratebox/multipart.py's
in the whole process). --profile LABEL prints where that write's time goes (cProfile), to
find what to cut.
"""

import argparse
import contextlib
import cProfile
import io
import itertools
import os
import pstats
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import NO_RATE_LIMITS_CONFIG, seed  # noqa: E402
from bench_baseline import create_app as create_baseline  # noqa: E402
from bench_request import PHONE  # noqa: E402

UPLOAD_BYTES = 10_000  # the village's small upload (scripts/village_load.py)


class Phone:
    """A phone on the wifi: its own address, and the cookie and token its visit gave it,
    kept as each answer changes them (an upload adds the file to the phone's session)."""

    def __init__(self, app, number):
        from werkzeug.test import EnvironBuilder

        self.app = app
        self.address = f"10.3.{number // 250}.{1 + number % 250}"
        self.cookie = ""
        self.profiler = None
        answer = app.test_client().get("/board/", headers=PHONE,
                                       environ_base={"REMOTE_ADDR": self.address})
        self.take_cookie(answer.headers.get("Set-Cookie"))
        # what a server hands the app; only the body and its headers change from post to post
        self.environ = EnvironBuilder(path="/", method="POST", headers=PHONE, environ_base={
            "REMOTE_ADDR": self.address}).get_environ()
        found = re.search(rb'name="csrf_token" value="([^"]+)"', answer.data)
        self.token = found.group(1).decode() if found else "baseline"

    def take_cookie(self, header):
        if header:
            self.cookie = header.split(";", 1)[0]

    def post(self, path, content_type, body):
        """One POST through WSGI, as a server would make it; returns its (wall, CPU)
        seconds, and fails loudly unless it is answered with a redirect, as a write that
        was kept is. The redirect is then followed, untimed, as a browser does: the page
        it leads to takes the flashed message out of the session again."""
        environ = {**self.environ, "PATH_INFO": path, "CONTENT_TYPE": content_type,
                   "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        if self.profiler:
            self.profiler.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        status, location = self.call(environ)
        took = time.perf_counter() - started, time.process_time() - cpu_started
        if self.profiler:
            self.profiler.disable()
        if not status.startswith("30"):
            raise RuntimeError(f"POST {path}: {status}")
        self.call({**self.environ, "REQUEST_METHOD": "GET", "CONTENT_LENGTH": "0",
                   "PATH_INFO": urlsplit(location).path, "wsgi.input": io.BytesIO()})
        return took

    def call(self, environ):
        """(status, Location) of one request, the phone's cookie sent and kept."""
        answered = {"location": ""}

        def start_response(status, response_headers, exc_info=None):
            answered["status"] = status
            for name, value in response_headers:
                if name.lower() == "set-cookie":
                    self.take_cookie(value)
                elif name.lower() == "location":
                    answered["location"] = value

        for _chunk in self.app({**environ, "HTTP_COOKIE": self.cookie}, start_response):
            pass
        return answered["status"], answered["location"]

    def write_board(self, number):
        # new words each time: the same words within a moment are one message (a second
        # tap), which the box does not write again
        body = f"csrf_token={self.token}&text=Bonjour+de+{number}+({next(WORDS_POSTED)})".encode()
        return self.post("/board/", "application/x-www-form-urlencoded", body)

    def write_upload(self, number):
        content = os.urandom(UPLOAD_BYTES)  # a new file each time, so each is stored
        # a browser draws a new boundary for every form it sends
        boundary = f"----WebKitFormBoundary{secrets.token_urlsafe(12)}"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f'{self.token}\r\n--{boundary}\r\nContent-Disposition: form-data; '
                f'name="files"; filename="photo-{number}.bin"\r\n\r\n').encode() \
            + content + f"\r\n--{boundary}--\r\n".encode()
        return self.post("/files/", f"multipart/form-data; boundary={boundary}", body)


WORDS_POSTED = itertools.count()
WRITES = {"board": ("/board/", Phone.write_board), "upload": ("/files/", Phone.write_upload)}


def per_request_us(phones, write, count):
    """(wall, CPU) microseconds a post: the wall time waits for the disk too (fsync), the
    CPU time is what the other phones' requests wait for under load (the disk's waits
    leave the interpreter to the other threads)."""
    wall = cpu = 0.0
    for number in range(count):
        took = write(phones[number % len(phones)], number)
        wall, cpu = wall + took[0], cpu + took[1]
    return wall / count * 1e6, cpu / count * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--phones", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100, help="per round and write")
    parser.add_argument("--repeat", type=int, default=10, help="rounds, box and baseline in turns")
    parser.add_argument("--profile", choices=WRITES, help="print where this write's time goes")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        print(f"seeding {options.items} items ...", file=sys.stderr)
        seed(data_dir, options.items, min(options.photos, options.items))
        from app import create_app

        box = create_app({"DATA_DIR": str(data_dir), **NO_RATE_LIMITS_CONFIG})
        page_bytes = len(box.test_client().get("/", headers=PHONE).data)
        baseline = create_baseline(page_bytes)
        box_phones = [Phone(box, number) for number in range(options.phones)]
        base_phones = [Phone(baseline, number) for number in range(options.phones)]
        rows = []
        for label, (_path, write) in WRITES.items():
            write(box_phones[0], 0), write(base_phones[0], 0)  # every import done
            if options.profile == label:
                profile(box_phones, write, options.requests)
            rounds = []
            for _ in range(options.repeat):
                box_round = per_request_us(box_phones, write, options.requests)
                with werkzeugs_own_decoder():
                    rounds.append((box_round,
                                   per_request_us(base_phones, write, options.requests)))
            rows.append((label, *(min(figures[side][kind] for figures in rounds)
                                  for kind in (0, 1) for side in (0, 1))))

    print(f"\nin-process, the fastest of {options.repeat} rounds of {options.requests} "
          f"posts a write, {options.phones} phones back with their cookie\n")
    print("| write | box µs/request | baseline µs/request | ratio | box CPU µs | baseline CPU µs "
          "| CPU ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, box_us, base_us, box_cpu, base_cpu in rows:
        print(f"| {label} | {box_us:.0f} | {base_us:.0f} | {base_us / box_us:.2f} | "
              f"{box_cpu:.0f} | {base_cpu:.0f} | {base_cpu / box_cpu:.2f} |")


@contextlib.contextmanager
def werkzeugs_own_decoder():
    """The bare app parses forms as it does in a process of its own: the box's app, made
    in this one, has Werkzeug's form parser decode with piratebox.multipart's decoder."""
    from werkzeug import formparser
    from werkzeug.sansio import multipart

    box_decoder, formparser.MultipartDecoder = formparser.MultipartDecoder, \
        multipart.MultipartDecoder
    try:
        yield
    finally:
        formparser.MultipartDecoder = box_decoder


def profile(phones, write, count):
    """Where the posts' own time goes (the redirects followed are left out)."""
    profiler = cProfile.Profile()
    for phone in phones:
        phone.profiler = profiler
    per_request_us(phones, write, count)
    for phone in phones:
        phone.profiler = None
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
    print(out.getvalue(), file=sys.stderr)


if __name__ == "__main__":
    main()
