#!/usr/bin/env python3
"""Benchmark the box as deployed against a bare Flask app on waitress, in the same run.

    .venv/bin/python scripts/bench.py                 # default scenario set
    .venv/bin/python scripts/bench.py --requests 2000 --concurrency 4
    .venv/bin/python scripts/bench.py --village       # many phones on a mix of pages and posts

For each URL: requests per second and latency (p50, p95) for the box and for the
baseline, and the ratio ("warm": the page as most visitors get it, a phone back with the
cookie its first visit gave it; --first-visit: every request without a cookie). Then
"after a write": one phone writes to what the page shows (a new object, a word on the
board, a file, an event) and asks for the page at once, which must be rendered again; the
ratio is the baseline's time for its page to that. Then the RSS of both servers after the
load and their cold start (process start to first answered request), both servers under
the allocator settings of the Raspberry Pi's service (deploy/raspberrypi/piratebox.env).
Times are not assertions: the ratio against a baseline measured on the same machine in the
same run is what to compare. Feature issues add their URLs to SCENARIOS and their seeding to seed().
"""

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from village_load import Phone, after_a_write, alone, cpu_of, run  # noqa: E402 - beside this script

from tests.server import free_port, wait_until_up  # noqa: E402

# (label, path on the box, the section a write changes before "after a write", path on the
# baseline); "{item}" is a seeded offer's id, "{request}" a request's with answers
SCENARIOS = [
    ("home", "/", "catalogue", "/"),
    ("catalogue", "/items/", "catalogue", "/"),
    ("search", "/items/?q=etagere+chene", "catalogue", "/"),
    ("item page", "/items/{item}", "catalogue", "/"),
    ("request page", "/items/{request}", "catalogue", "/"),
    ("files", "/files/", "files", "/"),
    ("board", "/board/", "board", "/"),
    ("agenda", "/events/", "events", "/"),
    ("impact", "/stats/", "catalogue", "/"),
    ("API list", "/api/v1/items", "catalogue", "/"),
    ("healthz", "/healthz", None, "/healthz"),
]
SEED_ITEMS = 10_000
SEED_PHOTOS = 2_000

WORDS = (
    "étagère", "chêne", "vélo", "enfant", "perceuse", "livre", "manteau", "table", "chaise",
    "lampe", "jouet", "casserole", "tondeuse", "robe", "pull", "bouilloire", "écran",
    "clavier", "poussette", "tente",
)


# A village's give box in its own words: a few hundred, drawn with a Zipf-like frequency
# (the k-th word 1/k as often as the first), as `seed(..., vocabulary="village")` does.
# "étagère" and "chêne", the searched words, are neither the commonest nor the rarest.
VILLAGE_TEXT = """
de la le et pour en bon état un une avec très petit grand enfant table chaise vélo
livre lot taille bois noir blanc rouge bleu vert gris jouet manteau robe pull pantalon
chaussures jeu lampe étagère cuisine jardin outil ancien neuf fonctionne complet
meuble chêne pin verre métal plastique casserole poêle assiette bol tasse verres
couverts four micro-ondes cafetière bouilloire grille-pain mixeur aspirateur fer
radiateur ventilateur télévision écran ordinateur clavier souris imprimante câble
chargeur téléphone radio enceinte disque vinyle cassette dvd bande dessinée roman
poche dictionnaire atlas puzzle poupée peluche voiture train lego ballon raquette
trottinette patins casque sac à dos valise panier carton boîte pot vase cadre miroir
tableau tapis rideau coussin couette drap oreiller matelas lit berceau poussette
siège auto chaise haute parc tricycle luge skis bâtons bottes gants bonnet écharpe
veste blouson imperméable chemise jupe short maillot pyjama chaussettes sandales
baskets tondeuse râteau pelle pioche arrosoir tuyau brouette sécateur scie perceuse
marteau tournevis clé visseuse ponceuse échelle escabeau établi étau niveau mètre
pinceau rouleau peinture vernis colle planche tasseau contreplaqué parquet carrelage
fenêtre porte volet poignée serrure tente sac couchage réchaud glacière lanterne
canne pêche épuisette vélo-cargo remorque sacoche pompe chambre à air pneu selle
guidon cadenas antivol piano guitare violon flûte harmonica partition pupitre ampli
micro machine coudre tissu laine fil aiguille bouton fermeture patron tricot crochet
bocal confiture graines plants semis compost terreau pots bulbes rosier fraisier
pommier courge potiron citrouille courgette tomates haricots pommes de terre oignons
ail salade légumes fruits miel œufs fromage pain gâteau recette livre-cuisine
"""
VILLAGE_WORDS = tuple(dict.fromkeys(VILLAGE_TEXT.split()))
ZIPF_WEIGHTS = [1 / rank for rank in range(1, len(VILLAGE_WORDS) + 1)]


def seed(data_dir, items=SEED_ITEMS, with_photos=SEED_PHOTOS, vocabulary="bench"):
    """A village after a busy year: `items` objects, `with_photos` of them with a real photo.
    `vocabulary`: "bench" draws their text from 20 words, each in about half the objects;
    "village" from VILLAGE_WORDS, as a real give box's would be."""
    import random

    def words(rng, count):
        if vocabulary == "village":
            return rng.choices(VILLAGE_WORDS, ZIPF_WEIGHTS, k=count)
        return rng.sample(WORDS, count) if count <= 3 else rng.choices(WORDS, k=count)

    subprocess.run([sys.executable, str(ROOT / "app.py"), "--data", str(data_dir), "init",
                    "--name", "Bench"], check=True, stdout=subprocess.DEVNULL)
    from models import db
    from piratebox.blobs import BlobStore
    from piratebox.box import Actor, identity
    from piratebox.catalogue import logic
    from piratebox.catalogue.categories import OBJECT_CATEGORIES
    from piratebox.database import open_existing
    from piratebox.storage import DataDir

    folder = DataDir(data_dir)
    open_existing(folder)
    rng = random.Random(42)  # noqa: S311 - repeatable sample data, not a secret
    first_id = None
    year_ago = time.time() - 365 * 24 * 3600
    with db.connection_context(), db.atomic():
        actor = Actor(identity()["id"], year_ago, BlobStore(folder))
        for number in range(items):
            actor.now = year_ago + number * (365 * 24 * 3600 / items)
            title = " ".join(words(rng, 3)).capitalize()
            photo = [bench_jpeg(number)] if number < with_photos else []
            item, _token = logic.create({
                "kind": rng.choice(("offer",) * 4 + ("request",)),
                "mode": rng.choice(("give", "lend", "swap")), "title": title,
                "description": " ".join(words(rng, 12)),
                "category": rng.choice(OBJECT_CATEGORIES).code, "condition": "good",
                "place": rng.choice(("box", "home", "elsewhere")), "place_detail": "",
                "pseudonym": "", "contact": "", "network": False, "answers": None,
            }, photo, actor)
            first_id = first_id or item.id
            if number % 1000 == 999:
                print(f"  {number + 1} items", file=sys.stderr)
        # as a box that lived through the year: what was not renewed has expired
        actor.now = time.time()
        logic.expire_due(actor)
        wanted, _token = logic.create({
            "kind": "request", "mode": "give", "title": "Une poussette", "description": "",
            "category": rng.choice(OBJECT_CATEGORIES).code, "condition": "", "place": "home",
            "place_detail": "", "pseudonym": "", "contact": "", "network": False,
            "answers": None}, [], actor)
        for number in range(5):
            logic.create({
                "kind": "offer", "mode": "give", "title": f"Poussette {number}",
                "description": "", "category": wanted.category, "condition": "good",
                "place": "home", "place_detail": "", "pseudonym": "", "contact": "",
                "network": False, "answers": wanted.id}, [], actor)
    return {"item": first_id, "request": wanted.id}


def fill(phone, messages=40, files=60, events=5):
    """What a village's board, file share and agenda hold, posted by `phone`: a Phone
    through the real server, or an InProcessPhone through the app itself."""
    phone.read("/board/")
    for write, count in (("board", messages), ("files", files), ("events", events)):
        for _ in range(count):
            status = getattr(phone, f"write_{write}")()
            if status >= 400:
                raise RuntimeError(f"seeding the {write} was refused: {status}")
    phone.close()


def bench_jpeg(number):
    """A different real photo each time (so each is stored), the size of a phone's."""
    import io

    from PIL import Image

    image = Image.new("RGB", (1600, 1200), ((number * 7) % 256, (number * 13) % 256, 90))
    image.paste((number % 256, 40, 200), (100, 100, 900, 700))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def deployed_allocator():
    """The allocator settings a Raspberry Pi's service runs the box with (the MALLOC_ lines
    of deploy/raspberrypi/piratebox.env). Both servers get them, the box and the baseline
    alike: their memory is compared under the same allocator."""
    found = {}
    for line in (ROOT / "deploy/raspberrypi/piratebox.env").read_text().splitlines():
        if line.startswith("MALLOC_"):
            name, _, value = line.partition("=")
            found[name] = value.strip()
    return found


ALLOCATOR = deployed_allocator()


def start(command, env=None):
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **ALLOCATOR, **(env or {})})
    return process, started


def cold_start(process, started, port):
    wait_until_up(f"http://127.0.0.1:{port}/healthz", process, timeout=30)
    return time.perf_counter() - started


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _worker(args):
    port, path, count = args
    latencies, errors = [], 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        begin = time.perf_counter()
        try:
            connection.request("GET", path, headers={"Host": "127.0.0.1"})
            response = connection.getresponse()
            response.read()
            if response.status >= 400:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - begin)
    connection.close()
    return latencies, errors


def load(pool, port, path, requests, concurrency):
    share = [requests // concurrency] * concurrency
    begin = time.perf_counter()
    results = pool.map(_worker, [(port, path, n) for n in share])
    elapsed = time.perf_counter() - begin
    latencies = sorted(x for lat, _e in results for x in lat)
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(len(latencies) * 0.95)] * 1000,
        "errors": sum(e for _l, e in results),
        "count": len(latencies),
    }


WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %d %d %f %f\\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"""


def load_wrk(script, port, path, seconds, concurrency, cookie=""):
    """wrk, a load generator in C: on two cores it leaves the server most of the CPU."""
    output = subprocess.run(
        ["wrk", f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{seconds}s", "-s", script,
         *(["-H", f"Cookie: {cookie}"] if cookie else []), f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    requests, duration_us, errors, p50, p95 = re.search(
        r"BENCH (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", output).groups()
    return {"rps": int(requests) / (int(duration_us) / 1e6), "p50": float(p50),
            "p95": float(p95), "errors": int(errors), "count": int(requests)}


def single_client_median(port, path, count=200):
    """How long one phone waits for this page when nobody else is asking (ms, median)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(count):
        begin = time.perf_counter()
        connection.request("GET", path, headers={"Host": "127.0.0.1"})
        connection.getresponse().read()
        times.append(time.perf_counter() - begin)
    connection.close()
    return statistics.median(times) * 1000


def returning_phone_cookie(port, path):
    """The cookie a phone holds after its first visit to `path` (its CSRF token in it):
    what it sends with every later request."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path, headers={"Host": "127.0.0.1"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return (response.getheader("Set-Cookie") or "").split(";", 1)[0]


def page_size(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path, headers={"Host": "127.0.0.1"})
    return len(connection.getresponse().read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="per URL")
    parser.add_argument("--concurrency", type=int, default=4, help="client connections")
    parser.add_argument("--threads", type=int, default=4, help="server threads (both)")
    parser.add_argument("--seconds", type=int, default=15, help="per URL, with wrk")
    parser.add_argument("--only", action="append", metavar="LABEL",
                        help="measure only this scenario (repeat for more), e.g. --only home")
    parser.add_argument("--items", type=int, default=SEED_ITEMS)
    parser.add_argument("--photos", type=int, default=SEED_PHOTOS)
    parser.add_argument("--loader", choices=("wrk", "python"),
                        default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--first-visit", action="store_true",
                        help="wrk sends no cookie: every request is a phone's first visit "
                             "(by default, a phone back with the cookie it was given)")
    parser.add_argument("--village", action="store_true",
                        help="instead: many phones at once on a mix of pages and uploads")
    parser.add_argument("--phones", type=int, default=100, help="with --village")
    parser.add_argument("--repeat", type=int, default=3,
                        help="with --village: box then baseline, this many times")
    options = parser.parse_args()
    # the box starts as an installed one does, its bytecode compiled (scripts/run, deploy/):
    # where Python may not write it (PYTHONDONTWRITEBYTECODE, a read-only tree) the box
    # compiled its modules at every start, 2 MB more in its heap and a later first page
    subprocess.run([sys.executable, "-m", "compileall", "-q", "app.py", "models.py",
                    "piratebox", "scripts"], cwd=ROOT, check=True)
    if options.village:
        village(options)
        return

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        print(f"seeding {options.items} items ...", file=sys.stderr)
        seeded_at = time.perf_counter()
        names = seed(data_dir, options.items, min(options.photos, options.items))
        print(f"  seeded in {time.perf_counter() - seeded_at:.0f} s", file=sys.stderr)

        box_port, base_port = free_port(), free_port()
        box, box_started = start([sys.executable, str(ROOT / "app.py"), "--data",
                                  str(data_dir), "serve", "--port", str(box_port),
                                  "--threads", str(options.threads)], env=NO_RATE_LIMITS)
        box_cold = cold_start(box, box_started, box_port)
        fill(Phone(box_port, 0, ""))
        size = page_size(box_port, "/")
        base, base_started = start([sys.executable, str(ROOT / "scripts/bench_baseline.py"),
                                    str(base_port), str(options.threads), str(size)])
        base_cold = cold_start(base, base_started, base_port)

        script = Path(scratch) / "report.lua"
        script.write_text(WRK_REPORT)
        rows = []
        try:
            with multiprocessing.Pool(options.concurrency) as pool:
                for label, box_path, section, base_path in SCENARIOS:
                    if options.only and label not in options.only:
                        continue
                    if "{" in box_path and options.items == 0:
                        continue  # an empty box has no object's page
                    box_path = box_path.format(**names)
                    print(f"load {label} ...", file=sys.stderr)
                    if options.loader == "wrk":
                        cookie = ("" if options.first_visit
                                  else returning_phone_cookie(box_port, box_path))
                        measured_base, measured_box = (
                            load_wrk(script, port, path, options.seconds, options.concurrency,
                                     cookie)
                            for port, path in ((base_port, base_path), (box_port, box_path)))
                    else:
                        measured_base, measured_box = (
                            load(pool, port, path, options.requests, options.concurrency)
                            for port, path in ((base_port, base_path), (box_port, box_path)))
                    measured_box["alone"] = single_client_median(box_port, box_path)
                    if section:
                        measured_box["after_write"] = after_a_write(box_port, box_path, section)
                        measured_base["alone"] = alone(base_port, base_path)
                    rows.append((label, measured_box, measured_base))
            box_rss, base_rss = rss_mb(box.pid), rss_mb(base.pid)
        finally:
            for process in (box, base):
                process.terminate()
                process.wait(timeout=10)
        steps = memory_steps(data_dir, names, options.threads)

    report(options, rows, box_rss, base_rss, box_cold, base_cold)
    print("\n| first request to (fresh server, in this order) | RSS after (MB) | growth (MB) |")
    print("| --- | ---: | ---: |")
    for label, after, growth in steps:
        print(f"| {label} | {after:.1f} | {growth:+.1f} |")


# What each page (and the printables) adds to a fresh server's memory, in this order.
MEMORY_STEPS = [(label, path) for label, path, _section, _base in SCENARIOS] + [
    ("the poster, PDF", "/print/poster.pdf"), ("the wifi QR code, PNG", "/qr/wifi.png")]


def memory_steps(data_dir, names, threads):
    port = free_port()
    box, started = start([sys.executable, str(ROOT / "app.py"), "--data", str(data_dir),
                          "serve", "--port", str(port), "--threads", str(threads)])
    cold_start(box, started, port)
    steps, before = [], rss_mb(box.pid)
    try:
        steps.append(("(started)", before, 0.0))
        for label, path in MEMORY_STEPS:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.request("GET", path.format(**names))
            connection.getresponse().read()
            connection.close()
            after = rss_mb(box.pid)
            steps.append((label, after, after - before))
            before = after
    finally:
        box.terminate()
        box.wait(timeout=10)
    return steps


# A benchmark writes far more than a phone may in an hour, and on a router reached through
# a forwarded port every one of its phones comes from the same address.
NO_RATE_LIMITS = {f"PIRATEBOX_{name}": "1000000" for name in (
    "POSTS_PER_HOUR", "MESSAGES_PER_HOUR", "FILES_PER_HOUR", "CHANGES_PER_HOUR",
    "CLAIMS_PER_HOUR", "CONNECTIONS_PER_ADDRESS")}
# the same, for an app made in the benchmark's own process
NO_RATE_LIMITS_CONFIG = {name.removeprefix("PIRATEBOX_"): int(value)
                         for name, value in NO_RATE_LIMITS.items()}


def village(options):
    """A Saturday in the village hall (scripts/village_load.py): the box, then the bare
    Flask baseline under the same phones, `--repeat` times, each run on a fresh copy."""
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        seeded = Path(scratch) / "seeded"
        print(f"seeding {options.items} items ...", file=sys.stderr)
        names = seed(seeded, options.items, min(options.photos, options.items))
        for number in range(options.repeat):
            data_dir = Path(scratch) / f"run-{number}"
            shutil.copytree(seeded, data_dir)
            port, base_port = free_port(), free_port()
            box, _started = start([sys.executable, str(ROOT / "app.py"), "--data",
                                   str(data_dir), "serve", "--port", str(port), "--threads",
                                   str(options.threads)], env=NO_RATE_LIMITS)
            wait_until_up(f"http://127.0.0.1:{port}/healthz", box)
            size = page_size(port, "/")
            base, _started = start([sys.executable, str(ROOT / "scripts/bench_baseline.py"),
                                    str(base_port), str(options.threads), str(size)])
            wait_until_up(f"http://127.0.0.1:{base_port}/healthz", base)
            try:
                pair = []
                for label, server, server_port in (("box", box, port),
                                                    ("baseline", base, base_port)):
                    print(f"[{number + 1}/{options.repeat}] {options.phones} phones on the "
                          f"{label} for {options.seconds} s ...", file=sys.stderr)
                    pid = server.pid
                    pair.append(run(server_port, lambda pid=pid: rss_mb(pid), options.phones,
                                    options.seconds, names["item"],
                                    cpu=lambda pid=pid: cpu_of(pid)))
                results.append(pair)
            finally:
                for process in (box, base):
                    process.terminate()
                    process.wait(timeout=10)
    village_report(options, results)


def village_report(options, results):
    print(f"\n{options.phones} phones, {options.seconds} s a run, {options.threads} server "
          f"threads, {os.cpu_count()} CPUs, {options.items} objects\n")
    print("| run | server | requests | req/s | ratio | server CPU ms a request | CPU ratio "
          "| 5xx | connection errors | p50 ms | p95 ms | p99 ms | RSS at the end (MB) "
          "| RSS ratio | RSS growth after warm-up (MB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| ---: | ---: | ---: |")
    ratios, cpu_ratios, rss_ratios = [], [], []
    for number, (box, base) in enumerate(results, 1):
        ratio, rss_ratio = box["rps"] / base["rps"], box["rss_mb"][-1][1] / base["rss_mb"][-1][1]
        cpu_ratio = base["cpu_ms"] / box["cpu_ms"]  # the bare app's CPU a request to the box's
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        rss_ratios.append(rss_ratio)
        for label, figures in (("box", box), ("bare Flask", base)):
            mine = label == "box"
            print(f"| {number} | {label} | {figures['requests']} | {figures['rps']:.0f} | "
                  f"{f'{ratio:.2f}' if mine else ''} | {figures['cpu_ms']:.2f} | "
                  f"{f'{cpu_ratio:.2f}' if mine else ''} | {figures['server_errors']} | "
                  f"{figures['errors']} | {figures['p50_ms']:.0f} | {figures['p95_ms']:.0f} | "
                  f"{figures['p99_ms']:.0f} | {figures['rss_mb'][-1][1]:.1f} | "
                  f"{f'{rss_ratio:.2f}' if mine else ''} | "
                  f"{figures['rss_growth_after_warmup_mb']:.1f} |")
    print(f"\nbox / bare Flask, req/s: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}); CPU a request, bare Flask / box: "
          f"median {statistics.median(cpu_ratios):.2f} (min {min(cpu_ratios):.2f}, "
          f"max {max(cpu_ratios):.2f}); RSS: median {statistics.median(rss_ratios):.2f}")
    print(f"box statuses (last run) {results[-1][0]['statuses']}")


def report(options, rows, box_rss, base_rss, box_cold, base_cold):
    print(f"\nloader {options.loader}, {options.concurrency} connections, "
          f"{options.threads} server threads, {os.cpu_count()} CPUs, "
          f"{'first visits' if options.first_visit else 'phones back with their cookie'}\n")
    print("| URL | box req/s | baseline req/s | warm ratio | box p50 ms | box p95 ms "
          "| baseline p50 ms | box alone p50 ms | after a write ms | baseline alone ms "
          "| after-a-write ratio | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, mbox, mbase in rows:
        after = (f"{mbox['after_write'] * 1000:.1f} | {mbase['alone'] * 1000:.1f} | "
                 f"{mbase['alone'] / mbox['after_write']:.2f}" if "after_write" in mbox
                 else "- | - | -")
        print(f"| {label} | {mbox['rps']:.0f} | {mbase['rps']:.0f} | "
              f"{mbox['rps'] / mbase['rps']:.2f} | {mbox['p50']:.1f} | {mbox['p95']:.1f} | "
              f"{mbase['p50']:.1f} | {mbox['alone']:.1f} | {after} | "
              f"{mbox['errors'] + mbase['errors']} |")
    print("\n| server | RSS after load (MB) | cold start (s) |")
    print("| --- | ---: | ---: |")
    print(f"| box | {box_rss:.1f} | {box_cold:.2f} |")
    print(f"| bare Flask baseline | {base_rss:.1f} | {base_cold:.2f} |")
    print(f"| ratio box / baseline | {box_rss / base_rss:.2f} | {box_cold / base_cold:.2f} |")


if __name__ == "__main__":
    main()
