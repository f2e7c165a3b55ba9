"""The request lifecycle shared by every page: database, language, security, errors, logging."""

import logging
import re
from datetime import date

from flask import Request, current_app, g, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from models import db
from piratebox import __version__, pagecache, portal, security, site, typography
from piratebox.blobs import BlobStore
from piratebox.box import Actor
from piratebox.errors import PirateboxError, TooManyRequests
from piratebox.files import upload
from piratebox.i18n import N_, Translator, best_language
from piratebox.photos import MAX_PHOTO_BYTES
from piratebox.timefmt import local_datetime

access_log = logging.getLogger("piratebox.access")
error_log = logging.getLogger("piratebox")

LANGUAGE_COOKIE = "lang"

# Endpoints shown in the menu, in order, as soon as the feature that serves them exists.
MENU = [
    ("pages.home", N_("Home")),
    ("catalogue.index", N_("Objects")),
    ("files.index", N_("Files")),
    ("board.index", N_("Board")),
    ("events.index", N_("Agenda")),
    ("stats.index", N_("Impact")),
]


# What a Host header may look like to be written into a link: a name or an address and a
# port, nothing that could carry a path or a second host.
PLAIN_HOST = re.compile(
    r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def public_base():
    """The address links and QR codes carry on a page: the one the mediator set (or
    SITE_URL), else the one this phone used. The captive portal has already turned away
    every Host that is not the box's (piratebox/portal.py), and one that is not a plain
    host name is ignored: a forged Host changes nothing but the forger's own page (the
    page cache keys its copies by this address)."""
    configured = current_app.extensions["site"]["site_url"]
    if configured:
        return configured
    if PLAIN_HOST.match(request.host):
        return f"http://{request.host}"
    return site.DEFAULT_ADDRESS


def public_url(endpoint, **values):
    return public_base() + url_for(endpoint, **values)


UPLOAD_ENDPOINT = "files.upload_files"
BUNDLE_UPLOAD_ENDPOINT = "sync.upload"


class BoxRequest(Request):
    """Flask's request, except that the file share's upload form streams to the data disk,
    and it and the mediator's bundle upload have their own size limits (a form or a photo
    is small, a shared file or a bundle may be large)."""

    @property
    def max_content_length(self):
        config = current_app.config
        if self.endpoint == UPLOAD_ENDPOINT:
            return upload.request_limit(config)
        if self.endpoint == BUNDLE_UPLOAD_ENDPOINT:
            return config["SYNC_MAX_BUNDLE_MB"] * upload.MB + upload.MULTIPART_OVERHEAD
        return config["MAX_CONTENT_LENGTH"]

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        if self.endpoint == UPLOAD_ENDPOINT:
            return upload.open_spool(total_content_length)
        return super()._get_file_stream(total_content_length, content_type, filename,
                                        content_length)


def actor():
    """This box, now: what every change made through the web is stamped with."""
    extensions = current_app.extensions
    return Actor(box_id=extensions["box"]["id"], now=extensions["clock"].now(),
                 blobs=BlobStore(extensions["data_dir"]))


POSTED_A_LOT = N_("You have posted a lot this hour: wait {minutes} minutes, or ask the "
                  "mediator.")
REPORTED_A_LOT = N_("Too many reports from this phone: try again later.")
REPORTS_PER_HOUR = 20


def photo_uploads():
    """The photos a form sent, as bytes; one byte over the limit is enough to refuse it."""
    return [f.read(MAX_PHOTO_BYTES + 1) for f in request.files.getlist("photos")
            if f and f.filename]


def within_limit(bucket, per_hour, message):
    """Refuse with `message` when this phone already did `per_hour` of `bucket` this hour.

    Only what succeeded counts (call count_success after it), so a form refused for a
    missing field or a bad photo costs nothing; the mediator logged in is never limited.
    `message` is a message id that may name {minutes}, the wait before trying again.
    """
    from piratebox.admin import is_admin

    if is_admin():
        return
    wait = current_app.extensions["limiter"].retry_after(bucket, request.remote_addr,
                                                         per_hour, 3600)
    if wait:
        raise TooManyRequests(message, retry_after=wait, minutes=int(wait // 60) + 1)


def count_success(bucket):
    current_app.extensions["limiter"].record(bucket, request.remote_addr, 3600)


def rate_limit(bucket, per_hour, message):
    """Check and count at once, for an action that cannot fail once admitted (a report)."""
    within_limit(bucket, per_hour, message)
    count_success(bucket)


def gettext(message, /, **params):
    text = g.translator.gettext(message) if "translator" in g else message
    return text % params if params else text


def ngettext(singular, plural, n, **params):
    translator = g.translator if "translator" in g else Translator("en")
    params.setdefault("num", n)
    return translator.ngettext(singular, plural, n) % params


def choose_language():
    config = current_app.config
    supported = config["LANGUAGES"].split(",")
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen not in supported:
        chosen = best_language(
            request.headers.get("Accept-Language"), supported, config["DEFAULT_LANGUAGE"]
        )
    g.lang = chosen
    g.translator = Translator(chosen)


def before_request():
    portal_answer = current_app.extensions["portal"].answer()
    if portal_answer is not None:
        return portal_answer
    current_app.extensions["clock"].follow()
    choose_language()
    security.check_text_input()
    security.check_csrf()
    return None


def after_request(response):
    security.add_security_headers(response)
    if request.method in security.UNSAFE_METHODS and response.status_code < 400:
        current_app.extensions["clock"].remember()
        current_app.extensions["page_cache"].changed()
    if current_app.config["ACCESS_LOG"]:
        access_log.info(
            '%s "%s %s" %s %s',
            request.remote_addr, request.method, request.full_path.rstrip("?"),
            response.status_code, response.content_length or "-",
        )
    return response


def close_database(_error=None):
    if not db.is_closed():
        db.close()


ERROR_TITLES = {
    400: N_("The request could not be understood."),
    403: N_("This action is not allowed."),
    404: N_("This page does not exist."),
    405: N_("This action is not possible here."),
    413: N_("What you sent is too large."),
    429: N_("Too many attempts: please wait a moment."),
    500: N_("The box ran into a problem."),
    503: N_("The box is not ready."),
}
ERROR_HINTS = {
    "csrf": N_("The form had expired or did not come from this box. Go back, reload the page "
               "and try again."),
    "cross-site": N_("The form did not come from this box."),
    "encoding": N_("The text sent was not valid (UTF-8 expected)."),
}


def error_page(status, message=None, retry_after=None):
    if "translator" not in g:
        choose_language()
    title = gettext(ERROR_TITLES.get(status, ERROR_TITLES[500]))
    response = current_app.make_response(
        (render_template("error.html", status=status, title=title, message=message), status)
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def handle_http_error(error):
    hint = ERROR_HINTS.get(error.description)
    response = error_page(error.code or 500, gettext(hint) if hint else None)
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_domain_error(error):
    if "translator" not in g:
        choose_language()
    retry = error.retry_after if isinstance(error, TooManyRequests) else None
    return error_page(error.status, error.localized(gettext), retry_after=retry)


def handle_unexpected(error):
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    error_log.exception("unexpected error on %s %s", request.method, request.path)
    return error_page(500)


def menu():
    views = current_app.view_functions
    return [(endpoint, label) for endpoint, label in MENU if endpoint in views]


def template_globals():
    return {
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "csrf_token": pagecache.csrf_token,
        "menu": menu,
        "box": current_app.extensions["box"],
        "version": __version__,
        "lang": g.get("lang", current_app.config["DEFAULT_LANGUAGE"]),
        "languages": current_app.config["LANGUAGES"].split(","),
        "mini_browser": portal.in_mini_browser(),
        "public_base": public_base,
    }


def display(function, *args, **kwargs):
    """Call a typography function with this request's language, zone and present time."""
    return function(*args, current_app.config["TIMEZONE"], g.get("lang", "fr"),
                    now=current_app.extensions["clock"].now(), **kwargs)


def datetime_filter(timestamp):
    return display(typography.date_time, timestamp)


def date_filter(timestamp):
    return display(typography.date, timestamp)


def range_filter(start, end=None):
    """An event's span: "samedi 5 décembre, 14 h – 17 h 30"."""
    return display(typography.time_range, start, end)


def iso_day_filter(text):
    """A day kept as YYYY-MM-DD (a loan's return date): "lundi 7 décembre"."""
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        return text
    this_year = local_datetime(current_app.extensions["clock"].now(),
                               current_app.config["TIMEZONE"]).year
    return typography.day(day, g.get("lang", "fr"), this_year)


def number_filter(value, decimals=0):
    return typography.number(value, g.get("lang", "fr"), decimals)


def quantity_filter(value, unit, decimals=0):
    return typography.quantity(value, unit, g.get("lang", "fr"), decimals)


def filesize_filter(size):
    return typography.filesize(size, g.get("lang", "fr"))


def datetime_input_filter(timestamp):
    """The value a datetime-local input expects."""
    return local_datetime(timestamp, current_app.config["TIMEZONE"]).strftime("%Y-%m-%dT%H:%M")


FILTERS = {"datetime": datetime_filter, "date": date_filter, "when": range_filter,
           "isoday": iso_day_filter, "number": number_filter, "quantity": quantity_filter,
           "filesize": filesize_filter, "datetime_input": datetime_input_filter}


def init_app(app):
    for name, function in FILTERS.items():
        app.add_template_filter(function, name)
    app.before_request(before_request)
    app.after_request(after_request)
    app.request_class = BoxRequest
    app.teardown_request(upload.discard_unadopted)
    app.teardown_request(close_database)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(PirateboxError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.context_processor(template_globals)
