"""One phone in wifi range tries to take the box down, fill it or silence others; someone
brings a hostile backup stick. Each attack runs against the real server (waitress on
loopback, real sockets, each phone on its own loopback address, a small real filesystem
where the disk matters) or the real CLI, and prints the attack's figures and the
legitimate phone's. docs/security.md lists the limits these check."""

import contextlib
import json
import math
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import app as application
from models import Event, Item, Message, Report, SharedFile, db
from piratebox import box, moderation
from piratebox.blobs import BlobStore
from piratebox.board import logic as board
from piratebox.box import Actor
from piratebox.catalogue import logic as catalogue
from piratebox.events import logic as events
from piratebox.files import logic as files_logic
from piratebox.initiatives import logic as initiatives
from piratebox.storage import DataDir
from tests.conftest import TEST_CONFIG, small_filesystem
from tests.images import jpeg
from tests.server import ROOT, Server, load_script
from tests.test_files_server import BOUNDARY, MB, Phone, multipart, pattern
from tests.test_sync import ITEM, ok, opened, run

pytestmark = pytest.mark.slow

HEADER_SECONDS = 2  # the server's deadline in these tests, to keep them short
FAST = {"PIRATEBOX_REQUEST_HEADER_SECONDS": str(HEADER_SECONDS),
        "PIRATEBOX_PASSWORD_HASH_ROUNDS": "1000"}
village_load = load_script("village_load")
slow_phones = load_script("bench_slow_phones")
ATTACKER = village_load.phone_address(200)
VILLAGER = village_load.phone_address(1)
PAGES = ["/", "/items/", "/board/", "/files/"]


@pytest.fixture
def say(capsys):
    """Print a line of figures in the test run's output, captured or not."""
    def show(title, **figures):
        line = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in figures.items())
        with capsys.disabled():
            print(f"\n    [{title}] {line}", end="")
    return show


def browse(phone, count):
    """A villager reading pages: (statuses, seconds of each)."""
    statuses, seconds = [], []
    for number in range(count):
        started = time.perf_counter()
        response, _body = phone.request("GET", PAGES[number % len(PAGES)])
        seconds.append(time.perf_counter() - started)
        statuses.append(response.status)
    return statuses, seconds


def browse_or_give_up(phone, count):
    """browse(), with a phone's patience: a page unanswered in `phone.timeout` is a failure
    (None), as a browser shows its own error page."""
    statuses, seconds = [], []
    for number in range(count):
        started = time.perf_counter()
        try:
            response, _body = phone.request("GET", PAGES[number % len(PAGES)])
            statuses.append(response.status)
        except OSError:
            statuses.append(None)
        seconds.append(time.perf_counter() - started)
    return statuses, seconds


def latency(seconds):
    ordered = sorted(seconds)
    return (f"p50 {ordered[len(ordered) // 2] * 1000:.0f} ms, "
            f"p95 {ordered[int(0.95 * (len(ordered) - 1))] * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms")


def raw_request(port, head, address=ATTACKER, body=b""):
    """Send a request's head (and maybe the start of a body) and read the answer the
    server gives before the body: (status, page)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(address, 0)) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer_length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


def answer_length(answer):
    head, _, _body = answer.partition(b"\r\n\r\n")
    found = re.search(rb"Content-Length: (\d+)", head)
    return len(head) + 4 + int(found.group(1)) if found else 1 << 40


# --- 1. connections --------------------------------------------------------------------------

def test_one_address_holding_250_slow_connections_denies_no_other_phone(data_dir, say):
    with Server(data_dir.path, env=FAST) as server:
        with slow_phones.Slowloris(server.port, 250, 0.5, address=ATTACKER) as attack:
            phone = Phone(server.port, address=VILLAGER)
            statuses, seconds = browse(phone, 40)
            wait_until(lambda: attack.cut > 0, 5 * HEADER_SECONDS)
        say("attacker", connections_tried=250, turned_away_with_429=attack.turned_away,
            held_at_most=attack.held_most, cut_by_the_header_deadline=attack.cut)
        say("villager", requests=len(statuses), ok=statuses.count(200), latency=latency(seconds))
    assert statuses == [200] * 40
    assert attack.turned_away >= 250 - 16 and attack.held_most <= 16
    assert attack.cut >= 1


def test_a_trickled_body_is_cut(data_dir, say):
    with Server(data_dir.path, env=FAST) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10,
                                        source_address=(ATTACKER, 0))
        sock.sendall(b"POST /board/ HTTP/1.1\r\nHost: boite.lan\r\nContent-Length: 60000\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
        started, sent = time.monotonic(), 0
        sock.settimeout(0.25)
        while True:  # 40 bytes a second, where the server asks for 2 KB
            try:
                sock.send(b"a" * 10)
                sent += 10
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        held = time.monotonic() - started
        sock.close()
        statuses, seconds = browse(Phone(server.port, address=VILLAGER), 8)
    say("attacker", body_bytes_sent=sent, connection_cut_after=f"{held:.1f} s")
    say("villager", requests=len(statuses), ok=statuses.count(200), latency=latency(seconds))
    assert held < 3 * HEADER_SECONDS and statuses == [200] * 8


# --- 2. the disk -----------------------------------------------------------------------------

class Alongside:
    """Something the test does in a thread of its own (run) for as long as its `with`."""

    def __init__(self):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class FreeSpace(Alongside):
    """The least free space seen on a filesystem while it is watched."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.least = shutil.disk_usage(path).free

    def run(self):
        while not self.stop.wait(0.002):
            self.least = min(self.least, shutil.disk_usage(self.path).free)


def upload_head(length, path="/files/", extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: boite.lan\r\nContent-Length: {length}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{extra}")


def test_the_reserve_holds_before_the_first_byte_is_buffered(tmp_path, say):
    reserve = 32 * MB
    with small_filesystem(tmp_path / "small", "160m") as small:
        data_dir = DataDir(small / "data")
        box.create(data_dir, role="box", name="Saint-Bonnet")
        env = {**FAST, "PIRATEBOX_FILES_RESERVE_MB": "32", "PIRATEBOX_FILES_RESERVE_PERCENT": "0"}
        with Server(data_dir.path, env=env) as server:
            room = shutil.disk_usage(small).free - reserve
            with FreeSpace(small) as watched:
                board = raw_request(server.port, "POST /board/ HTTP/1.1\r\nHost: boite.lan\r\n"
                                    "Content-Length: 3500000000\r\n"
                                    "Content-Type: application/x-www-form-urlencoded\r\n")
                too_big = raw_request(server.port, upload_head(room // 2 + MB))
                chunked = send_chunked_until_answered(server.port)
            after_attacks = watched.least
            # the same phone cannot hold more than two large bodies at once
            first = open_body(server.port, upload_head(5 * MB))
            second = open_body(server.port, upload_head(5 * MB))
            third = raw_request(server.port, upload_head(5 * MB))
            first.close()
            second.close()
            # a villager's upload needs twice its size while it travels
            size = 20 * MB
            phone = Phone(server.port, address=VILLAGER)
            before = shutil.disk_usage(small).free
            with FreeSpace(small) as watched:
                uploaded, _page = phone.upload([("film.bin", pattern(size))])
            peak = before - watched.least
            # the body's temporary copy goes once the answer is sent
            freed = wait_until(lambda: shutil.disk_usage(small).free >= before - size - MB)
            room_now = shutil.disk_usage(small).free - reserve
            too_large_for_now, _page = phone.upload([("film.bin",
                                                      pattern(room_now // 2 + 2 * MB))])
            statuses, seconds = browse(phone, 8)
    say("attacker", board_post_of_3_5_GB=board[0], upload_over_half_the_room=too_big[0],
        chunked_upload=f"{chunked[0]} after {chunked[1] // MB} MB",
        third_large_body_at_once=third[0],
        least_free_during_the_attacks=f"{after_attacks // MB} MB (reserve {reserve // MB} MB)")
    say("villager", upload_of_20_MB=uploaded.status, disk_used_at_peak=f"{peak / MB:.1f} MB",
        ratio=f"{peak / size:.2f}", then_one_too_large_for_the_room=too_large_for_now.status,
        pages_ok=statuses.count(200), latency=latency(seconds))
    assert board[0] == 413 and "64 Ko au plus" in board[1]
    assert too_big[0] == 507 and "presque pleine" in too_big[1]
    assert chunked[0] == 507
    assert after_attacks > reserve
    assert third[0] == 507
    assert uploaded.status == 303 and peak <= 2 * size + 2 * MB and freed
    assert too_large_for_now.status == 507
    assert statuses == [200] * 8


def test_an_upload_over_the_rate_limit_is_refused_before_its_body(data_dir, say):
    with Server(data_dir.path, env={**FAST, "PIRATEBOX_FILES_PER_HOUR": "1"}) as server:
        first, _page = Phone(server.port, address=VILLAGER).upload([("a.txt", b"a")])
        status, page = raw_request(server.port, upload_head(50 * MB), address=VILLAGER)
    say("one phone", first_upload=first.status, second_upload_of_50_MB_at_its_headers=status)
    assert first.status == 303 and status == 429 and "minutes" in page


def wait_until(condition, seconds=10):
    """Poll what another process does until it is true (or the time is up): True if so."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def send_chunked_until_answered(port):
    """A chunked upload that never ends, until the server answers: (status, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                    source_address=(ATTACKER, 0))
    sock.sendall(f"POST /files/ HTTP/1.1\r\nHost: boite.lan\r\nTransfer-Encoding: chunked\r\n"
                 f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n".encode())
    chunk = f"{MB:x}\r\n".encode() + b"z" * MB + b"\r\n"
    sent = 0
    sock.settimeout(0)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if b"\r\n\r\n" in answer:
                break
            sock.settimeout(10)
            sock.sendall(chunk)
            sock.settimeout(0)
            sent += MB
    finally:
        sock.close()
    return int(answer.split(b" ", 2)[1]), sent


def open_body(port, head):
    """A large body announced and started, then left waiting."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                    source_address=(ATTACKER, 0))
    sock.sendall(head.encode("latin-1") + b"\r\n" + b"-" * 1000)
    return sock


# --- 3. reports ------------------------------------------------------------------------------

def add(data_dir, title):
    with opened(data_dir):
        me = box.identity()
        item, _token = catalogue.create({**ITEM, "title": title}, [],
                                        Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir)))
        return item.id


def report_item(phone, item_id):
    _response, page = phone.request("GET", f"/items/{item_id}")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    response, _body = phone.request(
        "POST", f"/items/{item_id}/report", body=f"csrf_token={token}&reason=pas+bien",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    return response.status


def phones_reporting(data_dir, item_id):
    with opened(data_dir):
        return moderation.phones(list(moderation.open_reports(item_id)))


def test_one_phone_cannot_hide_anything_alone(data_dir, say):
    target = add(data_dir, "Vélo")
    others = [add(data_dir, f"Objet {number}") for number in range(21)]
    # phones the box knows (the next test: phones it has just met)
    with Server(data_dir.path, env={**FAST, "PIRATEBOX_REPORTER_SEEN_HOURS": "0"}) as server:
        port = server.port
        phone = Phone(port, address=ATTACKER)
        same_again = [report_item(phone, target) for _ in range(3)]
        no_cookie = report_item(Phone(port, address=ATTACKER), target)
        moved = Phone(port, address=village_load.phone_address(201))
        moved.cookies = dict(phone.cookies)  # a new address, the same cookie
        new_address = report_item(moved, target)
        counted_alone = phones_reporting(data_dir, target)
        still_shown = Phone(port, address=VILLAGER).request("GET", f"/items/{target}")[0]
        for number in (2, 3):
            report_item(Phone(port, address=village_load.phone_address(number)), target)
        hidden = Phone(port, address=VILLAGER).request("GET", f"/items/{target}")[0]
        spree = Phone(port, address=village_load.phone_address(4))
        statuses = [report_item(spree, item_id) for item_id in others[:20]]
        one_more = report_item(spree, others[20])
    say("attacker", reports_sent=5, counted=counted_alone, object_still_shown=still_shown.status)
    say("three villagers", object_after_their_reports=hidden.status)
    say("one phone's spree", reports=len(statuses) + 1, refused=[*statuses, one_more].count(429))
    assert same_again == [302] * 3 and no_cookie == new_address == 302
    assert counted_alone == 1 and still_shown.status == 200
    assert hidden.status == 404
    assert statuses == [302] * 20 and one_more == 429


def test_a_report_counts_once_per_phone_whatever_the_order(data_dir):
    """Reports that share an address or a cookie, directly or through others, are one
    phone's: a report counts only with an address and a cookie never seen on the record's
    open reports, and the record hides when three phones have reported it, counting only
    the phones one of whose reports came while the box knew them."""
    item_id = add(data_dir, "Lampe")

    @settings(max_examples=80, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from("vwxyz"),
                              st.booleans()), max_size=12))
    def check(reports):
        with opened(data_dir):
            Report.delete().execute()
            Item.update(hidden=False).where(Item.id == item_id).execute()
            actor = Actor(box.identity()["id"], 1_790_000_000.0)
            groups, ever_three = [], False  # each phone: the addresses and cookies it used
            known = set()  # the phones' addresses and cookies reported while known
            for address, cookie, seen_before in reports:
                fresh = not any(address in group or cookie in group for group in groups)
                assert moderation.report(
                    Item.get_by_id(item_id), "item", "", actor, 3,
                    moderation.Reporter(address, cookie, known=seen_before)) == fresh
                joined = [group for group in groups if address in group or cookie in group]
                groups = [group for group in groups if group not in joined]
                groups.append(set().union({address, cookie}, *joined))
                if seen_before:
                    known |= {address, cookie}
                ever_three = ever_three or sum(bool(group & known) for group in groups) >= 3
            assert Report.select().count() == len(reports)
            assert Item.get_by_id(item_id).hidden == ever_three

    check()


# --- 4. multipart ----------------------------------------------------------------------------

def open_files(pid):
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def test_many_parts_are_refused_before_they_take_every_file_handle(data_dir, say):
    parts = [(f"part-{number}.txt", b"0123456789") for number in range(999)]
    fields = "&".join(f"field{number}=x" for number in range(999))
    with Server(data_dir.path, env=FAST, open_files=256) as server:
        pid, port = server.process.pid, server.port
        peak, stop = [open_files(pid)], threading.Event()

        def watch():
            while not stop.wait(0.002):
                peak.append(open_files(pid))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        answers = [None] * 3

        def attack(number):
            phone = Phone(port, address=village_load.phone_address(210 + number))
            answers[number] = phone.upload(parts)

        attackers = [threading.Thread(target=attack, args=(n,)) for n in range(3)]
        for thread in attackers:
            thread.start()
        for thread in attackers:
            thread.join()
        attacker = Phone(port, address=ATTACKER)
        attacker.csrf()
        many_fields = attacker.request(
            "POST", "/board/", body=f"csrf_token=x&{fields}",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        stop.set()
        watcher.join()
        phone = Phone(port, address=VILLAGER)
        uploaded, _page = phone.upload([("affiche.pdf", b"%PDF-1.4"), ("plan.txt", b"plan")])
        statuses, seconds = browse(phone, 8)
    log = server.output[1]
    say("server", said=log[log.find("only 256"):].splitlines()[0])
    say("attacker", uploads_of_999_files_at_once=3,
        answers=[response.status for response, _page in answers],
        server_open_files_at_most=f"{max(peak)} (limit 256)",
        form_of_999_fields=many_fields[0].status)
    say("villager", upload=uploaded.status, pages_ok=statuses.count(200), latency=latency(seconds))
    for response, page in answers:
        assert response.status == 413
        assert "trop de champs ou de fichiers" in page.decode() and "<main" in page.decode()
    assert many_fields[0].status == 413 and "trop de champs" in many_fields[1].decode()
    assert max(peak) < 128 and "taking 24 connections at once, not 200" in log
    assert uploaded.status == 303 and statuses == [200] * 8


# --- 5. a hostile backup stick ---------------------------------------------------------------

@pytest.fixture
def backed_up(tmp_path, stick):
    """A box with a photo, backed up on the stick; and another box's database."""
    village = DataDir(tmp_path / "village")
    box.create(village, role="box", name="Saint-Bonnet")
    with opened(village):
        me = box.identity()
        catalogue.create({**ITEM, "title": "Vélo"}, [jpeg()],
                         Actor(me["id"], 1_790_000_000.0, BlobStore(village)))
    ok(village, "backup", "--to", str(stick))
    other = DataDir(tmp_path / "other")
    box.create(other, role="box", name="Marols")
    other_stick = tmp_path / "other-stick"
    other_stick.mkdir()
    ok(other, "backup", "--to", str(other_stick))
    [other_database] = other_stick.glob("cocote-backup/*/database-*.db")
    [folder] = (stick / "cocote-backup").iterdir()
    return folder, other_database


def edit_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def swap_database(folder, other_database, link):
    """Put another box's database where the backup's is, its hash and size in the manifest
    (what someone rewriting the stick would do), as a file or as a link."""
    manifest = json.loads((folder / "manifest.json").read_text())
    target = folder / manifest["database"]
    target.unlink()
    if link:
        target.symlink_to(other_database)
    else:
        shutil.copy(other_database, target)
    from piratebox.backup.logic import digest_of

    entry = next(e for e in manifest["files"] if e["path"] == manifest["database"])
    entry.update(sha256=digest_of(other_database), size=other_database.stat().st_size)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def link_blob_folder(folder, other_database):
    outside = other_database.parent / "elsewhere"
    blob_folder = next((folder / "blobs").iterdir())
    shutil.copytree(blob_folder, outside)
    shutil.rmtree(blob_folder)
    blob_folder.symlink_to(outside)


STICK_ATTACKS = {
    "an absolute path": lambda f, o: edit_manifest(
        f, lambda m: m["files"].append({"path": "/etc/passwd", "sha256": "0" * 64, "size": 1})),
    "a path out of the folder": lambda f, o: edit_manifest(
        f, lambda m: m["files"][0].update(path="../../../.bashrc")),
    "a size that is text": lambda f, o: edit_manifest(
        f, lambda m: m["blobs"][0].update(size="12")),
    "files that is not a list": lambda f, o: edit_manifest(f, lambda m: m.update(files="x")),
    "a blob that is a number": lambda f, o: edit_manifest(f, lambda m: m["blobs"].append(3)),
    "a hash that is a number": lambda f, o: edit_manifest(
        f, lambda m: m["blobs"][0].update(sha256=5)),
    "a version that is not one": lambda f, o: edit_manifest(
        f, lambda m: m.update(version="x.y")),
    "a box that is text": lambda f, o: edit_manifest(f, lambda m: m.update(box="Marols")),
    "the database a link": lambda f, o: swap_database(f, o, link=True),
    "a blob folder a link": link_blob_folder,
    "another box's database": lambda f, o: swap_database(f, o, link=False),
}


@pytest.mark.parametrize("attack", sorted(STICK_ATTACKS))
def test_a_hostile_backup_stick_is_refused_in_one_sentence(backed_up, stick, tmp_path, say,
                                                           attack):
    folder, other_database = backed_up
    STICK_ATTACKS[attack](folder, other_database)
    fresh = DataDir(tmp_path / "fresh")
    result = run(fresh, "restore", "--from", str(stick))
    say("stick", attack=attack, exit_code=result.exit_code, said=result.output.strip())
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    said = result.output.strip().splitlines()[-1]  # after the progress lines
    assert said.startswith("Error: ") and "Nothing was restored" in said
    assert "Traceback" not in result.output
    assert not fresh.path.exists()


def test_restore_names_the_box_it_restored(backed_up, stick, tmp_path):
    folder, _other = backed_up
    edit_manifest(folder, lambda m: m["box"].update(name="Un autre nom"))
    fresh = DataDir(tmp_path / "fresh")
    output = ok(fresh, "restore", "--from", str(stick))
    assert "Restored Saint-Bonnet" in output and "Un autre nom" not in output


# --- 7. login --------------------------------------------------------------------------------

def login(phone, password):
    """(status, page, Retry-After in seconds or None) of a login attempt from `phone`."""
    _response, page = phone.request("GET", "/admin/")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    response, page = phone.request(
        "POST", "/admin/login", body=f"csrf_token={token}&password={password}",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    wait = response.headers.get("Retry-After")
    return response.status, page.decode(), wait and int(wait)


def test_guessing_from_many_addresses_slows_down_but_the_mediator_gets_in(data_dir, say):
    with opened(data_dir):
        box.set_password("village-secret", 1000)
    with Server(data_dir.path, env=FAST) as server:
        port = server.port
        mediator = Phone(port, address=village_load.phone_address(2))
        assert login(mediator, "village-secret")[0] == 302
        mediator.request("POST", "/admin/logout", body=f"csrf_token={mediator.csrf()}",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        # as the tester did: four addresses, five wrong passwords each
        four = [login(Phone(port, address=village_load.phone_address(100 + n // 5)),
                      f"guess-{n:04d}")[0] for n in range(20)]
        new_phone = Phone(port, address=village_load.phone_address(3))
        status, refusal, wait = login(new_phone, "village-secret")
        time.sleep(wait)  # what the page asks the mediator to wait, no more
        after_the_wait = login(new_phone, "village-secret")[0]
        # then forty more addresses, as fast as they can
        started = time.monotonic()
        forty = [login(Phone(port, address=village_load.phone_address(110 + n)),
                       f"guess-{n:04d}") for n in range(40)]
        seconds = time.monotonic() - started
        longest = max(answer[2] or 0 for answer in forty)
        known_phone = login(mediator, "village-secret")[0]
        subprocess.run([sys.executable, str(ROOT / "app.py"), "--data", str(data_dir.path),
                        "set-password", "--password-stdin"], input="nouveau-secret\n",
                       text=True, check=True, capture_output=True,
                       env={**os.environ, "PIRATEBOX_PASSWORD_HASH_ROUNDS": "1000"})
        after_console = login(Phone(port, address=village_load.phone_address(4)),
                              "nouveau-secret")[0]
    checked = [answer[0] for answer in forty].count(401)
    say("attacker", four_addresses_five_each=f"{four.count(401)} checked",
        then_forty_addresses=f"{checked} checked, {len(forty) - checked} refused before "
        f"checking in {seconds:.1f} s, the longest wait asked {longest} s")
    say("mediator", new_phone_first=f"{status}, asked to wait {wait} s",
        after_waiting=after_the_wait, from_the_phone_used_before=known_phone,
        from_a_new_phone_after_set_password_on_the_box=after_console)
    assert four == [401] * 20
    assert status == 429 and wait <= 2 and "piratebox set-password" in refusal
    assert after_the_wait == 302
    # one checked after a second, the next after two more, four more...: in T seconds,
    # at most 1 + log2(1 + T), however many addresses ask
    assert checked <= 1 + math.log2(1 + seconds) and longest <= 300
    assert known_phone == 302 and after_console == 302


# --- 8. nothing hidden or deleted shows ------------------------------------------------------

SECRET = "SECRET"


@pytest.fixture
def withheld(data_dir):
    """One of everything a visitor must not see, each with SECRET in its text."""
    with opened(data_dir):
        me = box.identity()
        actor = Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir))
        ids = {}
        hidden, _token = catalogue.create({**ITEM, "title": f"{SECRET} caché"},
                                          [jpeg(color=(1, 2, 3))], actor)
        moderation.decide(hidden, "hide", actor)
        deleted, _token = catalogue.create({**ITEM, "title": f"{SECRET} effacé"},
                                           [jpeg(color=(4, 5, 6))], actor)
        moderation.decide(deleted, "delete", actor)
        request, _token = catalogue.create({**ITEM, "kind": "request",
                                            "title": f"{SECRET} demande"}, [], actor)
        moderation.decide(request, "hide", actor)
        ids["item_id"] = [hidden.id, deleted.id, request.id]
        ids["digest"] = [photo[size] for item in (hidden, deleted)
                         for photo in Item.get_by_id(item.id).photo_list()
                         for size in ("full", "thumb")]
        message = board.post({"text": f"{SECRET} message", "pseudonym": SECRET}, actor)
        moderation.decide(message, "hide", actor)
        gone = board.post({"text": f"{SECRET} parti", "pseudonym": ""}, actor)
        moderation.decide(gone, "delete", actor)
        ids["message_id"] = [message.id, gone.id]
        digest = actor.blobs.put_bytes(b"secret file", "file", actor.now)
        shared = SharedFile(name=f"{SECRET}.txt", blob=digest, size=11, hidden=True)
        shared.save_change(me["id"], actor.now)
        ids["file_id"] = [shared.id]
        proposed = events.create({"title": f"{SECRET} fête", "kind": "other",
                                  "starts_at": 1_790_500_000.0, "ends_at": None,
                                  "place": SECRET, "description": SECRET,
                                  "proposed_by": SECRET}, actor, published=False)
        ids["event_id"] = [proposed.id]
        mapped = initiatives.save({"name": f"{SECRET} AMAP", "kind": "amap", "theme": "food",
                                   "commune": SECRET, "contact": SECRET}, actor)
        actor.delete(mapped)
        ids["initiative_id"] = [mapped.id]
        assert Message.select().where(Message.deleted | Message.hidden).count() == 2
        assert Event.select().count() == 1
    return ids


def every_public_address(app, ids):
    """Every GET address of the box, with each withheld id where the address takes one."""
    filler = {"filename": ["x.txt"], "path": ["x"], "which": ["wifi", "site"],
              "code": ["fr"], "tally_id": ["t" * 26], **ids}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        combinations = [{}]
        for argument in rule.arguments:
            combinations = [{**done, argument: value} for done in combinations
                            for value in filler[argument]]
        for values in combinations:
            yield app.url_map.bind("boite.lan").build(rule.endpoint, values)
    for item_id in ids["item_id"]:
        yield f"/items/new?answers={item_id}"
    for words in ("cache", "efface", "demande"):  # what the withheld titles say besides
        yield f"/items/?q={words}&status=all"
        yield f"/api/v1/items?q={words}&status=all"
    yield "/files/?q=txt"


def test_nothing_hidden_or_deleted_shows_on_any_page(data_dir, withheld, say):
    app = application.create_app({"DATA_DIR": str(data_dir.path), **TEST_CONFIG})
    addresses = sorted(set(every_public_address(app, withheld)))
    leaks, statuses = [], {}
    with Server(data_dir.path, env=FAST) as server:
        phone = Phone(server.port, address=VILLAGER)
        for address in addresses:
            response, body = phone.request("GET", address)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if SECRET.encode() in body or response.status >= 500:
                leaks.append((address, response.status))
        photos = [phone.request("GET", f"/photos/{digest}.jpg")[0].status
                  for digest in withheld["digest"]]
    say("visitor", addresses_tried=len(addresses), statuses=statuses, leaks=len(leaks),
        photos_of_hidden_or_deleted_objects=photos)
    assert not leaks, leaks
    assert photos == [404] * len(photos)


def test_a_photo_also_on_a_shown_object_stays_shown(data_dir, withheld, client):
    photo = jpeg(color=(1, 2, 3))  # the hidden object's photo, posted again
    with opened(data_dir):
        me = box.identity()
        shown, _token = catalogue.create({**ITEM, "title": "Vélo"}, [photo],
                                         Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir)))
        digest = Item.get_by_id(shown.id).photo_list()[0]["full"]
    assert digest in withheld["digest"]
    response = client.get(f"/photos/{digest}.jpg")
    response.close()
    assert response.status_code == 200


def test_an_answer_to_a_hidden_request_answers_nothing(data_dir, withheld, client):
    from tests.conftest import post_from_page

    hidden_request = withheld["item_id"][2]
    response = post_from_page(client, "/items/new", "/items/new", {
        **{k: v for k, v in ITEM.items() if k != "network"}, "title": "Lampe",
        "answers": hidden_request})
    assert response.status_code == 302
    with db.connection_context():
        assert Item.get(Item.title == "Lampe").answers is None


def test_the_upload_form_parts_are_counted_before_they_are_spooled(make_app, data_dir):
    """The same limits without the server: the test client, any WSGI server."""
    client = make_app().test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/files/").get_data(as_text=True)).group(1)
    body, length = multipart({"csrf_token": token},
                             [(f"{n}.txt", b"x") for n in range(25)])
    response = client.post("/files/", data=b"".join(body), content_length=length,
                           content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 413 and "20 fichiers au plus" in response.get_data(
        as_text=True)
    assert not [p for p in data_dir.tmp.rglob("upload-*")]
    with db.connection_context():
        assert SharedFile.select().count() == 0
    response = client.post("/board/", data="&".join(f"f{n}=x" for n in range(100)),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


def test_the_server_refuses_a_bundle_from_anyone_but_the_mediator(data_dir):
    with Server(data_dir.path, env=FAST) as server:
        status, page = raw_request(server.port, upload_head(500 * MB, "/admin/sync/upload"))
        quiet, _page = raw_request(server.port, "GET / HTTP/1.1\r\nHost: boite.lan\r\n",
                                   address=VILLAGER)
    assert status == 403 and "médiateur" in page and quiet == 200


def test_http_1_0_and_expect_continue_are_refused_cleanly(data_dir):
    with Server(data_dir.path, env=FAST) as server:
        old, _page = raw_request(server.port, "POST /board/ HTTP/1.0\r\nContent-Length: 99999\r\n")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10,
                                      source_address=(ATTACKER, 0)) as sock:
            sock.sendall(b"POST /board/ HTTP/1.1\r\nHost: boite.lan\r\nExpect: 100-continue\r\n"
                         b"Content-Length: 99999\r\n\r\n")
            first = sock.recv(12)
    assert old == 413 and first == b"HTTP/1.1 413"  # no "100 Continue" for a refused body


# --- 9. what a second attacker found: readers that do not read, the disk through answers,
# --- a trickled upload, connections from many addresses ------------------------------------

def server_sockets(pid):
    """How many sockets the server process holds open."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def never_reading(port, requests, address=ATTACKER):
    """A connection that sends `requests` at once (pipelined) and never reads an answer,
    with a receive buffer as small as the kernel allows."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"".join(f"GET {path} HTTP/1.1\r\nHost: boite.lan\r\n{extra}\r\n".encode()
                          for path, extra in requests))
    return sock


def noisy_jpeg(width=1600, height=1200):
    """A phone's photo: detail everywhere, so that it stays large once re-encoded."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((width, height), 40).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def shared_file(data_dir, size, name="film.bin"):
    """A file of `size` bytes in the box's file share: its download address."""
    with opened(data_dir):
        me = box.identity()
        actor = Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir))
        digest = actor.blobs.put_bytes(b"".join(pattern(size)[1]()), "file", actor.now)
        record = SharedFile(name=name, blob=digest, size=size)
        actor.save(record)
        return f"/files/{record.id}/{name}"


def test_a_phone_that_never_reads_its_answers_holds_no_worker_thread(data_dir, say):
    with opened(data_dir):
        me = box.identity()
        item, _token = catalogue.create({**ITEM, "title": "Vélo"}, [noisy_jpeg()],
                                        Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir)))
        photo = Item.get_by_id(item.id).photo_list()[0]["full"]
        photo_size = BlobStore(data_dir).path(photo).stat().st_size
    film = shared_file(data_dir, 40 * MB)
    with Server(data_dir.path, env=FAST) as server:  # 4 worker threads
        pid, port = server.process.pid, server.port
        phone = Phone(port, address=VILLAGER)
        browse(phone, 4)
        quiet = server_sockets(pid)
        started = time.monotonic()
        attack = [never_reading(port, [(f"/photos/{photo}.jpg", "")] * 60) for _ in range(4)]
        attack += [never_reading(port, [(film, "")] * 2) for _ in range(4)]
        statuses, seconds = browse(phone, 12)
        cut = wait_until(lambda: server_sockets(pid) <= quiet, 10 * HEADER_SECONDS)
        held = time.monotonic() - started
        for sock in attack:
            sock.close()
    say("attacker", connections=8, pipelined=f"60 photos of {photo_size // 1024} KB, or two "
        "40 MB files, each", read=0, all_cut_after=f"{held:.1f} s" if cut else "never")
    say("villager", requests=len(statuses), ok=statuses.count(200), latency=latency(seconds))
    assert statuses == [200] * 12
    assert cut and held < 5 * HEADER_SECONDS


def vm_kb(pid, field):
    """A figure of /proc/<pid>/status in KB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def test_answers_never_fill_the_disk_through_the_servers_buffers(tmp_path, say):
    with small_filesystem(tmp_path / "small", "160m") as small:
        data_dir = DataDir(small / "data")
        box.create(data_dir, role="box", name="Saint-Bonnet")
        film = shared_file(data_dir, 20 * MB)
        env = {**FAST, "PIRATEBOX_FILES_RESERVE_MB": "32", "PIRATEBOX_FILES_RESERVE_PERCENT": "0"}
        with Server(data_dir.path, env=env) as server:
            pid, port = server.process.pid, server.port
            phone = Phone(port, address=VILLAGER)
            browse(phone, 4)
            rss_before = vm_kb(pid, "VmRSS")
            before = shutil.disk_usage(small).free
            near_16_mb = "Range: bytes=0-16777000\r\n"
            with FreeSpace(small) as watched:
                attack = [never_reading(port, [(film, near_16_mb)], address=address)
                          for address in (ATTACKER, village_load.phone_address(201))
                          for _ in range(16)]
                statuses, seconds = browse(phone, 8)
                rss_during = vm_kb(pid, "VmRSS")
                uploaded, _page = phone.upload([("plan.pdf", b"%PDF-1.4" + b"x" * MB)])
                for sock in attack:
                    sock.close()
            used = before - watched.least
            # a range is what it says, read from the file itself
            whole = b"".join(pattern(20 * MB)[1]())
            response, body = phone.request("GET", film, headers={"Range": "bytes=1000-2999999"})
    say("attacker", addresses=2, connections=len(attack),
        each_asked="a range of nearly 16 MB, read nothing",
        disk_used_meanwhile=f"{used / MB:.1f} MB (the villager's upload of 1 MB included)",
        server_memory_grew=f"{(rss_during - rss_before) / 1024:.1f} MB")
    say("villager", pages_ok=statuses.count(200), latency=latency(seconds),
        upload=uploaded.status)
    assert statuses == [200] * 8 and uploaded.status == 303
    # 32 answers of nearly 16 MB each: buffered, they would take 500 MB; what the server
    # grows by otherwise (threads busy, pages rendered) reached 23 MB on a loaded machine
    assert used < 4 * MB and rss_during - rss_before < 40 * 1024
    assert response.status == 206 and body == whole[1000:3000000]
    assert response.headers["Content-Range"] == f"bytes 1000-2999999/{20 * MB}"


def form_post(phone, path, page, **fields):
    """Post `fields` as the form of `page` would, with its CSRF token: (status, page)."""
    from urllib.parse import urlencode

    _response, html = phone.request("GET", page)
    token = re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()
    response, body = phone.request("POST", path, body=urlencode({"csrf_token": token,
                                                                 **fields}),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    return response.status, body.decode()


def stats_figures(phone):
    _response, body = phone.request("GET", "/api/v1/stats")
    return json.loads(body)


def test_one_phone_cannot_claim_every_object_or_inflate_the_figures(data_dir, say):
    with opened(data_dir):
        me = box.identity()
        actor = Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir))
        in_the_box = [catalogue.create({**ITEM, "place": "box", "title": f"Livre {n}"}, [],
                                       actor)[0].id for n in range(2)]
        at_home = [catalogue.create({**ITEM, "title": f"Chaise {n}"}, [], actor)[0].id
                   for n in range(4)]
        drill, owner_token = catalogue.create({**ITEM, "mode": "lend", "title": "Perceuse"},
                                              [], actor)
    film = shared_file(data_dir, 100_000)

    def database_size():  # its pages, those still in the write-ahead log included
        import sqlite3

        connection = sqlite3.connect(data_dir.database)
        try:
            return connection.execute("PRAGMA page_count").fetchone()[0] * \
                connection.execute("PRAGMA page_size").fetchone()[0]
        finally:
            connection.close()
    with Server(data_dir.path, env=FAST) as server:
        port = server.port
        thief = Phone(port, address=ATTACKER)
        claims = [form_post(thief, f"/items/{item_id}/take", f"/items/{item_id}")[0]
                  for item_id in in_the_box]
        claims += [form_post(thief, f"/items/{item_id}/reserve", f"/items/{item_id}",
                             pseudonym="Faux nom")[0] for item_id in at_home]
        owner = Phone(port, address=village_load.phone_address(202))
        owner.request("GET", f"/items/{drill.id}/manage?token={owner_token}")
        before, size_before = stats_figures(owner), database_size()
        manage = f"/items/{drill.id}/manage"
        loop = []
        for _ in range(62):
            loop.append(form_post(owner, f"{manage}/lend", manage, lent_to="Moi",
                                  lent_until="2030-01-01")[0])
            loop.append(form_post(owner, f"{manage}/return", manage)[0])
        after, size_after = stats_figures(owner), database_size()
        downloader = Phone(port, address=village_load.phone_address(203))
        for _ in range(300):
            downloader.request("GET", film, headers={"Range": "bytes=0-0"})
        Phone(port, address=VILLAGER).request("GET", film)
        with opened(data_dir):
            downloads = files_logic.downloads_of(film.split("/")[2])
    say("thief", posts=len(claims), done=claims.count(302), refused=claims.count(429))
    say("owner", lend_and_return=f"{len(loop)} posts, {loop.count(302)} done, "
        f"{loop.count(429)} refused", exchanges=f"{before['exchanges']} -> {after['exchanges']}",
        returned=f"{before['returned']} -> {after['returned']}",
        database_grew=f"{(size_after - size_before) / 1024:.0f} KB")
    say("downloads", range_0_0_asked=300, then_another_phone=1, counted=downloads)
    assert claims == [302] * 3 + [429] * 3
    assert after["exchanges"] == before["exchanges"] + 1
    assert after["returned"] == before["returned"] + 1
    assert loop.count(302) == 120 and loop.count(429) == len(loop) - 120
    assert downloads == 2


def test_writes_stop_with_a_clear_page_before_the_disk_is_full(tmp_path, say):
    with small_filesystem(tmp_path / "small", "64m") as small:
        data_dir = DataDir(small / "data")
        box.create(data_dir, role="box", name="Saint-Bonnet")
        env = {**FAST, "PIRATEBOX_FILES_RESERVE_MB": "16", "PIRATEBOX_FILES_RESERVE_PERCENT": "0"}
        with Server(data_dir.path, env=env) as server:
            phone = Phone(server.port, address=VILLAGER)
            posted, _page = form_post(phone, "/board/", "/board/", text="Bonjour")
            filler = small / "filler"
            with open(filler, "wb") as handle:  # what else used the disk, down to 7 MB free
                handle.write(b"\0" * (shutil.disk_usage(small).free - 7 * MB))
            refused, page = form_post(phone, "/board/", "/board/", text="Encore moi")
            reading = [phone.request("GET", path)[0].status for path in PAGES]
            free = shutil.disk_usage(small).free
            filler.unlink()
            again, _page = form_post(phone, "/board/", "/board/", text="Encore moi")
    say("villager", first_post=posted, with_7_MB_free_and_a_16_MB_reserve=refused,
        pages_still_read=reading.count(200), post_once_room_is_made=again,
        free_left=f"{free / MB:.1f} MB")
    assert posted == 302 and refused == 507 and again == 302
    assert "presque pleine" in page and "<main" in page
    assert reading == [200] * len(PAGES)


def image_file(kind, width, height):
    """A real image file of `kind` as an attacker or a phone would send it."""
    import io

    from PIL import Image

    out = io.BytesIO()
    if kind == "lossless WebP":
        Image.new("RGBA", (width, height), (9, 9, 9, 9)).save(out, "WEBP", lossless=True)
    elif kind == "RGBA PNG":
        Image.new("RGBA", (width, height), (9, 9, 9, 9)).save(out, "PNG")
    elif kind == "GIF":
        Image.new("P", (width, height), 3).save(out, "GIF")
    elif kind == "progressive JPEG":
        Image.new("RGB", (width, height), (9, 90, 9)).save(out, "JPEG", progressive=True)
    else:  # a phone camera's photo: detail everywhere
        return noisy_jpeg(width, height)
    return out.getvalue()


def photo_edit(phone, item_id, photos):
    """The owner's edit form, sent with `photos` (name, bytes): the answer's status."""
    from tests.test_files_server import BOUNDARY

    token = re.search(rb'name="csrf_token" value="([^"]+)"', phone.request(
        "GET", f"/items/{item_id}/manage")[1]).group(1).decode()
    fields = {**{k: v for k, v in ITEM.items() if k != "network"}, "csrf_token": token,
              "title": "Vélo rouge"}
    body = b"".join(
        [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
         .encode() for name, value in fields.items()]
        + [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; filename="{name}"'
           f"\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
           for name, data in photos] + [f"--{BOUNDARY}--\r\n".encode()])
    response, page = phone.request("POST", f"/items/{item_id}/manage/edit", body=body, headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    return response.status, page.decode()


def hotspot_env():
    """The settings the Raspberry Pi's service file gives the server."""
    from tests.test_hotspot import PI, shipped_env

    return {key: value for key, value in shipped_env(PI / "piratebox.env").items()
            if not key.startswith("PIRATEBOX_")}


BOMBS = {"lossless WebP": (4000, 4000), "RGBA PNG": (4000, 4000)}
# the largest of each kind the box accepts (piratebox/photos.py: DECODE_BUDGET), and a
# phone camera's 12 MP photo
WORST_ACCEPTED = {"lossless WebP": (1278, 1278), "RGBA PNG": (1540, 1540), "GIF": (1860, 1860),
                  "progressive JPEG": (3816, 2862), "phone JPEG": (4000, 3000)}


def test_a_photo_bomb_costs_the_server_no_more_than_one_photo_decoded_at_a_time(data_dir, say):
    from piratebox.photos import DECODE_BUDGET
    from tests.server import MemoryCgroup

    router = MemoryCgroup.make(128 * MB)
    if router is None:
        pytest.skip("cannot make a 128 MB memory cgroup here (needs root and cgroups)")
    with opened(data_dir):
        me = box.identity()
        actor = Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir))
        owned = [catalogue.create({**ITEM, "title": f"Vélo {n}"}, [], actor) for n in range(5)]
    bombs = {kind: image_file(kind, *size) for kind, size in BOMBS.items()}
    worst = {kind: image_file(kind, *size) for kind, size in WORST_ACCEPTED.items()}
    # as the Pi's service runs it (glibc then gives a photo's memory back, as OpenWrt's musl
    # does): what the server holds at rest stays what it holds at rest
    pi = {**FAST, **hotspot_env()}
    try:
        with Server(data_dir.path, env=pi, cgroup=router) as server:
            pid, port = server.process.pid, server.port
            owners = []
            for number, (item, token) in enumerate(owned):
                owner = Phone(port, address=village_load.phone_address(210 + number))
                owner.request("GET", f"/items/{item.id}/manage?token={token}")
                owners.append((owner, item.id))
            owner, item_id = owners[0]
            photo_edit(owner, item_id, [("a.jpg", jpeg())])  # Pillow in memory, as on a box
            resting = vm_kb(pid, "VmRSS")
            posted = []  # (bomb or worst accepted, kind, answer, how much the peak grew)
            for role, photos, copies in (("bomb", bombs, 3), ("worst accepted", worst, 1)):
                for kind, data in photos.items():
                    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again
                    answer, _page = photo_edit(owner, item_id, [(f"{kind}.img", data)] * copies)
                    posted.append((role, kind, answer, vm_kb(pid, "VmHWM") - resting))
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            at_once = [None] * 4

            def edits(number):
                phone, item = owners[1 + number]
                at_once[number] = [
                    photo_edit(phone, item, [("bomb.webp", bombs["lossless WebP"])] * 3)[0],
                    photo_edit(phone, item, [("worst.png", worst["RGBA PNG"])])[0],
                    photo_edit(phone, item, [("bomb.png", bombs["RGBA PNG"])] * 3)[0]]

            phones = [threading.Thread(target=edits, args=(n,)) for n in range(4)]
            for thread in phones:
                thread.start()
            for thread in phones:
                thread.join()
            four_phones_peak = vm_kb(pid, "VmHWM") - resting
            alive = Phone(port, address=VILLAGER).request("GET", "/")[0].status
    finally:
        killed = router.killed_for_memory()
        router.remove()
    say("server", resting_rss=f"{resting / 1024:.0f} MB", cgroup="128 MB",
        killed_for_memory=killed, answering_after=alive)
    for role, kind, answer, peak in posted:
        sizes, files = (BOMBS, bombs) if role == "bomb" else (WORST_ACCEPTED, worst)
        say(role, photo=f"{kind} {sizes[kind][0]}x{sizes[kind][1]} ({len(files[kind]) // 1024} KB)",
            answer=answer, server_peak_grew=f"{peak / 1024:.1f} MB")
    say("four phones, three edits each at once", answers=at_once,
        server_peak_grew=f"{four_phones_peak / 1024:.1f} MB")
    assert killed == 0 and alive == 200
    assert [answer for role, _kind, answer, _peak in posted] == [400] * 2 + [302] * 5
    budget_kb = DECODE_BUDGET // 1024
    assert max(peak for _role, _kind, _answer, peak in posted) <= budget_kb + 8 * 1024
    assert all(statuses == [400, 302, 400] for statuses in at_once)
    assert four_phones_peak <= budget_kb + 8 * 1024


ANDROID_SIGN_IN = ("Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) "
                   "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.0.0 "
                   "Mobile Safari/537.36")


def test_a_forged_host_never_reaches_a_page_nor_the_next_sign_in_window(data_dir, say):
    with Server(data_dir.path, env=FAST) as server:  # the page cache on, as deployed
        port = server.port
        forger, villager = Phone(port, address=ATTACKER), Phone(port, address=VILLAGER)
        forged = [forger.request("GET", "/items/new", headers={
            "Host": host, "User-Agent": ANDROID_SIGN_IN}) for host in
            ("10.42.0.66:8080", "198.18.0.77", "[fd00::66]:8080")]
        real, page = villager.request("GET", "/items/new", headers={
            "User-Agent": ANDROID_SIGN_IN})
    html = page.decode()
    say("forger", hosts_forged=3, answers=[response.status for response, _body in forged],
        sent_to=forged[0][0].headers["Location"])
    say("next sign-in window", status=real.status, shows_its_own_address=f"127.0.0.1:{port}" in
        html, shows_a_forged_one=any(host in html for host in ("10.42.0.66", "198.18.0.77",
                                                                "fd00::66")))
    assert [response.status for response, _body in forged] == [302] * 3
    assert all(b"10.42.0.66" not in body and b"fd00" not in body for _response, body in forged)
    assert forged[0][0].headers["Location"] == "http://boite.lan/"
    assert real.status == 200 and f"127.0.0.1:{port}/items/new" in html
    assert "10.42.0.66" not in html and "198.18.0.77" not in html


def test_switching_languages_never_makes_the_box_draw_the_poster_again(data_dir, say):
    printed = data_dir.path / "printed"
    drawn, answers, stop = set(), [], threading.Event()

    def watch():  # every poster file that ever appears (a drawing writes a new one)
        while not stop.wait(0.005):
            with contextlib.suppress(OSError):
                drawn.update((path.name, path.stat().st_ino) for path in printed.iterdir()
                             if path.suffix == ".pdf")

    def switcher(number):
        phone = Phone(port, address=village_load.phone_address(220 + number))
        languages = ("fr", "en") if number % 2 else ("en", "fr")
        turn = 0
        while not stop.is_set():
            language = languages[turn % 2]
            response, _body = phone.request("GET", "/print/poster.pdf", headers={
                "Accept-Language": language})
            answers.append((language, response.status))
            turn += 1

    with Server(data_dir.path, env=FAST) as server:
        port = server.port
        threads = [threading.Thread(target=watch)] + [
            threading.Thread(target=switcher, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        try:
            statuses, seconds = browse(Phone(port, address=VILLAGER), 20)
            both = wait_until(lambda: {("fr", 200), ("en", 200)} <= set(answers), 120)
            statuses2, seconds2 = browse(Phone(port, address=VILLAGER), 20)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    statuses_sent = [status for _language, status in answers]
    say("six phones switching languages", requests=len(answers),
        being_prepared=statuses_sent.count(202), posters_sent=statuses_sent.count(200),
        drawings=len(drawn))
    say("villager", while_drawing=latency(seconds), once_drawn=latency(seconds2),
        ok=(statuses + statuses2).count(200))
    assert both and set(statuses_sent) <= {200, 202}
    assert len(drawn) == 2 and {name.split("-")[1] for name, _inode in drawn} == {"fr", "en"}
    assert statuses + statuses2 == [200] * 40


# The command line, saying its own peak memory as it exits (a child's rusage would count
# the test process it was forked from).
PEAK_REPORTER = ("import atexit, runpy, sys\n"
                 "atexit.register(lambda: print('VmHWM', [line for line in open("
                 "'/proc/self/status') if line.startswith('VmHWM')][0].split()[1]))\n"
                 "sys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')")


def cli_peak(data_dir, *arguments):
    """Run the real command line: (exit status, its peak memory in KB, seconds, output)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", PEAK_REPORTER, str(ROOT / "app.py"), "--data",
                           str(data_dir.path), *arguments], cwd=ROOT, capture_output=True,
                          text=True)
    output = done.stdout + done.stderr
    peak = int(re.search(r"VmHWM (\d+)", output).group(1))
    return done.returncode, peak, time.monotonic() - started, output


def zip_of(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def only_a_central_directory(path, entries):
    """A ZIP file that is nothing but a central directory of `entries` one-letter members:
    79 MB for 1.5 million, as the attacker made it."""
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                        0, 0, 0, 0) + b"a"
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF,
                      len(entry) * entries, 0, 0)
    path.write_bytes(entry * entries + end)
    return path


def hostile_backup(stick, box_id, manifest_text):
    folder = stick / "cocote-backup" / box_id
    (folder / "blobs").mkdir(parents=True)
    (folder / "manifest.json").write_bytes(manifest_text)


def test_a_hostile_file_on_a_stick_costs_a_few_mb_before_it_is_refused(tmp_path, stick, say):
    from piratebox.sync.bundle import MAX_MEMBERS
    from piratebox.sync.engine import bundle_name
    from tests.test_sync import enrolled_pair

    hub, data_dir = enrolled_pair(tmp_path, stick)  # a box that reads what its hub sends
    with opened(hub):
        hub_id = box.identity()["id"]
    with opened(data_dir):
        addressed = bundle_name(hub_id, box.identity()["id"])
    not_a_zip = tmp_path / "nothing.cocote"
    not_a_zip.write_bytes(b"x")
    empty = b"[" + b"{}," * (16 * MB // 3) + b"{}]"
    hostile = {
        "a 16 MB manifest of [{},{},...] deflated": zip_of(
            stick / "cocote" / addressed, {"manifest.json": empty}),
        "a 2 MB manifest of [{},{},...]": zip_of(
            tmp_path / "two.cocote", {"manifest.json": empty[:2 * MB - 10] + b"{}]"}),
        "a manifest nested 200,000 deep": zip_of(
            tmp_path / "deep.cocote", {"manifest.json": b"[" * 200_000}),
        "a central directory of 1.5 million entries": only_a_central_directory(
            tmp_path / "directory.cocote", 1_500_000),
        f"{MAX_MEMBERS + 3} empty members": zip_of(
            tmp_path / "members.cocote", {f"blobs/{n:064x}": b"" for n in range(MAX_MEMBERS + 3)},
            zipfile.ZIP_STORED),
    }
    baseline = cli_peak(data_dir, "import", str(not_a_zip))
    refused = {what: cli_peak(data_dir, "import", str(path)) for what, path in hostile.items()}
    synced = cli_peak(data_dir, "sync", str(stick))
    box_id = "a" * 26
    sticks = {}
    for what, text in {
            "a 63 MB manifest of {}": b'{"blobs": [' + b"{}," * (21 * MB) + b"{}]}",
            "a 200 KB manifest nested in [": b'{"box": ' + b"[" * 200_000 + b"}",
            "a 63 MB manifest of files not on the stick": b'{"blobs": [' + (
                b'{"sha256": "' + b"0" * 64 + b'", "size": 1},') * 700_000 + b"{}]}"}.items():
        backup_stick = tmp_path / f"backup-{len(sticks)}"
        hostile_backup(backup_stick, box_id, text)
        sticks[what] = cli_peak(DataDir(tmp_path / f"fresh-{len(sticks)}"), "restore",
                                "--from", str(backup_stick))
    restore_baseline = cli_peak(DataDir(tmp_path / "fresh"), "restore", "--from", str(tmp_path))
    say("baseline", import_of_a_file_that_is_no_zip=f"{baseline[1] // 1024} MB",
        restore_of_a_stick_without_a_backup=f"{restore_baseline[1] // 1024} MB")
    for what, (status, peak, seconds, output) in [*refused.items(), ("sync of the stick",
                                                                     synced), *sticks.items()]:
        said = [line for line in output.splitlines() if line and not line.startswith("VmHWM")]
        say(what, exit=status, peak_above_baseline=f"{(peak - baseline[1]) / 1024:.1f} MB",
            seconds=f"{seconds:.2f}", said=said[-1][:100])
        assert status != 0 and "Traceback" not in output
        assert peak - baseline[1] < 8 * 1024
    assert "refus" in synced[3]


def test_a_box_with_more_photos_than_a_bundle_holds_sends_them_over_several_rounds(
        tmp_path, stick, monkeypatch):
    """The reader's bound on a bundle's members is the writer's too: what does not fit goes
    in the next bundle, whole records at a time."""
    from piratebox.sync import bundle
    from tests.test_sync import enrolled_pair, titles

    monkeypatch.setattr(bundle, "MAX_MEMBERS", 4)  # records.jsonl and three blobs at most
    hub, village = enrolled_pair(tmp_path, stick)
    with opened(village):
        me = box.identity()
        actor = Actor(me["id"], 1_790_000_000.0, BlobStore(village))
        for number in range(3):  # a photo each: two blobs (the photo and its thumbnail)
            catalogue.create({**ITEM, "title": f"Vélo {number}", "network": True,
                               "contact": "06 12 34 56 78"},
                             [jpeg(color=(80 * number, 9, 9))], actor)
    members, arrived = [], []
    for _round in range(4):
        ok(village, "sync", str(stick))
        [sent] = (stick / "cocote").glob(f"{me['id']}-to-*.cocote")
        with zipfile.ZipFile(sent) as archive:
            members.append(len(json.loads(archive.read("manifest.json"))["members"]))
        ok(hub, "sync", str(stick))
        arrived.append(len([title for title in titles(hub) if title.startswith("Vélo")]))
    assert max(members) <= 4 and arrived == [1, 2, 3, 3], (members, arrived)


def test_forty_addresses_trickling_headers_leave_the_server_room_for_a_villager(data_dir,
                                                                              say):
    addresses = [village_load.phone_address(100 + number) for number in range(40)]
    with Server(data_dir.path) as server:  # as deployed: 200 connections, 15 s for headers
        attacks = [slow_phones.Slowloris(server.port, 16, 0.5, address=address)
                   for address in addresses]
        with contextlib.ExitStack() as stack:
            for attack in attacks:
                stack.enter_context(attack)
            wait_until(lambda: sum(len(attack.selector.get_map()) for attack in attacks)
                       >= 180, 10)
            held = sum(len(attack.selector.get_map()) for attack in attacks)
            statuses, seconds = browse_or_give_up(
                Phone(server.port, address=VILLAGER, timeout=slow_phones.TIMEOUT), 20)
    say("attackers", addresses=40, connections_each=16, held_when_the_villager_came=held,
        turned_away=sum(attack.turned_away for attack in attacks),
        closed_by_the_server=sum(attack.cut for attack in attacks))
    say("villager", requests=len(statuses), ok=statuses.count(200), latency=latency(seconds))
    assert statuses == [200] * 20


class Trickler(Alongside):
    """A body announced at `length` and sent at `rate` bytes a second until the server
    answers or closes: `cut_after` says when it did (None while it goes on)."""

    def __init__(self, port, length, rate, address=ATTACKER):
        super().__init__()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                             source_address=(address, 0))
        self.sock.sendall(upload_head(length).encode("latin-1") + b"\r\n")
        self.rate, self.cut_after, self.sent = rate, None, 0

    def run(self):
        started = time.monotonic()
        self.sock.settimeout(0.05)
        while not self.stop.is_set():
            due = int(self.rate * (time.monotonic() - started)) - self.sent
            try:
                if due > 0:
                    self.sock.sendall(b"-" * due)
                    self.sent += due
                if self.sock.recv(1024) is not None:  # an answer, or the end
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        if not self.stop.is_set():
            self.cut_after = time.monotonic() - started

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.sock.close()


def photo_post(phone, photo):
    """A new object with one photo, as the "offer an object" form sends it: the status."""
    token = re.search(rb'name="csrf_token" value="([^"]+)"', phone.request(
        "GET", "/items/new")[1]).group(1).decode()
    fields = {**{k: v for k, v in ITEM.items() if k != "network"}, "csrf_token": token}
    body = b"".join(
        [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
         .encode() for name, value in fields.items()]
        + [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; '
           'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode() + photo
           + f"\r\n--{BOUNDARY}--\r\n".encode()])
    response, _page = phone.request("POST", "/items/new", body=body, headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    return response.status


def test_a_trickled_upload_holds_neither_the_disk_nor_the_other_phones_uploads(tmp_path, say):
    with small_filesystem(tmp_path / "small", "160m") as small:
        data_dir = DataDir(small / "data")
        box.create(data_dir, role="box", name="Saint-Bonnet")
        env = {**FAST, "PIRATEBOX_FILES_RESERVE_MB": "32", "PIRATEBOX_FILES_RESERVE_PERCENT": "0"}
        photo = noisy_jpeg(2000, 1500)  # some 2 MB: a body the disk must hold
        with Server(data_dir.path, env=env) as server:
            port = server.port
            room = shutil.disk_usage(small).free - 32 * MB
            villager = Phone(port, address=VILLAGER)
            share = room // 4 - 4 * MB  # twice its size: half the room (less the photos)
            with Trickler(port, share, 4 * 1024) as slow:
                photo_meanwhile = photo_post(villager, photo)
                wait_until(lambda: slow.cut_after is not None, 10 * HEADER_SECONDS)
            with Trickler(port, share, 64 * 1024) as steady:
                second, _page = raw_request(port, upload_head(share))  # the same phone
                photo_then = photo_post(villager, photo)
                uploaded, _page = villager.upload([("plan.pdf", pattern(room // 8))])
                still_going = steady.cut_after is None
    say("attacker", room=f"{room // MB} MB", declared=f"{share // MB} MB, its share",
        at_4_KB_a_second=f"cut after {slow.cut_after:.1f} s",
        at_64_KB_a_second="still sending" if still_going else "cut",
        a_second_body_from_the_same_phone=second)
    say("villager", photo_post_while_the_disk_was_held=photo_meanwhile,
        photo_post_then=photo_then, upload_of_an_eighth_of_the_room=uploaded.status)
    assert slow.cut_after is not None and slow.cut_after < 4 * HEADER_SECONDS
    assert still_going and second == 507
    assert photo_meanwhile == photo_then == 302 and uploaded.status == 303


def test_invisible_names_header_injection_and_the_cache_placeholder_change_nothing(
        data_dir, say):
    with Server(data_dir.path, env=FAST) as server:
        phone = Phone(server.port, address=VILLAGER)
        switches = [phone.request("GET", "/lang/en?next=/%0d%0aSet-Cookie:x=1")[0]
                    for _ in range(50)]
        elsewhere = phone.request("GET", "/lang/fr?next=/%5Cevil.example/")[0]
        pseudonyms = {"Médiateur\u200b": None, "\u3164": None, "Médi\u00adateur\u2060": None}
        for number, pseudonym in enumerate(pseudonyms):  # other words: not a second tap
            form_post(phone, "/board/", "/board/", text=f"Bonjour {number}", pseudonym=pseudonym)
        old_placeholder = "csrf-placeholder-2f9c41"  # what any text could carry before
        form_post(phone, "/board/", "/board/", text=f"voici {old_placeholder}")
        first, page = phone.request("GET", "/board/")
        again, cached = phone.request("GET", "/board/")  # from the page cache
    with opened(data_dir):
        stored = [message.pseudonym for message in Message.select().order_by(Message.id)]
    log = server.output[1]
    say("attacker", language_switches_with_a_line_break=len(switches),
        answers=sorted({response.status for response in switches}),
        sent_to=sorted({response.headers["Location"] for response in switches}),
        tracebacks_logged=log.count("Traceback"))
    say("board", pseudonyms_sent=list(pseudonyms), stored=stored,
        placeholder_text_shown_as_written=old_placeholder in cached.decode())
    assert all(response.status == 302 and response.headers["Location"] == "/"
               and "x=1" not in (response.headers.get("Set-Cookie") or "")
               for response in switches)
    assert elsewhere.headers["Location"] == "/" and "Traceback" not in log
    assert {"Médiateur", ""} >= set(stored[:3]) and stored.count("Médiateur") == 2
    assert first.status == again.status == 200
    assert f"voici {old_placeholder}" in page.decode() and f"voici {old_placeholder}" in (
        cached.decode())


def cookie_of_a_phone_seen_a_day_ago(data_dir):
    """The session cookie the box gave a phone a day ago (signed with the box's key): the
    passage of a day, for a test that cannot wait one."""
    import secrets

    from piratebox.clock import Clock
    from piratebox.phone import PHONE_KEY, SEEN_KEY

    app = application.create_app({"DATA_DIR": str(data_dir.path), **TEST_CONFIG})
    with opened(data_dir):
        now = Clock.load().now()
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.dumps({SEEN_KEY: int(now) - 25 * 3600,
                             PHONE_KEY: secrets.token_urlsafe(12)})


def test_new_phones_cannot_hide_an_object_phones_the_box_knows_can(data_dir, say):
    target = add(data_dir, "Vélo de Jeanne")
    with Server(data_dir.path, env=FAST) as server:
        port = server.port
        for number in range(5):  # a new address and a new cookie each time
            report_item(Phone(port, address=village_load.phone_address(230 + number)), target)
        after_new_phones = Phone(port, address=VILLAGER).request("GET", f"/items/{target}")[0]
        for number in range(3):
            villager = Phone(port, address=village_load.phone_address(240 + number))
            villager.cookies["cocote"] = cookie_of_a_phone_seen_a_day_ago(data_dir)
            report_item(villager, target)
        after_known_phones = Phone(port, address=VILLAGER).request("GET", f"/items/{target}")[0]
    with opened(data_dir):
        reports = list(moderation.open_reports(target))
    say("attacker", new_address_and_cookie_pairs=5, reports_kept=len(reports) - 3,
        object_after=after_new_phones.status)
    say("three villagers the box had seen the day before", object_after=after_known_phones.status)
    assert after_new_phones.status == 200 and after_known_phones.status == 404
    assert len(reports) == 8 and moderation.phones(reports) == 8
