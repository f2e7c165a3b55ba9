"""The request lifecycle shared by every page: database, language, security, errors, logging."""

import functools
import logging

from flask import Request, current_app, g, render_template, request
from werkzeug.exceptions import HTTPException

from piratebox import __version__, pagecache, security, tuning
from piratebox.blobs import BlobStore
from piratebox.box import Actor
from piratebox.errors import PirateboxError, TooManyRequests
from piratebox.files import upload
from piratebox.i18n import N_, Translator, best_language
from piratebox.photos import MAX_PHOTO_BYTES
from piratebox.timefmt import format_datetime, local_datetime

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


def rate_limit(bucket, per_hour, message):
    """Count one more of `bucket` for this phone's address, or refuse with `message`.

    `message` is a message id that may name {minutes}, the wait before trying again.
    """
    wait = current_app.extensions["limiter"].hit(bucket, request.remote_addr, per_hour, 3600)
    if wait:
        raise TooManyRequests(message, retry_after=wait, minutes=int(wait // 60) + 1)


def gettext(message, **params):
    text = g.translator.gettext(message) if "translator" in g else message
    return text % params if params else text


def ngettext(singular, plural, n, **params):
    translator = g.translator if "translator" in g else Translator("en")
    params.setdefault("num", n)
    return translator.ngettext(singular, plural, n) % params


# Phones send few different Accept-Language headers: each is read once (a router takes
# milliseconds for it), and a bounded number is remembered.
language_of = functools.lru_cache(maxsize=256)(best_language)
translator_for = functools.cache(Translator)


def choose_language():
    config = current_app.config
    supported = tuple(config["LANGUAGES"].split(","))
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen not in supported:
        chosen = language_of(request.headers.get("Accept-Language"), supported,
                             config["DEFAULT_LANGUAGE"])
    g.lang = chosen
    g.translator = translator_for(chosen)


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
    if request.method in security.UNSAFE_METHODS and response.status_code < 400:
        current_app.extensions["clock"].remember()
        current_app.extensions["page_cache"].changed(
            pagecache.sections_changed_by(request.blueprint))
    if current_app.config["ACCESS_LOG"]:
        access_log.info(
            '%s "%s %s" %s %s',
            request.remote_addr, request.method, request.full_path.rstrip("?"),
            response.status_code, response.content_length or "-",
        )
    return response


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


def translations_for_templates():
    """`_` for this request's templates: the translator found once, not at every string
    (a page says fifty; on a router each look-up through Flask's `g` counts)."""
    if "translator" not in g:
        return gettext
    look_up = g.translator.singles.get

    def translate(message, **params):
        text = look_up(message, message)
        return text % params if params else text

    return translate


def template_globals():
    translate = translations_for_templates()
    return {
        "_": translate,
        "gettext": translate,
        "ngettext": ngettext,
        "csrf_token": pagecache.csrf_token,
        "flashes": pagecache.flashes,
        "row": pagecache.row,
        "menu": menu,
        "box": current_app.extensions["box"],
        "version": __version__,
        "lang": g.get("lang", current_app.config["DEFAULT_LANGUAGE"]),
        "languages": current_app.config["LANGUAGES"].split(","),
    }


def datetime_filter(timestamp):
    return format_datetime(timestamp, current_app.config["TIMEZONE"], g.get("lang", "fr"))


def datetime_input_filter(timestamp):
    """The value a datetime-local input expects."""
    return local_datetime(timestamp, current_app.config["TIMEZONE"]).strftime("%Y-%m-%dT%H:%M")


def init_app(app):
    tuning.init_app(app)
    app.wsgi_app = security.with_security_headers(app.wsgi_app)
    app.add_template_filter(datetime_filter, "datetime")
    app.add_template_filter(datetime_input_filter, "datetime_input")
    app.before_request(before_request)
    app.after_request(after_request)
    app.request_class = BoxRequest
    app.teardown_request(upload.discard_unadopted)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(PirateboxError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.context_processor(template_globals)
