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
    return pagecache.render(
        lambda read: render_template("home.html", **read(), kinds=events.KINDS),
        ("catalogue", "events", "board"), data=on_the_home_page, same_for=pagecache.EVERY_PHONE)


def on_the_home_page():
    """What the home page shows of the database (pagecache.render's `data`): the newest
    objects, the next events, the latest messages; each by id and version, so that a write
    to none of them (an older object reserved, a message further down) keeps the page.
    The objects and messages are read whole only when the page is rendered (the events
    are few, and whether one is over is read from the whole of it)."""
    here = current_app.extensions["box"]
    now, village_only = here.clock.now(), here.role == "box"
    days = current_app.config["BOARD_DAYS"]
    next_events = events.upcoming(now, here.role, 3)

    def read():
        return {"latest_items": catalogue.latest(6, village_only), "next_events": next_events,
                "latest_messages": board.latest(now, days, 3)}

    return read, (catalogue.latest_versions(6, village_only), catalogue.versions(next_events),
                  board.latest_versions(now, days, 3))


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
