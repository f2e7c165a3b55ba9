"""The style sheet, the scripts and the icon, under names that change with their content.

`url_for('static', filename='style.css')` gives /static/style.<hash>.css: a phone keeps
that a year without asking again (Cache-Control immutable), and the next version of the
file has another name. Text files are compressed once, in memory, and sent compressed to
every phone that accepts gzip. The plain name (/static/style.css) still answers, to be
revalidated at each use.
"""

import hashlib
import mimetypes
import os
import threading
from collections import namedtuple

from flask import abort, current_app, request
from werkzeug.security import safe_join

ONE_YEAR = 365 * 24 * 3600
# What the box ships; mimetypes would read the system's whole table at the first page.
TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml",
         "png": "image/png", "ico": "image/x-icon", "txt": "text/plain"}
COMPRESSED_TYPES = {"text/css", "text/javascript", "image/svg+xml", "text/plain"}
VERSION_LENGTH = 10

Asset = namedtuple("Asset", "stamp version body mimetype")


class Assets:
    """The files of one static folder, read once (again if they change on disk)."""

    def __init__(self, folder):
        self.folder = str(folder)
        self._assets = {}
        self._gzipped = {}
        self._lock = threading.Lock()

    def get(self, name):
        path = safe_join(self.folder, name)
        try:
            stat = os.stat(path) if path else None
        except OSError:
            stat = None
        if stat is None or not os.path.isfile(path):
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        asset = self._assets.get(name)
        if asset is None or asset.stamp != stamp:
            asset = self._load(name, path, stamp)
        return asset

    def _load(self, name, path, stamp):
        with open(path, "rb") as handle:
            body = handle.read()
        mimetype = (TYPES.get(name.rpartition(".")[2])
                    or mimetypes.guess_type(name)[0] or "application/octet-stream")
        asset = Asset(stamp, hashlib.sha256(body).hexdigest()[:VERSION_LENGTH], body, mimetype)
        with self._lock:
            self._assets[name] = asset
        return asset

    def gzipped(self, asset):
        """The asset compressed, once (at its first request, not at start-up)."""
        key = (asset.stamp, asset.version)
        if key not in self._gzipped:
            import gzip

            self._gzipped[key] = gzip.compress(asset.body, 9, mtime=0)
        return self._gzipped[key]


def versioned(name, version):
    stem, dot, extension = name.rpartition(".")
    return f"{stem}.{version}.{extension}" if dot else f"{name}.{version}"


def unversioned(filename):
    """("style.css", "3f2a9c1b0d") for "style.3f2a9c1b0d.css"; (filename, None) otherwise."""
    parts = filename.split(".")
    if len(parts) >= 3 and len(parts[-2]) == VERSION_LENGTH:
        return ".".join(parts[:-2] + parts[-1:]), parts[-2]
    return filename, None


def add_version(endpoint, values):
    """url_for's hook: the static file's name with its content's version."""
    if endpoint == "static" and "filename" in values:
        asset = current_app.extensions["assets"].get(values["filename"])
        if asset is not None:
            values["filename"] = versioned(values["filename"], asset.version)


def serve(filename):
    name, version = unversioned(filename)
    assets = current_app.extensions["assets"]
    asset = assets.get(name)
    if asset is None:
        asset, version = assets.get(filename), None
    if asset is None:
        abort(404)
    compressed = asset.mimetype in COMPRESSED_TYPES and "gzip" in request.accept_encodings
    response = current_app.response_class(assets.gzipped(asset) if compressed else asset.body,
                                          mimetype=asset.mimetype)
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.set_etag(asset.version + ("-gzip" if compressed else ""))
    if version == asset.version:
        response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    else:  # the plain name, or an older version's: what is there now, asked for each time
        response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def init_app(app, folder):
    app.extensions["assets"] = Assets(folder)
    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=serve)
    app.url_defaults(add_version)
