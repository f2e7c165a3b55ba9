#!/usr/bin/env python3
"""What printing costs the server, and the process that draws: memory and time.

Starts the box as deployed (app.py serve, waitress) on a loopback port and asks for the
poster: the first request has it drawn by a child process, the next ones are served from
the data directory. The server's peak resident memory (VmHWM) is read from /proc before
and after. The child's own peak is measured by running the same command the server runs
(`python -m app print ...`) and reading its rusage. The baseline, in the same run, is the
poster drawn the way the server did before: in one process, in RGB, with Pillow's own PDF
writer; its growth is what each poster request added to the server.

    .venv/bin/python scripts/bench_print.py [--labels 200] [--requests 20]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server import Server  # noqa: E402

BASELINE = """
import io, resource, sys
sys.path.insert(0, {root!r})
import app  # the server's imports, as in the server
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from PIL import Image
from piratebox.printing import logic as printing
from piratebox.i18n import Translator
site = {{"box_name": "Saint-Bonnet", "site_url": "http://boite.lan", "wifi_ssid": "CoCoTe",
         "wifi_password": ""}}
printing.PAGE_MODE = "RGB"
page = printing.poster(site, Translator("fr").gettext)
out = io.BytesIO()
page.save(out, "PDF", resolution=printing.DPI)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def child_run(data_dir, *arguments):
    """Run the print command as the server does; (its peak RSS in kB, seconds)."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "app", "--data", str(data_dir),
                                "print", *arguments], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    if status:
        raise RuntimeError(f"print {arguments[0]} failed")
    return usage.ru_maxrss, time.monotonic() - started


def seed_box_items(data_dir, count):
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from piratebox.database import open_existing\n"
            "from piratebox.storage import DataDir\n"
            "from piratebox.box import Actor\n"
            "from piratebox.catalogue import logic\n"
            "from models import db\n"
            f"open_existing(DataDir({str(data_dir)!r}))\n"
            "with db.connection_context():\n"
            f"    for n in range({count}):\n"
            "        logic.create({'kind': 'offer', 'mode': 'give', 'place': 'box', "
            "'category': 'books', 'title': f'Livre numéro {n}'}, [], Actor('box', 1.8e9))\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=200, help="objects on the label sheets")
    parser.add_argument("--requests", type=int, default=20, help="poster requests once drawn")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        subprocess.run([sys.executable, str(ROOT / "app.py"), "--data", str(data_dir), "init",
                        "--name", "Saint-Bonnet"], check=True, capture_output=True)
        seed_box_items(data_dir, args.labels)
        with Server(data_dir) as server:
            for warm_up in ("/", "/print/poster", "/items/"):
                urllib.request.urlopen(server.base + warm_up).read()
            idle = peak_kb(server.process.pid)
            started = time.monotonic()
            urllib.request.urlopen(server.base + "/print/poster.pdf").read()
            drawn_seconds = time.monotonic() - started
            after_drawn = peak_kb(server.process.pid)
            served = []
            for _ in range(args.requests):
                started = time.monotonic()
                urllib.request.urlopen(server.base + "/print/poster.pdf").read()
                served.append(time.monotonic() - started)
            after_served = peak_kb(server.process.pid)
        poster_child = child_run(data_dir, "poster", "--out", str(Path(folder) / "p.pdf"))
        labels_child = child_run(data_dir, "labels", "--out", str(Path(folder) / "l.pdf"))
        baseline = subprocess.run([sys.executable, "-c", BASELINE.format(root=str(ROOT))],
                                  check=True, capture_output=True, text=True, cwd=ROOT)
        base_before, base_after = map(int, baseline.stdout.split())

    mb = 1024
    growth = (after_drawn - idle) / mb
    base_growth = (base_after - base_before) / mb
    print(f"server idle peak RSS: {idle / mb:.1f} MB (after a few pages)\n")
    print("| what | server peak RSS growth (MB) | drawing process peak RSS (MB) | seconds |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| poster, first request (drawn by a child) | {growth:.1f} | "
          f"{poster_child[0] / mb:.1f} | {drawn_seconds:.2f} |")
    print(f"| poster, next {args.requests} requests (from the data directory) | "
          f"{(after_served - after_drawn) / mb:.1f} | - | "
          f"{statistics.median(served) * 1000:.1f} ms median |")
    print(f"| labels, {args.labels} objects ({-(-args.labels // 24)} sheets), child | - | "
          f"{labels_child[0] / mb:.1f} | {labels_child[1]:.2f} |")
    print(f"| baseline: poster drawn in the server's process (RGB, Pillow's PDF) | "
          f"{base_growth:.1f} | - | - |")
    print(f"\nserver growth per poster request / baseline: "
          f"{growth / base_growth if base_growth else 0:.3f}")


if __name__ == "__main__":
    main()
