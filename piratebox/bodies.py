"""What a request may send: one table of body limits, read twice.

The server's guard (piratebox/serving.py) reads it as soon as a request's headers have
arrived, before one byte of the body is buffered on the data disk; Flask's request
(piratebox/web.py) reads it again while it parses the form, so that the same limits
hold under the test client or any other server.

A view says what kind of body it takes with `@accepts(kind)`; every other URL takes a
small form. Each kind bounds the bytes, the file parts (each may cost an open file) and,
for every form, the parts (each costs memory), and may be for the mediator only.
"""

from dataclasses import dataclass

from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie

from piratebox.errors import NotAllowed, PirateboxError, TooManyRequests
from piratebox.files import upload
from piratebox.i18n import N_

KB = 1024
MB = upload.MB
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
    rate_bucket: str = ""  # counted per address per hour, checked before the body


def rule(config, kind):
    if kind == "files":
        largest_file = config["FILES_MAX_MB"] * MB
        return BodyRule(kind, largest_file + upload.MULTIPART_OVERHEAD,
                        upload.MAX_FILES_PER_UPLOAD, spooled_file_bytes=largest_file,
                        rate_bucket=upload.RATE_BUCKET)
    if kind == "bundle":
        largest_file = config["SYNC_MAX_BUNDLE_MB"] * MB
        return BodyRule(kind, largest_file + upload.MULTIPART_OVERHEAD, 1,
                        spooled_file_bytes=largest_file, mediator_only=True)
    if kind == "photos":
        return BodyRule(kind, config["MAX_CONTENT_LENGTH"], MAX_PHOTO_PARTS)
    return BodyRule("form", FORM_MAX_BYTES, 0)


KINDS = ("form", "photos", "files", "bundle")


def accepts(kind):
    """Mark a view as taking a body of `kind` (see `rule`)."""
    if kind not in KINDS:
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
    return max(rule(config, kind).max_bytes for kind in KINDS)


def may_send(body_rule, session):
    """A body only a mediator sends is refused, at the headers, to anyone whose signed
    session does not say mediator; the view checks the session fully afterwards."""
    from piratebox.admin import SESSION_KEY  # admin's views import what imports us

    return not body_rule.mediator_only or bool(session.get(SESSION_KEY))


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
        return upload.FileTooLarge(body_rule.spooled_file_bytes)
    return BodyTooLarge(body_rule.max_bytes)


class Gate:
    """What the server asks of the app's rules when a request's headers have arrived.

    Everything here runs in the server's network thread: it reads the URL map, a signed
    cookie and the rate limiter's memory, never the database.
    """

    def __init__(self, app):
        self.app = app
        self.limiter = app.extensions["limiter"]
        self.data_dir = app.extensions["data_dir"]

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
        if body_rule.rate_bucket and not self.session(cookie_header).get("admin_epoch"):
            wait = self.limiter.retry_after(body_rule.rate_bucket, address,
                                            self.app.config["FILES_PER_HOUR"], 3600)
            if wait:
                return TooManyRequests(upload.UPLOADED_A_LOT, retry_after=wait,
                                       minutes=int(wait // 60) + 1)
        return None

    def session(self, cookie_header):
        app = self.app
        value = parse_cookie(cookie_header or "").get(app.config["SESSION_COOKIE_NAME"])
        serializer = app.session_interface.get_signing_serializer(app)
        if not value or serializer is None:
            return {}
        try:
            return serializer.loads(value, max_age=int(
                app.permanent_session_lifetime.total_seconds()))
        except Exception:  # noqa: BLE001 - a cookie that does not verify is no session
            return {}

    def room(self):
        """Bytes a request body may still take on the data disk, above the reserve."""
        return upload.room(self.data_dir, self.app.config)


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
