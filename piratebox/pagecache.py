"""Rendered public pages, kept until what they show changes: a village box is read far more
often than it is written.

A cached page names the sections of the box it shows (the home page shows the catalogue,
the agenda and the board; the board's page only the board). A successful POST moves on
the generation of the sections its blueprint changes (`CHANGED_BY`), and only the pages
that show one of them are rendered again, once, at their next request: a word on the
board leaves the catalogue's pages in memory. Requests that arrive while a page is being
rendered wait for that rendering rather than doing it again. A page is kept apart for
each language, each address the phone used (links carry it, see web.public_base) and for
the sign-in window of a captive portal (it is told what it cannot do).

What is personal in a public page is small and filled in on the way out: the visitor's
CSRF token and the messages flashed to them are placeholders in the cached text. A page
that some visitors see differently (the owner of an object sees "Manage my object") is
cached once per variant. The mediator's pages are never cached.

A list page shown again after a write is mostly the rows it showed before: each row is
kept too (`kept_rows`, keyed by its record's id and version), so rendering the page again
after a word on the board or a new file renders one new row, not fifty. The parts around
a list (its search form, its upload form) are kept the same way (`row`, keyed by what they
show), and so is the whole frame of a list page (`render_framed`): rendered again, such a
page runs only the templates of its `live` parts (the list, its count, its pager), not
its layout's and blocks' Jinja.

A page may say what it shows of the database, read apart from its rendering (`render`'s
`data`: a search's objects, by id and version, and their count; the figures, the newest
change of what they are added up from). After a write to its
section, that is read again, and when it is what the page showed before (a new object
that no one's search finds), the page kept is still true and is not rendered again: a
search costs its query, not its template. A write that may change everything (the
mediator's settings, a sync) renders every page again.

Every cached page carries an ETag made of its text's tag and the visitor's own parts:
a phone that asks again for a page it already has gets "304 Not Modified" and no body.
A text's tag is new to this process, and kept when the page is rendered again to the same
text (compared, not hashed: hashing 20 KB at every rendering cost a page after a write
more than its database did).

A page whose view gives it to every phone alike (`render`'s `same_for`) is served, while
it is up to date, before the app is asked (web.serve_kept_pages): most requests of a
village are for such pages, and Flask's own work for a request cost more than the page.

A page is kept PAGE_CACHE_SECONDS at most: what depends on the time (expiry, the agenda)
and the writes of another process (`piratebox sync` from the stick, a second hub process)
show after that at the latest (see docs/benchmarks.md).
"""

import hashlib
import secrets
import sys
import threading
from collections import OrderedDict, namedtuple

from flask import current_app, g, get_flashed_messages, render_template, request, session
from jinja2 import pass_context
from markupsafe import Markup
from werkzeug.http import parse_etags
from werkzeug.utils import get_content_type

from models import Narrow
from piratebox import phone, portal, security
from piratebox.timefmt import local_datetime

# Made anew by each process and holding NUL, which no stored text, form or address may
# carry (piratebox/security.py, piratebox/text.py): no text can make the cache put a
# visitor's token or messages where they do not belong.
CSRF_PLACEHOLDER = f"\x00csrf-{secrets.token_hex(16)}\x00"
FLASH_PLACEHOLDER = f"\x00flashes-{secrets.token_hex(16)}\x00"
CSRF_BYTES, FLASH_BYTES = CSRF_PLACEHOLDER.encode(), FLASH_PLACEHOLDER.encode()
LIVE_PLACEHOLDER = f"\x00live-{secrets.token_hex(16)}\x00"  # where a frame's live parts go
MAX_PAGES = 200  # about 2 MB of HTML at most
# Rows: ten list pages of forty, the pages a village reads again in an evening (home, the
# catalogue's first pages, files, board, agenda). Each write makes new rows (new versions)
# that push the oldest out: the village's mix, 50 phones, asks for some 3,000 rows in 20 s,
# almost all of them once, and misses as many read again with 300 kept as with 1,000, which
# held 0.8 MB (docs/benchmarks.md, "Ninth round"). A row pushed out is rendered again.
MAX_ROWS = 400
# A list page's frames are counted by the memory they hold, not by number: a frame
# repeats its address (the search box, the language links), and one character outside
# Latin-1 in it makes Python hold the whole text at 2 or 4 bytes a character, so 200
# frames of made-up addresses could hold 8 MB. The least recently read go first.
MAX_FRAME_BYTES = 2_000_000
RENDER_WAIT_SECONDS = 60  # then render it yourself: never wait forever on a stuck thread

SECTIONS = ("catalogue", "files", "board", "events", "stats", "initiatives")
ALL_SECTIONS = frozenset(SECTIONS)
# What a successful POST to each blueprint may change. Any other blueprint (the mediator's
# settings and clock, a sync, a login) may change everything.
CHANGED_BY = {
    "catalogue": ("catalogue", "stats"),  # an object's step is also an exchange
    "files": ("files",),
    "board": ("board",),
    "events": ("events", "stats"),  # an event's count is in the figures
    "initiatives": ("initiatives", "stats"),  # a ride's distance from an initiative's commune
    "stats": ("stats",),  # the mediator's weekly tally
}
FOOTFALL_SHOWN_IN = ("stats",)  # a phone new today changes these (web.count_phone_at)

# A page as it is sent: its UTF-8 bytes (encoded once, not at every request) cut at its
# placeholders (`pieces`: the parts between the flashes' places, each cut at the form
# token's: joined around a visitor's own at each request, where replacing them went through
# the whole text twice), which personal parts it has a place for, the fingerprint of the
# data it shows (None for a page that gives none), and, when its view gives it to every
# phone or to every phone holding none of some private links (render's `same_for`), its
# content type and those links (the keys a phone's cookie holds them under), to serve it
# without asking the app (web.serve_kept_pages).
class Page(namedtuple("Page", "pieces tag stamp sections personal fingerprint shared")):
    __slots__ = ()

    @property
    def body(self):
        """The text as it is kept, its placeholders in it."""
        return FLASH_BYTES.join(CSRF_BYTES.join(piece) for piece in self.pieces)

    def answer(self, token, flashes):
        """The text with this visitor's form token and messages (bytes) in their places."""
        return flashes.join([token.join(piece) for piece in self.pieces])


Shared = namedtuple("Shared", "content_type personal_to")
# A list page's frame (render_framed): its text cut where its live parts go, their
# templates, and the bytes it holds in memory.
KeptFrame = namedtuple("KeptFrame", "pieces parts size")
EVERY_PHONE = frozenset()  # same_for: no private link makes another page of it
# A text's tag: drawn at random, so that no other text, here or in an earlier process, has
# it, and so that it tells nothing (a counter would tell a visitor how many pages others
# made the box render between two of its requests).
TAG_BYTES = 9


def kept_page(text, stamp, sections, fingerprint=None, shared=None, previous=None):
    """A page rendered to `text`; its tag is `previous`'s (the page it replaces) when that
    was the same text."""
    pieces = tuple(tuple(part.split(CSRF_BYTES))
                   for part in text.encode("utf-8").split(FLASH_BYTES))
    personal = {FLASH_BYTES} if len(pieces) > 1 else set()
    if any(len(part) > 1 for part in pieces):
        personal.add(CSRF_BYTES)
    same = previous is not None and previous.pieces == pieces
    return Page(pieces, previous.tag if same else secrets.token_hex(TAG_BYTES), stamp,
                tuple(sections), frozenset(personal), fingerprint, shared)


def sections_changed_by(blueprint):
    return CHANGED_BY.get(blueprint, SECTIONS)


class PageCache:
    def __init__(self, seconds):
        self.seconds = seconds
        self._generations = dict.fromkeys(SECTIONS, 0)
        self._everything = 0  # moved by a write that may change any page
        self.served_ahead = 0  # pages served before the app (web.serve_kept_pages)
        # the addresses of the pages kept for every phone (some since pushed out), each
        # with the sections and stamp of the last one kept there: any other request, and
        # any request for a page out of date, goes to the app after one look-up (see
        # shared_at)
        self._shared_addresses = {}
        self._pages = OrderedDict()
        self._rendering = {}  # key -> Event set when its rendering is over
        self._rows = OrderedDict()
        self._frames = OrderedDict()  # render_framed's, apart: a frame is 5-10 KB, a row 0.5
        self._frames_bytes = 0
        self._lock = threading.Lock()

    @property
    def everything(self):
        """How many writes that may change any page there were."""
        return self._everything

    def changed(self, sections=SECTIONS):
        """Something these sections show was written: their pages are out of date. An
        out-of-date page stays until it is asked for again (see `page`) or pushed out."""
        with self._lock:
            if ALL_SECTIONS.issubset(sections):
                self._everything += 1
            for section in sections:
                self._generations[section] += 1

    def bucket(self, now):
        """The time bucket of a page asked for at `now`: a page is kept `seconds` at most."""
        return int(now // self.seconds)

    def _stamp(self, bucket, sections):
        return (bucket, self._everything, *(self._generations[section] for section in sections))

    def shared_at(self, environ):
        """(sections, stamp) of the last page the same for every phone kept for this
        request's address, None when there was none. (Its hash is kept: an address may be
        long, and a hash that collides costs a look-up.)"""
        return self._shared_addresses.get(hash(page_address(environ)))

    def still_true(self, shared, bucket):
        """Is the page `shared_at` named up to date? When it is not, no copy kept at its
        address is (in another language, for another host): the last one kept is the
        newest, but for a rendering that ended after a newer one (the app then serves the
        others as they are kept). Read without the lock: a write it misses, `kept` sees."""
        sections, stamp = shared
        return stamp == self._stamp(bucket, sections)

    def kept(self, key, bucket):
        """The page kept under `key` when it is up to date, else None (never rendered here)."""
        with self._lock:
            page = self._pages.get(key)
            if page is None or page.stamp != self._stamp(bucket, page.sections):
                return None
            self._pages.move_to_end(key)
            return page

    def page(self, key, sections, bucket, render, read=None, shared=None):
        """The page cached under `key`, rendered by `render()` when missing or out of
        date; whoever asks for it meanwhile waits for that one rendering.

        With `read`, the page shows what `read()` returns as (data, fingerprint) and is
        rendered by `render(data)`; an out-of-date page whose fingerprint is the same,
        in the same time bucket and with no write to everything since, is still true:
        it is kept as it is. `shared()`, or `shared(data)`, says what the page is shared
        as (see Page)."""
        while True:
            with self._lock:
                stamp = self._stamp(bucket, sections)
                page = self._pages.get(key)
                if page is not None and page.stamp == stamp:
                    self._pages.move_to_end(key)
                    return page
                previous = page
                pending = self._rendering.get(key)
                if pending is None:
                    pending = self._rendering[key] = threading.Event()
                    break
            # Rendered by another request: look again when it is done (it may have
            # failed, or a write may have come in meanwhile; then render it here).
            if not pending.wait(RENDER_WAIT_SECONDS):
                return self._fresh(render, read, stamp, sections, None, shared)
        try:
            page = self._fresh(render, read, stamp, sections, previous, shared)
            with self._lock:
                self._pages[key] = page
                while len(self._pages) > MAX_PAGES:
                    self._pages.popitem(last=False)
                if page.shared is not None:
                    if len(self._shared_addresses) >= MAX_PAGES * 4:
                        self._shared_addresses.clear()
                    self._shared_addresses[hash(key[:ADDRESS_PARTS])] = (page.sections,
                                                                         page.stamp)
            return page
        finally:
            with self._lock:
                del self._rendering[key]
            pending.set()

    @staticmethod
    def _fresh(render, read, stamp, sections, previous, shared):
        """The page up to date; `previous`, the page kept under its key (None: none)."""
        if read is None:
            return kept_page(render(), stamp, sections, None, shared and shared(), previous)
        data, fingerprint = read()
        shared_as = shared and shared(data)
        if (previous is not None and previous.stamp[:2] == stamp[:2]
                and previous.fingerprint == fingerprint):
            return previous._replace(stamp=stamp, shared=shared_as)
        return kept_page(render(data), stamp, sections, fingerprint, shared_as, previous)

    def row(self, key, render):
        """A row of a list, rendered by `render()` the first time it is asked for."""
        text = self.rows((key,))[0]
        if text is None:
            text = render()
            self.keep({key: text})
        return text

    def rows(self, keys):
        """The kept text of each key, None where there is none: a list's rows in one pass."""
        found = []
        with self._lock:
            for key in keys:
                text = self._rows.get(key)
                if text is not None:
                    self._rows.move_to_end(key)
                found.append(text)
        return found

    def keep(self, texts):
        """Keep rows rendered, {key: text}."""
        with self._lock:
            self._rows.update(texts)
            while len(self._rows) > MAX_ROWS:
                self._rows.popitem(last=False)

    def frame(self, key):
        """The frame kept under `key` (see render_framed), None when there is none."""
        with self._lock:
            found = self._frames.get(key)
            if found is None:
                return None
            self._frames.move_to_end(key)
            return found.pieces, found.parts

    def keep_frame(self, key, pieces, parts):
        size = sum(map(sys.getsizeof, pieces))
        with self._lock:
            replaced = self._frames.pop(key, None)
            self._frames_bytes += size - (replaced.size if replaced else 0)
            self._frames[key] = KeptFrame(pieces, parts, size)
            while self._frames_bytes > MAX_FRAME_BYTES:
                self._frames_bytes -= self._frames.popitem(last=False)[1].size

    def __len__(self):
        return len(self._pages)


def digest(text):
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def is_mediator():
    """The mediator's pages carry moderation controls: never shared, never kept."""
    return phone.looks_like_mediator(session)


def rendering_for_cache():
    return g.get("kept_rows") is not None


def csrf_token():
    """The token to put in a form: the placeholder while a page is rendered for the cache."""
    return CSRF_PLACEHOLDER if rendering_for_cache() else security.csrf_token()


def flashes():
    """The messages flashed to this visitor, as the top of a page shows them."""
    if rendering_for_cache():
        return Markup(FLASH_PLACEHOLDER)  # noqa: S704 - made here, holds no markup
    return Markup("").join(  # noqa: S704 - every part escaped by format()
        Markup('\n  <p class="flash {}" role="status">{}</p>').format(category, message)  # noqa: S704
        for category, message in get_flashed_messages(with_categories=True))


def row(*key, caller):
    """`{% call row("files form", disk.largest_upload) %}...{% endcall %}`: a part of a
    page (a list's row: see kept_rows), kept while what its key names is unchanged. The
    key names everything the part shows that can change; only the parts of shared pages
    are kept (the mediator's carry their controls).
    A row is also kept apart per language and address, like its page, per day (a date is
    written without its year within the current one) and until a write that may change
    everything (the mediator's settings: the time zone). Unlike its page, it outlives the
    time bucket: at a router's speed, rendering every row of every page again each
    PAGE_CACHE_SECONDS cost more than the visitors' own requests."""
    kept = g.get("kept_rows")  # one look-up a row: a list page has up to forty of them
    if kept is None:
        return caller()
    cache, page_key = kept
    return Markup(cache.row((*page_key, *key), caller))  # noqa: S704 - caller's


@pass_context
def kept_rows(context, template_name, name, records, *shown):
    """`{{ kept_rows("files/_row.html", "file", files, "downloads") }}`: each record of a
    list rendered by its own template (which sees it as `name`) and kept like a `row`,
    under its id and version and what `shown` names of it besides (an attribute's name,
    or a function of the record). A kept row costs a look-up here, where a `{% call row %}`
    in a loop costs Jinja a macro and a call for each: forty rows on a page a write
    changed, rendered again at every write on a busy box.

    `records` may be a list read narrow (models.Narrow): its rows are the keys, and only
    the records whose row is not kept are read whole, in one query."""
    def render(record):  # the template is looked up only when a row is not kept
        template = context.environment.get_template(template_name)
        variables = template.new_context(context.get_all(), True, {name: record})
        return "".join(template.root_render_func(variables))

    narrow = isinstance(records, Narrow)
    if narrow and records.columns[2:] != shown:
        raise ValueError(f"{template_name} shows {shown}; its list was read with "
                         f"{records.columns}")
    kept = g.get("kept_rows")
    if kept is None:
        if narrow:  # in the list's order, not the whole read's
            whole = records.whole(records.ids())
            records = [whole[row[0]] for row in records if row[0] in whole]
        return Markup("".join(render(record) for record in records))  # noqa: S704 - rendered
    cache, page_key = kept
    if narrow:
        prefix = (*page_key, template_name)
        keys = [prefix + row for row in records]
    else:
        keys = [(*page_key, template_name, record.id, record.version,
                 *(getattr(record, part) if isinstance(part, str) else part(record)
                   for part in shown)) for record in records]
    found = cache.rows(keys)
    missing = [index for index, text in enumerate(found) if text is None]
    if missing:
        made = {}
        whole = records.whole([records[index][0] for index in missing]) if narrow else {}
        for index in missing:
            record = whole.get(records[index][0]) if narrow else records[index]
            found[index] = "" if record is None else render(record)
            # A record written between its narrow read and its whole one is shown as it
            # is now (or not at all, gone) but not kept under the key the narrow read
            # gave it: the write renders the page again.
            if not narrow or (record is not None and records.row_of(record) == records[index]):
                made[keys[index]] = found[index]
        cache.keep(made)
    return Markup("".join(found))  # noqa: S704 - rendered by the templates, escaped there


@pass_context
def live(context, template_name):
    """`{{ live("files/_list.html") }}`: the part of a page that a write to its section
    changes (its list, its count, its pager), rendered by its own template, which sees the
    view's variables and the templates' globals (not what the page's template sets). The
    rest of the page, its frame, is kept: see render_framed."""
    framing = g.get("live_parts")
    if framing is not None:
        framing.append(template_name)
        return Markup(LIVE_PLACEHOLDER)  # noqa: S704 - made here, holds no markup
    template = context.environment.get_template(template_name)
    return Markup("".join(template.root_render_func(  # noqa: S704 - rendered, escaped there
        template.new_context(context.get_all(), True))))


def render_framed(template_name, frame, **variables):
    """`render_template(template_name, **variables)`, its frame kept like a row: a list
    page rendered again after a write renders only its `live` parts, where Jinja's work
    for the layout, the forms and the blocks around them cost more than the list's rows.
    `frame` names everything the frame shows that can change besides the page's address
    (the folders of the file share's filters, whether the board is closed); the frame's
    own kept rows are rendered when it is. Frames are kept apart from rows, bounded by
    the memory they hold (MAX_FRAME_BYTES): each query string a visitor makes up has its
    own."""
    kept = g.get("kept_rows")
    if kept is None:
        return render_template(template_name, **variables)
    cache, page_key = kept
    key = (*page_key, template_name, request.full_path, *frame)
    found = cache.frame(key)
    if found is None:
        g.live_parts = []
        try:
            pieces = render_template(template_name, **variables).split(LIVE_PLACEHOLDER)
            found = (tuple(pieces), tuple(g.live_parts))
        finally:
            g.live_parts = None
        cache.keep_frame(key, *found)
    pieces, parts = found
    app = current_app._get_current_object()
    # one context for every live part, the globals in it: Jinja would merge each part's
    # variables into its globals (a ChainMap, read key by key) again
    context = {**app.jinja_env.globals, **variables}
    app.update_template_context(context)
    texts = [pieces[0]]
    for part, piece in zip(parts, pieces[1:], strict=True):
        template = app.jinja_env.get_template(part)
        texts.extend(template.root_render_func(template.new_context(context, True)))
        texts.append(piece)
    return "".join(texts)


def render(render_page, sections, variant="", mimetype="text/html", data=None, same_for=None):
    """Serve `render_page()` (which returns text showing `sections`) from the cache; a
    conditional request for what the phone already has gets a 304.

    With `data`, a function that reads what the page shows and returns it with its
    fingerprint (everything of it the page shows that a write to `sections` can change:
    records' ids and versions, a count), the page is `render_page(data)`, and is not
    rendered again while that fingerprint is unchanged (see PageCache.page).

    `same_for`: EVERY_PHONE when the view does nothing before this but read its address
    and every phone gets this page (its personal parts aside); or, with `data`, a function
    of what the page shows that returns the private links (their keys in a phone's
    cookie) whose holders get another page from the view: every other phone gets this
    one. A kept copy is then served to them without asking the app
    (web.serve_kept_pages)."""
    cache = current_app.extensions["page_cache"]
    if not cache.seconds or is_mediator() or too_long_to_keep(request.environ):
        text = render_page() if data is None else render_page(data()[0])
        return current_app.response_class(text, mimetype=mimetype)
    now = current_app.extensions["box"].clock.now()
    bucket = cache.bucket(now)
    context = (g.lang, portal.in_mini_browser(), phone.public_base())
    shared = None if same_for is None else sharing(get_content_type(mimetype, "utf-8"), same_for)
    page = cache.page(page_key(request.environ, *context, variant), sections, bucket,
                      lambda *shown: render_for_cache(cache, render_page, (*context, *rows_epoch(
                          cache, now)), shown), read=data, shared=shared)
    body, headers = personal_answer(page, request.headers.get("If-None-Match"),
                                    security.csrf_token, flashes_shown)
    if body is None:
        return current_app.response_class(status=304, headers=headers)
    return current_app.response_class(body, mimetype=mimetype, headers=headers)


def sharing(content_type, same_for):
    """What a page made of `shown` data is shared as (Page.shared; see render's same_for)."""
    def shared(*shown):
        links = same_for(*shown) if callable(same_for) else same_for
        return Shared(content_type, frozenset(links))

    return shared


def page_key(environ, lang, in_mini_browser, public_base, variant):
    """What a page is kept under: its address as the phone wrote it, and what else makes
    a copy differ (see the module's docstring)."""
    return (*page_address(environ), lang, in_mini_browser, public_base, variant)


def page_address(environ):
    return (environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""))


ADDRESS_PARTS = 3  # the first parts of a page's key
# A page and its rows are kept under their address, which the page repeats (its language
# links): an address longer than any link of the box's makes a page rendered for its
# visitor alone, or 200 pages and 1,000 rows of a forged 60 KB query string would hold
# some 200 MB of a router's 128.
MAX_KEPT_ADDRESS = 2048


def too_long_to_keep(environ):
    return sum(map(len, page_address(environ))) > MAX_KEPT_ADDRESS


def personal_answer(page, if_none_match, csrf_token, shown_flashes):
    """(the body, None for a 304; the headers) of a kept page for one visitor: its own
    parts filled in (`csrf_token()` and `shown_flashes()`, asked only when the page has a
    place for them), its ETag naming them."""
    token = shown = None
    if CSRF_BYTES in page.personal:
        token = csrf_token()
    if FLASH_BYTES in page.personal:
        shown = shown_flashes()
    personal = [part for part in (token, shown) if part]
    etag = page.tag + ("-" + digest("\n".join(personal)) if personal else "")
    # always asked again (no-cache): a 304 is cheap. Headers given whole, parsed by no one.
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache",
               "Vary": "Cookie, Accept-Language"}
    if if_none_match and etag in parse_etags(if_none_match):
        return None, headers
    return page.answer((token or "").encode("utf-8"), (shown or "").encode("utf-8")), headers


def flashes_shown():
    """The messages flashed to this visitor as a page shows them, or None."""
    return session.get("_flashes") and str(flashes())


def rows_epoch(cache, now):
    """What the kept rows of a page rendered now depend on besides their keys (see row)."""
    return cache.everything, local_datetime(now, current_app.config["TIMEZONE"]).date()


def render_json(make_body, sections, variant="", data=None, same_for=None):
    """JSON served as a public page is: kept, shared, answered 304 when unchanged."""
    return render(lambda *shown: current_app.json.dumps(make_body(*shown)), sections, variant,
                  mimetype="application/json", data=data, same_for=same_for)


def render_for_cache(cache, render_page, context, arguments=()):
    """`render_page(*arguments)` with placeholders for the visitor's own parts, its rows
    kept in `cache` under the page's endpoint and `context` (see row)."""
    g.kept_rows = (cache, (request.endpoint, *context))
    try:
        return render_page(*arguments)
    finally:
        g.kept_rows = None
