"""A box's real process run as the field runs it: with a system clock that says 1970 (or
any time), and after a reboot (another boot id). Debian's libfaketime sets the system
clock the process sees (the monotonic clock is left alone, as a reboot-free restart
leaves it); a private mount namespace shows it another /proc/sys/kernel/random/boot_id.
Tests that need either are skipped, saying why, where the machine cannot."""

import glob
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.server import ROOT, Server

LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
                               + glob.glob("/usr/lib/faketime/libfaketimeMT.so.1"))), None)
BOOT_ID = "/proc/sys/kernel/random/boot_id"
EPOCH_1970 = "1970-01-02 00:00:00"


def system_clock(when):
    """The environment that makes a process's system clock start at `when` (UTC)."""
    if LIBFAKETIME is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    return {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": f"@{when}", "TZ": "UTC",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DONT_RESET": "1"}


def another_boot(folder):
    """A command prefix that runs what follows as after a reboot: a new boot id."""
    boot = Path(folder) / f"boot-{uuid.uuid4()}"
    boot.write_text(f"{uuid.uuid4()}\n")
    prefix = ["unshare", "-m", "sh", "-c",
              f'mount --bind "$0" {BOOT_ID} && exec "$@"', str(boot)]
    probe = subprocess.run([*prefix, "cat", BOOT_ID], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0 or probe.stdout != boot.read_text():
        pytest.skip(f"cannot show a process another boot id here: {probe.stderr.strip()}")
    return prefix


def command(data_dir, *args, env=None, prefix=(), stdin=None):
    """`piratebox --data DIR ARGS` in its own process: (exit status, stdout, stderr)."""
    result = subprocess.run(
        [*prefix, sys.executable, str(ROOT / "app.py"), "--data", str(data_dir.path), *args],
        cwd=ROOT, capture_output=True, text=True, input=stdin,
        env={**os.environ, **(env or {})}, timeout=300, check=False)
    return result.returncode, result.stdout, result.stderr


def server(data_dir, env=None, prefix=()):
    """The real server (waitress) of this box, under that clock and boot."""
    return Server(data_dir.path, env={"PIRATEBOX_PAGE_CACHE_SECONDS": "0",
                                      "PIRATEBOX_PASSWORD_HASH_ROUNDS": "1000",
                                      **(env or {})}, wrapper=prefix)


class Session:
    """A phone's browser against a real server: cookies kept, forms posted with the token
    of the page that shows them, redirects not followed (the test reads each answer)."""

    def __init__(self, base):
        import http.cookiejar
        import urllib.request

        class Stay(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), Stay())

    def open(self, path, data=None):
        """(status, headers, body bytes)."""
        import urllib.error
        import urllib.parse
        import urllib.request

        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body,
                                         headers={"Accept-Language": "fr-FR"})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def page(self, path):
        return self.open(path)[2].decode()

    def submit(self, page, action, fields):
        from tests.conftest import csrf_from

        return self.open(action, {"csrf_token": csrf_from(self.page(page)), **fields})

    def log_in(self, password):
        status, _headers, _body = self.submit("/admin/", "/admin/login", {"password": password})
        assert status == 302, status
