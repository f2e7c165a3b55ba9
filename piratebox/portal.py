"""Captive portal: make the phone's "sign in to network" popup open the box's home page.

The router sends every name and all port-80 traffic to the box, so the connectivity
probes of phones and laptops arrive here with their own Host. Until a phone has seen the
welcome page we answer each probe with a redirect (a portal); afterwards we give the
exact "you are online" answer its system expects, so it stays on this wifi that leads
nowhere else. Phones are told apart by address: the app never sees a MAC.
"""

import functools
import ipaddress
import threading
import time
from urllib.parse import urlsplit

from flask import Response, redirect, request

APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
FIREFOX_CANONICAL = (
    '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'
)

# path -> (status, body, content type) that the probing system takes for "online"
ONLINE_ANSWERS = {
    "/generate_204": (204, "", "text/plain"),  # Android, ChromeOS
    "/gen_204": (204, "", "text/plain"),
    "/hotspot-detect.html": (200, APPLE_SUCCESS, "text/html"),  # iOS, macOS
    "/library/test/success.html": (200, APPLE_SUCCESS, "text/html"),
    "/connecttest.txt": (200, "Microsoft Connect Test", "text/plain"),  # Windows 10+
    "/ncsi.txt": (200, "Microsoft NCSI", "text/plain"),  # older Windows
    "/canonical.html": (200, FIREFOX_CANONICAL, "text/html"),  # Firefox
    "/success.txt": (200, "success\n", "text/plain"),
}

MAX_PHONES = 5000
# The server (piratebox/serving.py) tells the app, under this key, the box's addresses a
# connection reached: the socket's own, and before a firewall's redirect, the one the phone
# asked for. Another WSGI server tells nothing, and any address is then taken for the box's.
REACHED_KEY = "piratebox.reached_addresses"

APPLE_DEVICES = ("iPhone", "iPad", "iPod", "Macintosh")


def is_mini_browser(user_agent):
    """Is this the small window a phone opens for a wifi sign-in page?

    iOS and macOS open it in the Captive Network Assistant, a bare WebKit view: its user
    agent names WebKit but, unlike Safari and every browser built on it (Chrome, Firefox,
    Edge for iOS), no "Safari/". Android opens CaptivePortalLogin, a WebView, marked
    "; wv)". Neither can choose a file to send nor save one it receives; apps' own
    built-in browsers look the same and mostly cannot either.
    """
    agent = user_agent or ""
    if "; wv)" in agent:
        return True
    return ("AppleWebKit/" in agent and "Safari/" not in agent
            and any(device in agent for device in APPLE_DEVICES))


def in_mini_browser():
    """Is the current request from a sign-in window (see is_mini_browser)?"""
    return is_mini_browser(request.environ.get("HTTP_USER_AGENT"))


@functools.lru_cache(maxsize=256)
def ip_address(text):
    """The address `text` writes, or None. Phones write the same few Host headers: each
    is parsed once (the ipaddress module takes milliseconds a request on a router)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class Portal:
    def __init__(self, site_url, memory_seconds, monotonic=time.monotonic):
        self.set_site_url(site_url)
        self.memory_seconds = memory_seconds
        self._welcomed = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def set_site_url(self, site_url):
        self.site_url = site_url.rstrip("/")
        self.box_host = (urlsplit(site_url).hostname or "").lower()

    def visits_the_box(self, host, path, address, environ):
        """Is a request for the box itself (not a probe for another host)? A phone that
        opens the box's home page is welcomed (see ONLINE_ANSWERS)."""
        if not self.is_box_host(host, environ):
            return False
        if path == "/":
            self.welcome(address)
        return True

    def is_box_host(self, host, environ):
        name = host.lower()
        if name.startswith("["):
            name = name[1 : name.find("]")]
        elif name.count(":") == 1:
            name = name.rsplit(":", 1)[0]
        if not name or name in (self.box_host, "localhost"):
            return True
        address = ip_address(name)
        if address is None:
            return False
        # An address is the box's when it is one this very connection reached (a phone
        # that typed it): any other written in a Host header is someone's invention.
        reached = environ.get(REACHED_KEY)
        return reached is None or any(address == ip_address(box_address)
                                      for box_address in reached)

    def welcome(self, address):
        with self._lock:
            if len(self._welcomed) >= MAX_PHONES:
                self._welcomed.clear()
            self._welcomed[address] = self._monotonic()

    def has_welcomed(self, address):
        with self._lock:
            seen = self._welcomed.get(address)
        return seen is not None and self._monotonic() - seen < self.memory_seconds

    def answer(self):
        """The response for a request addressed to another host, or None for the box's own."""
        if self.visits_the_box(request.host, request.path, request.remote_addr,
                               request.environ):
            return None
        online = ONLINE_ANSWERS.get(request.path)
        if online and self.has_welcomed(request.remote_addr):
            status, body, mimetype = online
            response = Response(body, status=status, mimetype=mimetype)
            response.headers["Cache-Control"] = "no-store"
            return response
        response = redirect(self.site_url + "/", code=302)
        response.headers["Cache-Control"] = "no-store"
        return response
