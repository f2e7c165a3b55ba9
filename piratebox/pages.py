"""The home page, the language switch and the health check."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request

from models import db
from piratebox import __version__, pagecache
from piratebox.board import logic as board
from piratebox.catalogue import logic as catalogue
from piratebox.events import logic as events
from piratebox.i18n import offered_languages
from piratebox.storage import disk_usage
from piratebox.web import LANGUAGE_COOKIE

bp = Blueprint("pages", __name__)

ONE_YEAR = 365 * 24 * 3600


@bp.get("/")
def home():
    return pagecache.render(lambda shown: render_template("home.html", **shown, kinds=events.KINDS),
                            ("catalogue", "events", "board"), data=on_the_home_page,
                            same_for=pagecache.EVERY_PHONE)


def on_the_home_page():
    """What the home page shows of the database (pagecache.render's `data`): the newest
    objects, the next events, the latest messages; each by id and version, so that a write
    to none of them (an older object reserved, a message further down) keeps the page."""
    here = current_app.extensions["box"]
    now = here.clock.now()
    shown = {"latest_items": catalogue.latest(6, here.role == "box"),
             "next_events": events.upcoming(now, here.role, 3),
             "latest_messages": board.latest(now, current_app.config["BOARD_DAYS"], 3)}
    return shown, tuple(catalogue.versions(records) for records in shown.values())


@bp.get("/lang/<code>")
def switch_language(code):
    target = request.args.get("next", "/")
    # Only a path on this box: never let the switch send a phone elsewhere ("/\\host" is
    # "//host" to a browser), nor carry a line break into the answer's headers.
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or not target.isprintable():
        target = "/"
    response = redirect(target)
    if code in offered_languages(current_app.config["LANGUAGES"]):
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=ONE_YEAR, httponly=True,
                            samesite="Lax")
    return response


@bp.get("/healthz")
def healthz():
    try:
        db.execute_sql("SELECT 1").fetchone()
        database_ok = True
    except Exception:  # noqa: BLE001 - any failure here is what the health check reports
        database_ok = False
    usage = disk_usage(current_app.extensions["box"].data_dir.path)
    body = {
        "status": "ok" if database_ok else "degraded",
        "database": "ok" if database_ok else "error",
        "disk_free_bytes": usage.free,
        "disk_total_bytes": usage.total,
        "version": __version__,
        "clock_doubtful": current_app.extensions["box"].clock.is_doubtful(),
    }
    response = jsonify(body)
    response.status_code = 200 if database_ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
