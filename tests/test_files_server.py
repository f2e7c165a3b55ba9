"""The file share through a real waitress server on loopback, as phones and curl use it."""

import hashlib
import http.client
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from http.cookies import SimpleCookie

import pytest

from tests.server import Server

MB = 1024 * 1024
BOUNDARY = "----cocote-test-boundary"


class Phone:
    """A browser's part: one cookie jar, pages fetched over real HTTP."""

    def __init__(self, port, address="127.0.0.1", timeout=120):
        self.port = port
        self.address = address  # each phone has its own on the wifi
        self.timeout = timeout  # how long its browser waits for an answer
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout,
                                                source_address=(self.address, 0))
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response, data

    def csrf(self):
        _response, page = self.request("GET", "/files/")
        return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()

    def upload(self, files, folder=""):
        """files: [(filename as raw bytes or str, content as bytes or (size, chunks))]."""
        parts, length = multipart({"csrf_token": self.csrf(), "folder": folder}, files)
        return self.request("POST", "/files/", body=parts, headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length)})


def multipart(fields, files):
    """The body as an iterable of byte strings, and its length (large files never in RAM)."""
    pieces = []
    for name, value in fields.items():
        pieces.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                      f"{value}\r\n".encode())
    for filename, content in files:
        raw_name = filename if isinstance(filename, bytes) else filename.encode()
        pieces.append(f"--{BOUNDARY}\r\n".encode()
                      + b'Content-Disposition: form-data; name="files"; filename="' + raw_name
                      + b'"\r\nContent-Type: application/octet-stream\r\n\r\n')
        pieces.append(content)
        pieces.append(b"\r\n")
    pieces.append(f"--{BOUNDARY}--\r\n".encode())
    length = sum(piece[0] if isinstance(piece, tuple) else len(piece) for piece in pieces)

    def body():
        for piece in pieces:
            if isinstance(piece, tuple):
                yield from piece[1]()
            else:
                yield piece

    return body(), length


def pattern(size, seed=b"cocote"):
    """Deterministic bytes that do not compress to nothing, made chunk by chunk."""
    block = hashlib.sha256(seed).digest() * (MB // 32)

    def chunks():
        left = size
        while left:
            piece = block[:min(left, len(block))]
            left -= len(piece)
            yield piece

    return size, chunks


def digest_of(content):
    hasher = hashlib.sha256()
    for chunk in content[1]():
        hasher.update(chunk)
    return hasher.hexdigest()


def file_ids(phone):
    _response, page = phone.request("GET", "/files/")
    return re.findall(rb'href="/files/([a-z0-9]{26})"', page)


def visible_leftovers(data_dir):
    return [p for p in data_dir.tmp.rglob("*") if p.is_file() and not p.name.endswith(".lock")]


def integrity(data_dir):
    with sqlite3.connect(data_dir.database) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def blobs_match_their_names(data_dir):
    for path in data_dir.blobs.rglob("*"):
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


def test_upload_several_files_then_resume_and_revalidate_downloads(data_dir, tmp_path):
    with Server(data_dir.path) as server:
        phone = Phone(server.port)
        big = pattern(12 * MB)
        response, _ = phone.upload([("Réunion du 3 mars.pdf", b"%PDF-1.4 compte rendu"),
                                    ("vidéo fête.bin", big), ("vide.txt", b"")],
                                   folder="Fête")
        assert response.status == 303
        _response, page = phone.request("GET", response.headers["Location"])
        assert "3 fichiers sont partagés".encode() in page
        ids = file_ids(phone)
        assert len(ids) == 3

        _response, page = phone.request("GET", "/files/?q=video")
        big_id = re.search(rb'href="/files/([a-z0-9]{26})"', page).group(1)
        url = f"{server.base}/files/{big_id.decode()}/vid%C3%A9o%20f%C3%AAte.bin"
        # a download cut after 5 MB, resumed by curl -C -: only the missing bytes travel
        target = tmp_path / "video.bin"
        whole = b"".join(big[1]())
        target.write_bytes(whole[:5 * MB])
        result = subprocess.run(["curl", "-sS", "-C", "-", "-o", str(target), "-w",
                                 "%{http_code} %{size_download}", url],
                                capture_output=True, text=True, check=True)
        assert result.stdout == f"206 {7 * MB}"
        assert hashlib.sha256(target.read_bytes()).hexdigest() == digest_of(big)

        path = url.removeprefix(server.base)
        response, body = phone.request("GET", path, headers={"Range": "bytes=-100"})
        assert response.status == 206 and body == whole[-100:]
        assert response.headers["Content-Range"] == f"bytes {12 * MB - 100}-{12 * MB - 1}/{12 * MB}"
        etag = response.headers["ETag"]
        modified = response.headers["Last-Modified"]
        assert phone.request("GET", path, headers={"If-None-Match": etag})[0].status == 304
        assert phone.request("GET", path, headers={"If-Modified-Since": modified})[0].status == 304
        response, body = phone.request("GET", path, headers={"If-Range": etag,
                                                            "Range": "bytes=10-19"})
        assert response.status == 206 and body == whole[10:20]
        response, body = phone.request("GET", path, headers={"If-Range": '"changed"',
                                                            "Range": "bytes=10-19"})
        assert response.status == 200 and len(body) == 12 * MB
        response, _ = phone.request("GET", path, headers={"Range": f"bytes={13 * MB}-"})
        assert response.status == 416


def test_memory_does_not_grow_with_the_size_of_an_upload(data_dir):
    with Server(data_dir.path) as server:
        phone = Phone(server.port)
        phone.upload([("warm-up.bin", pattern(2 * MB, b"warm"))])
        before = peak_rss_kb(server.process.pid)
        response, _ = phone.upload([("grand.bin", pattern(160 * MB))])
        assert response.status == 303
        growth_mb = (peak_rss_kb(server.process.pid) - before) / 1024
        assert growth_mb < 24, f"the server grew by {growth_mb:.0f} MB for a 160 MB upload"
        blobs_match_their_names(data_dir)


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1))


def test_an_upload_over_the_reserve_is_refused_with_a_clear_message(data_dir):
    free_mb = os.statvfs(data_dir.path).f_bavail * os.statvfs(data_dir.path).f_frsize // MB
    env = {"PIRATEBOX_FILES_RESERVE_PERCENT": "0",
           "PIRATEBOX_FILES_RESERVE_MB": str(free_mb - 40)}
    with Server(data_dir.path, env=env) as server:
        phone = Phone(server.port)
        response, page = phone.upload([("trop gros.bin", pattern(60 * MB))])
        assert response.status == 507
        assert b"presque pleine" in page
        # waitress lets go of the refused body's buffer when it closes the connection
        deadline = time.monotonic() + 10
        while phone.upload([("petit.txt", b"ok")])[0].status != 303:
            assert time.monotonic() < deadline, "the space never came back"
            time.sleep(0.2)
    assert not visible_leftovers(data_dir)
    assert len([p for p in data_dir.blobs.rglob("*") if p.is_file()]) == 1


@pytest.mark.parametrize("sent, shown", [
    (b"../../../../etc/passwd", "passwd"),
    (b"..\\..\\boot.ini", "boot.ini"),
    (b"/absolute/path.txt", "path.txt"),
    ("Café ☕ l'été.txt".encode(), "Café ☕ l&#39;été.txt"),
])
def test_traversal_and_unicode_names_over_http(data_dir, sent, shown):
    with Server(data_dir.path) as server:
        phone = Phone(server.port)
        assert phone.upload([(sent, b"contenu")])[0].status == 303
        _response, page = phone.request("GET", "/files/")
        assert shown.encode() in page
    written = {path.name for path in data_dir.path.iterdir()}
    assert written <= {"blobs", "cache", "config.ini", "piratebox.db", "piratebox.db-shm",
                       "piratebox.db-wal", "secret_key", "tmp"}
    assert not list(data_dir.path.parent.glob("*passwd*"))


def send_raw_upload(port, size, stop_after=None):
    """Send an upload on a raw socket; stop sending after `stop_after` bytes of body."""
    phone = Phone(port)
    token = phone.csrf()
    parts, length = multipart({"csrf_token": token}, [("coupé.bin", pattern(size))])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.putrequest("POST", "/files/")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Content-Length", str(length))
    connection.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in phone.cookies.items()))
    connection.endheaders()
    sent = 0
    try:
        for piece in parts:
            if stop_after is not None and sent + len(piece) > stop_after:
                connection.send(piece[: stop_after - sent])
                return connection
            connection.send(piece)
            sent += len(piece)
        connection.getresponse().read()
    except OSError:
        pass  # the server was killed under us: what the test wants
    return connection


def kill(server):
    server.process.send_signal(signal.SIGKILL)
    server.process.communicate()


def assert_restarts_clean(data_dir):
    with Server(data_dir.path) as server:
        phone = Phone(server.port)
        assert file_ids(phone) == []
        assert not visible_leftovers(data_dir)
        assert phone.upload([("après.txt", b"la vie continue")])[0].status == 303
        assert len(file_ids(phone)) == 1
    assert integrity(data_dir) == "ok"
    blobs_match_their_names(data_dir)


def test_a_kill_while_the_body_arrives_leaves_nothing(data_dir):
    server = Server(data_dir.path)
    connection = send_raw_upload(server.port, 30 * MB, stop_after=10 * MB)
    time.sleep(0.3)
    kill(server)
    connection.close()
    assert not visible_leftovers(data_dir)
    assert_restarts_clean(data_dir)


def test_a_kill_while_the_file_is_being_stored_is_cleaned_at_restart(data_dir):
    server = Server(data_dir.path)
    sender = threading.Thread(target=send_raw_upload, args=(server.port, 300 * MB))
    sender.start()
    deadline = time.monotonic() + 60
    spool = None
    while spool is None and time.monotonic() < deadline:
        spool = next(data_dir.tmp.glob("*/upload-*"), None)
        time.sleep(0.002)
    kill(server)
    sender.join()
    assert spool is not None, "the upload was never seen being stored"
    assert_restarts_clean(data_dir)
