"""What a request may send: one table of body limits, read twice.

The server's guard (piratebox/serving.py) reads it as soon as a request's headers have
arrived, before one byte of the body is buffered on the data disk; Flask's request
(piratebox/web.py) reads it again while it parses the form, so that the same limits
hold under the test client or any other server.

A view says what kind of body it takes with `@accepts(kind)`; every other URL takes a
small form. Each kind bounds the bytes, the file parts (each may cost an open file) and,
for every form, the parts (each costs memory), and may be for the mediator only. A
feature whose files stream to the data disk declares its kind here (`declare`): neither
this module nor the request it serves names a feature.
"""

from dataclasses import dataclass

from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie

from piratebox import spool
from piratebox.errors import NotAllowed, PirateboxError, TooManyRequests
from piratebox.i18n import N_
from piratebox.phone import looks_like_mediator
from piratebox.units import KB, MB

# The longest text form (an event's 2,000-character description, percent-encoded four
# times over) fits many times over; past this, a body is not a text someone typed.
FORM_MAX_BYTES = 64 * KB
# Fields and files of one form together; the richest form (an object) has fifteen.
MAX_FORM_PARTS = 64
# What a photo input may send; the form keeps three (catalogue.logic.MAX_PHOTOS) and says
# so beside the field, with what was typed kept, when someone chooses more.
MAX_PHOTO_PARTS = 10
# The server's guard hands a body it refused at the headers to the app under this key,
# as the error to show: the app answers with its own page (see piratebox/serving.py).
REFUSED_KEY = "piratebox.refused"


@dataclass(frozen=True)
class BodyRule:
    kind: str
    max_bytes: int
    max_files: int
    spooled_file_bytes: int = 0  # if not 0, file parts stream into the data disk, this large
    mediator_only: bool = False
    # counted per address per hour, checked before the body: the bucket, the setting that
    # says how many an hour, and the refusal's message (which may name {minutes})
    rate_bucket: str = ""
    rate_setting: str = ""
    rate_message: str = ""


def small_form(_config):
    return BodyRule("form", FORM_MAX_BYTES, 0)


def photos(config):
    return BodyRule("photos", config["MAX_CONTENT_LENGTH"], MAX_PHOTO_PARTS)


def spooled(kind, largest_file, max_files, **more):
    """A body whose files stream into the data disk (see piratebox/spool.py)."""
    return BodyRule(kind, largest_file + spool.MULTIPART_OVERHEAD, max_files,
                    spooled_file_bytes=largest_file, **more)


# kind -> the rule for a configuration; a feature declares its own kinds (the file share's
# upload, the sync's bundle), so that neither this module nor the request names them
RULES = {"form": small_form, "photos": photos}


def declare(kind, make_rule):
    """Add a kind of body: `make_rule(config)` gives its BodyRule."""
    RULES[kind] = make_rule


def rule(config, kind):
    return RULES[kind](config)


def accepts(kind):
    """Mark a view as taking a body of `kind` (see `RULES`)."""
    if kind not in RULES:
        raise ValueError(kind)

    def mark(view):
        view.body_kind = kind
        return view

    return mark


def rule_for(app, endpoint):
    view = app.view_functions.get(endpoint) if endpoint else None
    return rule(app.config, getattr(view, "body_kind", "form"))


def largest(config):
    """What the server must let through at most, whatever the URL."""
    return max(rule(config, kind).max_bytes for kind in RULES)


def most_files(config):
    """The most file parts any one request may send, whatever the URL."""
    return max(rule(config, kind).max_files for kind in RULES)


def may_send(body_rule, session):
    """A body only a mediator sends is refused, at the headers, to anyone whose signed
    session does not say mediator; the view checks the session fully afterwards."""
    return not body_rule.mediator_only or looks_like_mediator(session)


# --- refusals -------------------------------------------------------------------------------

class BodyTooLarge(PirateboxError):
    status = 413

    def __init__(self, limit):
        if limit >= MB:
            super().__init__(N_("What you sent is larger than this form accepts ({size} MB at "
                                "most). Nothing was kept."), size=limit // MB)
        else:
            super().__init__(N_("What you sent is larger than this form accepts ({size} KB at "
                                "most). Nothing was kept."), size=limit // KB)


class TooManyParts(PirateboxError):
    status = 413


def too_many_files(count):
    return TooManyParts(N_("At most {count} files at once, please."), count=count)


def too_many_fields():
    return TooManyParts(N_("This form sent too many fields or files. Nothing was kept."))


def mediator_only():
    return NotAllowed(N_("Only the mediator can send this: log in on the mediator's page "
                         "first."))


def body_too_large(body_rule):
    if body_rule.spooled_file_bytes:
        return spool.FileTooLarge(body_rule.spooled_file_bytes)
    return BodyTooLarge(body_rule.max_bytes)


class Gate:
    """What the server asks of the app's rules when a request's headers have arrived.

    Everything here runs in the server's network thread: it reads the URL map, a signed
    cookie and the rate limiter's memory, never the database.
    """

    def __init__(self, app):
        self.app = app
        self.limiter = app.extensions["limiter"]
        self.data_dir = app.extensions["box"].data_dir

    def rule(self, method, path):
        adapter = self.app.url_map.bind("box")
        try:
            endpoint, _args = adapter.match(path, method=method)
        except HTTPException:  # no such page, wrong method, a redirect: a small form
            endpoint = None
        return rule_for(self.app, endpoint)

    def refusal(self, body_rule, cookie_header, address):
        """The error that refuses this body before it is read, or None."""
        if body_rule.mediator_only and not may_send(body_rule, self.session(cookie_header)):
            return mediator_only()
        # the mediator is never limited; a session that only looks like theirs (its
        # password changed since) is limited by the app, which reads the database
        if body_rule.rate_bucket and not looks_like_mediator(self.session(cookie_header)):
            wait = self.limiter.retry_after(body_rule.rate_bucket, address,
                                            self.app.config[body_rule.rate_setting], 3600)
            if wait:
                return TooManyRequests(body_rule.rate_message, retry_after=wait,
                                       minutes=int(wait // 60) + 1)
        return None

    def session(self, cookie_header):
        app = self.app
        value = parse_cookie(cookie_header or "").get(app.config["SESSION_COOKIE_NAME"])
        return app.session_interface.read(app, value)

    def room(self):
        """Bytes a request body may still take on the data disk, above the reserve."""
        return spool.room(self.data_dir, self.app.config)


# --- counting a form's parts as the parser reads them ---------------------------------------

class CountedParts:
    """A form body read through a counter of its separators (a multipart boundary, or `&`
    between url-encoded fields): past `limit`, reading stops with TooManyParts, before the
    part that is one too many is parsed, stored or spooled."""

    def __init__(self, stream, separator, limit):
        self._stream = stream
        self._separator = separator
        self._limit = limit
        self._tail = b""
        self.seen = 0

    def _count(self, data):
        window = self._tail + data
        self.seen += window.count(self._separator)
        keep = len(self._separator) - 1
        self._tail = window[-keep:] if keep else b""
        if self.seen > self._limit:
            raise too_many_fields()
        return data

    def read(self, size=-1):
        return self._count(self._stream.read(size))

    def readline(self, size=-1):
        return self._count(self._stream.readline(size))

    def readable(self):
        return True


def counted(stream, mimetype, boundary):
    """`stream` wrapped in a part counter for a form body of `mimetype`."""
    if mimetype == "multipart/form-data" and boundary:
        # n parts have n + 1 boundaries (the last one closes the body)
        return CountedParts(stream, b"--" + boundary.encode("latin-1"), MAX_FORM_PARTS + 1)
    if mimetype == "application/x-www-form-urlencoded":
        return CountedParts(stream, b"&", MAX_FORM_PARTS - 1)
    return stream
