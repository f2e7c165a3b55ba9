"""QR codes and printables on the web: /qr/*, /print/*, and the mediator's settings and labels.

A printable page is 2480 x 3508 pixels: the server never draws one. It runs the `print`
command in a short-lived child process, one at a time, so the server's own memory stays
flat on a 128 MB router. The poster is drawn once per settings and language, in the
background while the visitor is told it is being prepared, and served from the data
directory afterwards; labels are drawn for each sheet the mediator asks for.
"""

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from models import Item, SharedFile
from piratebox import __version__, site
from piratebox.admin import village_box_only
from piratebox.errors import PrintFailed
from piratebox.i18n import N_
from piratebox.phone import public_base, public_url
from piratebox.printing import qr
from piratebox.sending import send_stored
from piratebox.web import gettext as _

log = logging.getLogger("piratebox")

NO_CACHE = {"Cache-Control": "no-cache"}  # settings can change: revalidate, cheaply
RENDERING = threading.Lock()  # two pages drawn at once would not fit in a router's RAM
PRINT_TIMEOUT_SECONDS = 600  # a router's CPU draws a sheet in tens of seconds
NOT_DRAWN = N_("The printable could not be drawn: try again, or print it from the command "
               "line (piratebox print).")


def current_site():
    return current_app.extensions["box"].site


def site_payload(which):
    settings = current_site()
    if which == "wifi":
        return qr.wifi_payload(settings["wifi_ssid"], settings["wifi_password"])
    if which == "site":  # on a screen: the address this phone used, unless one is set
        return public_base() + "/"
    if which == "address":  # on paper: never a Host a phone sent (see site.address)
        return site.address(settings) + "/"
    abort(404)


def item_url(item):
    return public_url("catalogue.show", item_id=item.id)


def code_svg(which):
    return current_app.response_class(qr.svg(site_payload(which)), mimetype="image/svg+xml",
                                      headers=NO_CACHE)


def code_png(which):
    return current_app.response_class(qr.png(site_payload(which)), mimetype="image/png",
                                      headers=NO_CACHE)


def item_code(item_id):
    item = Item.listed().where(Item.id == item_id).first()
    if item is None:
        abort(404)
    return current_app.response_class(qr.svg(item_url(item)), mimetype="image/svg+xml")


def file_code(file_id):
    """A shared file's page as a QR code, to pass it from one phone to another."""
    record = SharedFile.listed(current_app.extensions["box"].clock.now()).where(
        SharedFile.id == file_id).first()
    if record is None:
        abort(404)
    url = public_url("files.show", file_id=record.id)
    return current_app.response_class(qr.svg(url), mimetype="image/svg+xml")


@village_box_only
def poster_page():
    """The poster as a page, for printing from a browser."""
    return render_template("printing/poster.html", site=current_site(),
                           address=site.address(current_site()))


@village_box_only
def poster_pdf():
    """The poster for the current settings in this phone's language. Until it has been
    drawn, a page says it is being prepared (and reloads): no visitor's request waits for
    a drawing, and a visitor never causes more than one drawing per settings and language."""
    path = poster_path(g.lang)
    if not path.exists():
        if POSTERS.failed_lately(path):
            raise PrintFailed(NOT_DRAWN)
        POSTERS.start(current_app._get_current_object(), path, g.lang)
        response = current_app.make_response((render_template(
            "printing/preparing.html", seconds=PREPARING_RELOAD_SECONDS), 202))
        response.headers["Retry-After"] = str(PREPARING_RELOAD_SECONDS)
        response.headers.update(NO_CACHE)
        return response
    response = send_stored(path, mimetype="application/pdf",
                           download_name="affiche-cocote.pdf", conditional=True)
    response.headers.update(NO_CACHE)
    return response


def poster_path(lang):
    """Where the poster of the current settings in `lang` is kept: one file per settings
    and language; the settings' hash in its name (a language's name is not part of it)."""
    key = json.dumps([current_site(), __version__], sort_keys=True).encode()
    return current_app.extensions["box"].data_dir.printed / \
        f"poster-{lang}-{hashlib.sha256(key).hexdigest()[:16]}.pdf"


PREPARING_RELOAD_SECONDS = 5
FAILED_WAIT_SECONDS = 60  # a drawing that failed is tried again after this, not before


class PosterDrawings:
    """Posters drawn in the background, one after the other (RENDERING): a request that
    finds no poster starts its drawing and answers at once; one that finds it under way
    starts nothing."""

    def __init__(self):
        self._lock = threading.Lock()
        self._under_way = set()
        self._failed_at = {}

    def failed_lately(self, path):
        with self._lock:
            return time.monotonic() - self._failed_at.get(path, -FAILED_WAIT_SECONDS) \
                < FAILED_WAIT_SECONDS

    def start(self, app, path, lang):
        with self._lock:
            if path in self._under_way:
                return
            self._under_way.add(path)
        threading.Thread(target=self._draw, args=(app, path, lang), daemon=True,
                         name="poster").start()

    def _draw(self, app, path, lang):
        try:
            with app.app_context(), RENDERING:
                if not path.exists():
                    path.parent.mkdir(exist_ok=True)
                    print_in_child("poster", "--lang", lang, "--out", str(path))
                # replaced settings' posters go; this settings' other language stays
                settings = path.name.rsplit("-", 1)[1]
                for stale in path.parent.glob("poster-*.pdf"):
                    if not stale.name.endswith(f"-{settings}"):
                        stale.unlink(missing_ok=True)
        except PrintFailed:
            with self._lock:
                self._failed_at[path] = time.monotonic()
        finally:
            with self._lock:
                self._under_way.discard(path)


POSTERS = PosterDrawings()


def print_in_child(*arguments):
    """Run `piratebox print ...` for this box in a child process and wait for it."""
    app = current_app
    command = [sys.executable, "-m", "app", "--data", str(app.extensions["box"].data_dir.path),
               "print", *arguments]
    try:
        done = subprocess.run(command, cwd=app.root_path, capture_output=True, text=True,
                              timeout=PRINT_TIMEOUT_SECONDS,
                              env={**os.environ, "PIRATEBOX_SITE_URL": app.config["SITE_URL"]})
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode:
        log.error("print %s failed: %s", arguments[0],
                  done.stderr.strip() if done else "timed out")
        raise PrintFailed(NOT_DRAWN)


def settings():
    values, errors = dict(current_site()), {}
    if request.method == "POST":
        values, errors = site.validate(request.form)
        if not errors:
            apply_settings(site.save(values))
            flash(_("Settings saved. Print the poster again if the wifi changed."), "success")
            return redirect(url_for("printing.settings"))
    return render_template("printing/settings.html", values=values, errors=errors,
                           limits=site.LIMITS), 400 if errors else 200


def apply_settings(values):
    extensions = current_app.extensions
    extensions["box"].settings_changed(values)
    extensions["portal"].set_site_url(site.address(values))


@village_box_only
def labels():
    """Choose objects of the café's box and print a sheet of labels for them."""
    candidates = list(Item.in_cafe_box().limit(200))
    if request.method == "GET":
        return render_template("printing/labels.html", items=candidates)
    chosen = set(request.form.getlist("item"))
    items = [item.id for item in candidates if item.id in chosen]
    if not items:
        flash(_("Choose at least one object."), "error")
        return render_template("printing/labels.html", items=candidates), 400
    sheet = current_app.extensions["box"].data_dir.scratch() / f"labels-{os.urandom(6).hex()}.pdf"
    with RENDERING:
        print_in_child("labels", "--out", str(sheet),
                       *(part for item in items for part in ("--item", item)))
    try:
        document = sheet.read_bytes()  # a few hundred kilobytes a sheet
    finally:
        sheet.unlink(missing_ok=True)
    return current_app.response_class(document, mimetype="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="etiquettes.pdf"'})
