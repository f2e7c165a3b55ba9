"""Flask, Werkzeug and Jinja tuned for a router's CPU: what they do at start-up or at
every request that the box can do once. Each costs milliseconds here and tens of them on a
580 MHz MIPS core (measured with scripts/bench_router.py, see docs/benchmarks.md); none
changes what a page says.
"""

import io
import logging

from flask import request, url_for
from flask.sessions import SecureCookieSessionInterface
from jinja2 import BytecodeCache
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


class BoxSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its signing serializer made once rather than at
    every request (key derivation and all: milliseconds on a router)."""

    def __init__(self):
        self._serializers = {}

    def get_signing_serializer(self, app):
        key = app.secret_key
        if key not in self._serializers:
            self._serializers[key] = super().get_signing_serializer(app)
        return self._serializers[key]


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
