"""A small cache of rendered public pages: a village box is read far more than it is written.

A page is kept for PAGE_CACHE_SECONDS at most and forgotten at the first change: every
successful POST (and the expiry sweep) moves the write generation on, and the generation
is part of the key. Pages are never cached for a session that makes them personal (a
flashed message, the mediator, an owner's objects); the sign-in window of a captive
portal gets its own copy (it is told what it cannot do). The CSRF token is the one personal
thing a public page carries: pages are rendered with a placeholder that is replaced by
the visitor's own token on the way out.

One process only: a hub run as several processes sees another's writes after at most
PAGE_CACHE_SECONDS (see docs/benchmarks.md).
"""

import secrets
import threading
from collections import OrderedDict

from flask import current_app, g, request, session

from piratebox import phone, portal, security

# Made anew by each process and holding NUL, which no stored text, form or address may
# carry (piratebox/security.py, piratebox/text.py): no text can make the cache put a
# visitor's token where it does not belong.
PLACEHOLDER = f"\x00csrf-{secrets.token_hex(16)}\x00"
MAX_PAGES = 200  # about 2 MB of HTML at most


class PageCache:
    def __init__(self, seconds):
        self.seconds = seconds
        self.generation = 0
        self._pages = OrderedDict()
        self._lock = threading.Lock()

    def changed(self):
        """Something was written: every cached page is out of date."""
        with self._lock:
            self.generation += 1
            self._pages.clear()

    def get(self, key):
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key, page):
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)


def is_personal():
    return bool(session.get("_flashes") or phone.looks_like_mediator(session)
                or phone.holds_links())


def csrf_token():
    """The token to put in a form: the placeholder while a page is rendered for the cache."""
    return PLACEHOLDER if g.get("rendering_for_cache") else security.csrf_token()


def render(render_page):
    """Serve `render_page()` (which returns HTML text) from the cache when it may be shared."""
    cache = current_app.extensions["page_cache"]
    if not cache.seconds or is_personal():
        return render_page()
    now = current_app.extensions["box"].clock.now()
    key = (request.full_path, g.lang, portal.in_mini_browser(), phone.public_base(),
           cache.generation, int(now // cache.seconds))
    page = cache.get(key)
    if page is None:
        g.rendering_for_cache = True
        try:
            page = render_page()
        finally:
            g.rendering_for_cache = False
        cache.put(key, page)
    if PLACEHOLDER in page:
        page = page.replace(PLACEHOLDER, security.csrf_token())
    return page
