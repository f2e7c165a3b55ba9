"""Faults: the real server or command killed with SIGKILL in the middle of a write, an
export and an import, then restarted. Nothing already saved is lost, nothing
half-written is visible, and the database and blob store check out."""

import http.client
import re
import signal
import subprocess
import sys
import threading
import time

from models import Item, Message, SharedFile
from piratebox import box
from piratebox.blobs import BlobStore
from tests.images import jpeg
from tests.server import ROOT, Server
from tests.test_files_server import Phone, blobs_match_their_names, integrity, kill
from tests.test_sync import enrolled_pair, ok, opened, run

MB = 1024 * 1024
GENEROUS = {"PIRATEBOX_MESSAGES_PER_HOUR": "1000000", "PIRATEBOX_POSTS_PER_HOUR": "1000000",
            "PIRATEBOX_PAGE_CACHE_SECONDS": "0"}


def multipart_item(token, title):
    boundary = "----fault-boundary"
    fields = {"csrf_token": token, "kind": "offer", "mode": "give", "category": "books",
              "place": "box", "title": title}
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    f"{value}\r\n".encode() for name, value in fields.items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; '
             f'filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n').encode()
    body += jpeg(color=(len(title) * 7 % 255, 90, 30)) + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                  "Content-Length": str(len(body))}


def test_a_kill_during_writes_loses_nothing_acknowledged(data_dir):
    server = Server(data_dir.path, env=GENEROUS)
    confirmed, stop = [], threading.Event()

    def villager(number):
        phone = Phone(server.port)
        try:
            token = phone.csrf()
            count = 0
            while not stop.is_set():
                count += 1
                if count % 3:
                    text = f"message {number}-{count}"
                    response, _ = phone.request(
                        "POST", "/board/", body=f"csrf_token={token}&text={text.replace(' ', '+')}",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
                else:
                    text = f"objet {number}-{count}"
                    body, headers = multipart_item(token, text)
                    response, _ = phone.request("POST", "/items/deposit", body=body,
                                                headers=headers)
                if response.status in (302, 303):
                    confirmed.append(text)
        except (OSError, http.client.HTTPException):
            pass  # the server died under this phone

    phones = [threading.Thread(target=villager, args=(n,)) for n in range(4)]
    for phone in phones:
        phone.start()
    time.sleep(1.5)
    kill(server)
    stop.set()
    for phone in phones:
        phone.join()
    assert len(confirmed) > 10, "too few writes happened before the kill"

    assert integrity(data_dir) == "ok"
    with Server(data_dir.path, env=GENEROUS) as restarted:
        assert Phone(restarted.port).request("GET", "/board/")[0].status == 200
    with opened(data_dir):
        saved = {m.text for m in Message.select()} | {i.title for i in Item.select()}
    missing = [text for text in confirmed if text not in saved]
    assert not missing, missing
    assert saved <= {f"{kind} {n}-{c}" for kind in ("message", "objet")
                     for n in range(4) for c in range(1, 10_000)}  # nothing mangled
    check = run(data_dir, "check")
    problems = [line for line in check.output.splitlines()
                if "needs a missing blob" in line or "missing or damaged" in line
                or line.startswith("database")]
    assert not problems, check.output  # at most an unreferenced photo from the cut request
    blobs_match_their_names(data_dir)


def network_files(data_dir, count, size=200_000):
    with opened(data_dir):
        me = box.identity()
        for number in range(count):
            content = number.to_bytes(4, "big") * (size // 4)
            digest = BlobStore(data_dir).put_bytes(content, "file", 1.79e9)
            SharedFile(name=f"{number}.bin", blob=digest, size=len(content),
                       network=True).save_change(me["id"], 1.79e9)


def enrolled(tmp_path):
    stick = tmp_path / "stick"
    (stick / "cocote").mkdir(parents=True)
    return (*enrolled_pair(tmp_path, stick), stick)


def start(data_dir, *args):
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--data", str(data_dir.path),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_when(process, condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    seen = condition()
    process.send_signal(signal.SIGKILL)
    process.communicate()
    return seen


def test_a_kill_during_export_leaves_no_bundle_and_the_next_export_works(tmp_path):
    _hub, village, stick = enrolled(tmp_path)
    network_files(village, 300)
    out = tmp_path / "out"
    out.mkdir()
    process = start(village, "export", "--to", str(out))
    assert kill_when(process, lambda: any(out.glob(".*.partial"))), "never saw the export"
    assert not list(out.glob("*.cocote"))
    assert integrity(village) == "ok"
    assert "300 photos and files" in ok(village, "export", "--to", str(out))
    assert len(list(out.glob("*.cocote"))) == 1


def test_a_kill_during_import_applies_all_or_nothing(tmp_path):
    hub, village, stick = enrolled(tmp_path)
    network_files(village, 300)
    ok(village, "sync", str(stick))
    [bundle] = (stick / "cocote").glob("*.cocote")
    process = start(hub, "import", str(bundle))
    blobs_written = lambda: any(hub.blobs.glob("*/*"))  # noqa: E731 - the moment to kill
    assert kill_when(process, blobs_written), "never saw the import apply"
    assert integrity(hub) == "ok"
    with opened(hub):
        assert SharedFile.select().count() in (0, 300)
    result = ok(hub, "import", str(bundle))
    assert re.search(r"new or changed: (300|0);|already imported", result)
    with opened(hub):
        assert SharedFile.select().count() == 300
    check = run(hub, "check")
    assert "missing" not in check.output and "database" not in check.output
    blobs_match_their_names(hub)
