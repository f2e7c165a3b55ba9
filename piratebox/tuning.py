"""Flask, Werkzeug and Jinja tuned for a router's CPU: what they do at start-up or at
every request that the box can do once. Each costs milliseconds here and tens of them on a
580 MHz MIPS core (measured with scripts/bench_router.py, see docs/benchmarks.md); none
changes what a page says.
"""

import copy
import hashlib
import io
import logging
import os
import re
import time

from flask import Response, request, url_for
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadData, TimestampSigner
from jinja2 import BytecodeCache
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.http import parse_cookie
from werkzeug.routing import Rule

from piratebox.storage import atomic_write

log = logging.getLogger("piratebox")


class TemplateCache(BytecodeCache):
    """Compiled templates kept in the data directory. Jinja compiles a template to Python
    at its first use, seconds on a router's CPU for the object page; kept, they are only
    read at the next start. Jinja recompiles one whose source changed (an upgrade)."""

    def __init__(self, folder):
        self.folder = folder

    def load_bytecode(self, bucket):
        try:
            with open(self.folder / f"{bucket.key}.jinja", "rb") as handle:
                bucket.load_bytecode(handle)
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 - a file cut short by a power cut: compile again
            bucket.reset()

    def dump_bytecode(self, bucket):
        out = io.BytesIO()
        bucket.write_bytecode(out)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.folder / f"{bucket.key}.jinja", out.getvalue())
        except OSError as error:  # a full or read-only disk: the page is served all the same
            log.warning("cannot keep a compiled template: %s", error)


COMPILED_STAMP = "compiled"  # beside the compiled templates: the digest of their sources


def compile_templates_apart(app):
    """Compile every template the pages use in a child process, before the server starts,
    when one is not already kept compiled (a first start, an upgrade). Compiling one at a
    first visit leaves the server's heap larger for as long as it runs (Jinja's parse tree
    and the Python source it writes are freed, but into a heap that stays fragmented: about
    3 MB after the first visit to each page, see docs/benchmarks.md); a child gives all of
    it back when it exits. Without fork, or if the child fails, the pages compile at their
    first visit as before."""
    folder = app.jinja_env.bytecode_cache.folder
    sources = templates_digest(app.jinja_env)
    stamp = folder / COMPILED_STAMP
    if not hasattr(os, "fork") or _read(stamp) == sources:
        return
    child = os.fork()
    if child == 0:
        status = 1
        try:
            for name in app.jinja_env.list_templates():
                app.jinja_env.get_template(name)  # compiled, then kept by TemplateCache
            atomic_write(stamp, sources.encode())
            status = 0
        except Exception:  # noqa: BLE001 - the pages compile at their first visit instead
            log.exception("cannot compile the templates ahead of the first visits")
        finally:
            os._exit(status)
    os.waitpid(child, 0)


def templates_digest(environment):
    """One digest of every template's name and source: it changes when any of them does.
    Sorted: Flask lists them from a set, in another order in each process."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(environment.list_templates()):
        source, _filename, _uptodate = environment.loader.get_source(environment, name)
        digest.update(f"{name}\0{source}\0".encode())
    return digest.hexdigest()


def _read(path):
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


class BoxSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, read and signed for less: its serializer made once
    rather than at every request, its signing key derived once (itsdangerous derives it
    again at every signature), and a cookie this process has verified once kept with what
    it holds. A phone sends the same cookie with every request until its session changes:
    checking the signature and decoding it again cost about a tenth of a kept page. The
    copy a request gets is its own (a view may change it), and a kept cookie expires at
    the age a signed one does."""

    def __init__(self):
        self._serializers = {}
        self._verified = {}  # (secret key, cookie) -> (data, signed at)

    def get_signing_serializer(self, app):
        key = app.secret_key
        if key not in self._serializers:
            serializer = super().get_signing_serializer(app)
            if serializer is not None:
                serializer.signer = KeptKeySigner
            self._serializers[key] = serializer
        return self._serializers[key]

    def open_session(self, app, request):
        if not app.secret_key:
            return None
        cookie = cookies(request.environ).get(self.get_cookie_name(app))
        return self.session_class(self.read(app, cookie))

    def read(self, app, cookie, own_copy=True):
        """What a session cookie holds ({} for none, or one that does not verify or has
        expired): a dict of the request's own, or (`own_copy` false) the one kept, for a
        reader that changes nothing in it."""
        serializer = self.get_signing_serializer(app)
        if not cookie or serializer is None:
            return {}
        max_age = int(app.permanent_session_lifetime.total_seconds())
        known = self._verified.get((app.secret_key, cookie))
        if known is None:
            try:
                data, signed = serializer.loads(cookie, max_age=max_age, return_timestamp=True)
            except BadData:  # a forged, expired or damaged cookie is no session
                return {}
            if len(self._verified) >= MAX_VERIFIED_COOKIES:
                self._verified.clear()
            known = self._verified[(app.secret_key, cookie)] = (data, signed.timestamp())
        data, signed = known
        if not 0 <= time.time() - signed <= max_age:
            return {}
        return own_copy_of(data) if own_copy else data

    def save_session(self, app, session, response):
        """Flask's, and a session that changed forgets the cookie it replaces and the
        Cookie header that carried it: the phone never sends either again. Each of the
        village's writes changes its phone's session (a private link, a message), and
        500 such dead cookies and headers of up to 4 KB held 4 MB until the next clearing
        (a Saturday's 50 phones, measured: docs/benchmarks.md, "Eighth round")."""
        if session.modified:
            header = request.environ.get("HTTP_COOKIE", "")
            self._verified.pop((app.secret_key, cookies(request.environ).get(
                self.get_cookie_name(app))), None)
            _parsed_cookies.pop(header, None)
        super().save_session(app, session, response)


def own_copy_of(data):
    """A session's dict for a request that may change it: what can change in place (a
    phone's private links) copied, the plain values shared (copying every one was most
    of opening a kept session)."""
    return {key: value if type(value) in UNCHANGEABLE else copy.deepcopy(value)
            for key, value in data.items()}


UNCHANGEABLE = frozenset((str, int, float, bool, type(None)))


class PlainCookieResponse(Response):
    """Flask's response, a cookie made of plain characters (a signed session: URL-safe
    base64 and dots) written without going through Werkzeug 2.2's quoting, which looks at
    a value one character at a time in Python: setting a session cookie again after a
    post was a sixth of a small upload here (1 ms of 5.8), more on a router. Such a value
    needs no quoting, so the header is the one Werkzeug writes (every version: tested)."""

    def set_cookie(self, key, value="", *args, **kwargs):
        if not (isinstance(value, str) and len(value) <= PLAIN_COOKIE_MAX
                and PLAIN_COOKIE_VALUE.fullmatch(value)):
            return super().set_cookie(key, value, *args, **kwargs)
        # Werkzeug writes the attributes (its own for each version) around a stand-in.
        super().set_cookie(key, "-", *args, **kwargs)
        *earlier, written = self.headers.getlist("Set-Cookie")
        stand_in = f"{key}=-"
        del self.headers["Set-Cookie"]
        for cookie in earlier:
            self.headers.add("Set-Cookie", cookie)
        if written.startswith(stand_in):
            self.headers.add("Set-Cookie", f"{key}={value}{written[len(stand_in):]}")
        else:  # a name Werkzeug had to quote
            super().set_cookie(key, value, *args, **kwargs)


class Parameters(ImmutableMultiDict):
    """A query string's, a form's or the cookies' fields, as Werkzeug gives them, but for
    a missing one: Werkzeug's `get` finds it missing by raising and catching an HTTP
    error, some 3 µs, and a page asks for several that no phone sends (the file share's
    filters, the language cookie)."""

    def get(self, key, default=None, type=None):  # noqa: A002 - Werkzeug's name
        if key not in self:
            return default
        return super().get(key, default, type)


PLAIN_COOKIE_VALUE = re.compile(r"[A-Za-z0-9._-]*")
PLAIN_COOKIE_MAX = 4000  # a longer one goes through Werkzeug, which warns of its size
MAX_VERIFIED_COOKIES = 500  # a village's phones: a few hundred bytes each, 4 KB at most


def cookies(environ):
    """A request's cookies, as `request.cookies` gives them, parsed once per different
    Cookie header rather than at every request: a phone sends the same header until one
    of its cookies changes, and Werkzeug finds and parses it through every header of the
    request, a tenth of a kept page's cost. Shared between requests, so never changed;
    only a header the size of the box's own cookies is kept (anyone may send 64 KB)."""
    header = environ.get("HTTP_COOKIE", "")
    found = _parsed_cookies.get(header)
    if found is None:
        found = parse_cookie(header, cls=Parameters)
        if len(header) > MAX_KEPT_COOKIE_HEADER:
            return found
        if len(_parsed_cookies) >= MAX_VERIFIED_COOKIES:
            _parsed_cookies.clear()
        _parsed_cookies[header] = found
    return found


MAX_KEPT_COOKIE_HEADER = 4608  # a session of many owned objects (4 KB), the language, the phone
_parsed_cookies = {}


class KeptKeySigner(TimestampSigner):
    """itsdangerous's signer, the key it derives from the secret kept: the same secret and
    salt always derive the same key, and deriving it is a third of a signature's cost."""

    _derived = {}

    def derive_key(self, secret_key=None):
        secret = self.secret_keys[-1] if secret_key is None else secret_key
        known = (secret, self.salt, self.key_derivation, self.digest_method)
        key = self._derived.get(known)
        if key is None:
            key = self._derived[known] = super().derive_key(secret)
        return key


def cached_url_for(endpoint, **values):
    """url_for for templates: an address depends only on its endpoint and values (and
    where the app is mounted), so each is built once; Werkzeug's builder takes
    milliseconds on a router and a page asks for twenty. Static files are left to their
    hook (their name follows their content), and the memory is bounded."""
    if endpoint == "static" or "_external" in values:
        return url_for(endpoint, **values)
    key = (request.script_root, endpoint, *sorted(values.items()))
    try:
        found = _addresses.get(key)
    except TypeError:  # a value that cannot be a key (a list): built as usual
        return url_for(endpoint, **values)
    if found is None:
        found = url_for(endpoint, **values)
        if len(_addresses) >= MAX_ADDRESSES:
            _addresses.clear()
        _addresses[key] = found
    return found


MAX_ADDRESSES = 4000
_addresses = {}


class LazyRule(Rule):
    """Werkzeug's URL rule, its address builder compiled the first time it builds an
    address rather than at start-up: Werkzeug writes and compiles Python for each of the
    box's sixty rules, seconds on a router before the first page, most of them for pages
    nobody asks for in the first minutes."""

    def _compile_builder(self, append_unknown=True):
        compile_builder = super()._compile_builder
        compiled = []

        def build(rule, *args, **kwargs):
            if not compiled:
                compiled.append(compile_builder(append_unknown))
            return compiled[0](rule, *args, **kwargs)

        return build


def init_app(app):
    app.url_rule_class = LazyRule
    app.jinja_env.bytecode_cache = TemplateCache(app.extensions["box"].data_dir.cache / "templates")
    app.jinja_env.globals["url_for"] = cached_url_for
    app.session_interface = BoxSessions()
    app.response_class = PlainCookieResponse
