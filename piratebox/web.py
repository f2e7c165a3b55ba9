"""The request lifecycle shared by every page: database, language, security, errors, logging."""

import base64
import functools
import hashlib
import hmac
import io
import logging
import threading
from collections import Counter
from datetime import date
from functools import cached_property

from flask import (
    Request,
    current_app,
    flash,
    g,
    render_template,
    request,
    session,
)
from werkzeug.exceptions import HTTPException

from models import new_id
from piratebox import (
    __version__,
    bodies,
    moderation,
    multipart,
    pagecache,
    portal,
    rules,
    security,
    spool,
    tuning,
    typography,
)
from piratebox.errors import PirateboxError, TooManyRequests
from piratebox.i18n import N_, Translator, best_language, offered_languages
from piratebox.pagecache import CSRF_BYTES
from piratebox.patterns import ID
from piratebox.phone import (
    OWNED_KEY,
    SEEN_KEY,
    is_admin,
    looks_like_mediator,
    public_base,
    public_base_for,
    remember_phone,
    reporter,
)
from piratebox.timefmt import local_datetime

access_log = logging.getLogger("piratebox.access")
error_log = logging.getLogger("piratebox")

LANGUAGE_COOKIE = "lang"

class BoxRequest(Request):
    """Flask's request, with the body limits of piratebox/bodies.py: the bytes, parts and
    files each view accepts, counted while the form is parsed, and the file share's and
    the bundle's files streamed to the data disk."""

    # a form field held in memory (newer Werkzeug's default; older ones have none)
    max_form_memory_size = 500_000
    parameter_storage_class = tuning.Parameters

    @cached_property
    def body_rule(self):
        return bodies.rule_for(current_app, self.endpoint)

    @property
    def max_content_length(self):
        if not bodies.may_send(self.body_rule, session):
            return bodies.FORM_MAX_BYTES
        return self.body_rule.max_bytes

    def _get_stream_for_parsing(self):
        return bodies.counted(super()._get_stream_for_parsing(), self.mimetype,
                              self.mimetype_params.get("boundary"))

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        if not filename:
            return EmptyFileInput()
        rule = self.body_rule
        self.file_parts = getattr(self, "file_parts", 0) + 1
        if self.file_parts > rule.max_files:
            raise bodies.too_many_files(rule.max_files)
        if rule.spooled_file_bytes:
            if rule.rate_bucket and spool.is_first():
                within_limit(rule.rate_bucket, current_app.config[rule.rate_setting],
                             rule.rate_message)
            return spool.open_spool(total_content_length, rule.spooled_file_bytes)
        return super()._get_file_stream(total_content_length, content_type, filename,
                                        content_length)


class EmptyFileInput(io.BytesIO):
    """What a file input left empty sends: never kept, whatever it carries."""

    def write(self, data):
        return len(data)


def actor():
    """This box, now: what every change made through the web is stamped with."""
    return current_app.extensions["box"].actor()


POSTED_A_LOT = N_("You have posted a lot this hour: wait {minutes} minutes, or ask the "
                  "mediator.")
REPORTED_A_LOT = N_("Too many reports from this phone: try again later.")
CHANGED_A_LOT = N_("This phone has changed a lot on the box this hour: wait {minutes} "
                   "minutes, or ask the mediator.")
# Posts that keep limits of their own and write nothing a visitor could repeat to grow the
# database: the mediator must be able to log in on a full box, to make room.
OWN_LIMITS = {"admin.login", "admin.logout"}
REPORTS_PER_HOUR = 20


def photo_uploads():
    """The photos a form sent, as the files the form parser wrote: never read whole into
    memory (photos.process reads one at a time)."""
    return [f.stream for f in request.files.getlist("photos") if f and f.filename]


def deletion_confirmed():
    """Deleting takes two gestures, with scripts or without: a box ticked, then the button
    (templates/_forms.html, delete_form). The browser insists on the box, which is
    required; a browser that does not is answered here, with a message on its next page."""
    if request.form.get("confirm") == "yes":
        return True
    flash(gettext("Nothing was deleted: tick the box above the button first."), "error")
    return False


def posted_once(model):
    """(the id of the record a creating form makes, the record already stored under it or
    None). The form carries a random `form_id` drawn when its page was drawn (templates/
    _forms.html, form_id); the record's id is derived from it and this phone's own session
    (its CSRF token) under the box's secret key. A second tap on the button, or the post
    sent again, finds the record of the first and makes no other; no other phone can name
    a record id this way, even one it has seen."""
    form_id = request.form.get("form_id", "")
    if not ID.match(form_id):
        return new_id(), None
    secret = str(current_app.secret_key).encode("utf-8")
    mac = hmac.new(secret, f"{security.csrf_token()}:{form_id}".encode(), hashlib.sha256)
    record_id = base64.b32encode(mac.digest()[:16]).decode("ascii").rstrip("=").lower()
    return record_id, model.get_or_none(model.id == record_id)


def within_limit(bucket, per_hour, message):
    """Refuse with `message` when this phone already did `per_hour` of `bucket` this hour.

    Only what succeeded counts (call count_success after it), so a form refused for a
    missing field or a bad photo costs nothing; the mediator logged in is never limited.
    `message` is a message id that may name {minutes}, the wait before trying again.
    """
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


def report(record, subject, reason):
    """A visitor reports a record: once per phone, and a phone's reports limited together."""
    rate_limit("report", REPORTS_PER_HOUR, REPORTED_A_LOT)
    counted = moderation.report(record, subject, reason, actor(),
                                current_app.config["REPORTS_TO_HIDE"], reporter())
    flash(gettext("Thank you, the mediator will look at it.") if counted else
          gettext("This phone had already reported it: the mediator will look at it."),
          "success")


def gettext(message, /, **params):
    text = g.translator.gettext(message) if "translator" in g else message
    return text.format(**params) if params else text


def ngettext(singular, plural, n, **params):
    translator = g.translator if "translator" in g else Translator("en")
    params.setdefault("num", n)
    return translator.ngettext(singular, plural, n).format(**params)


# Phones send few different Accept-Language headers: each is read once (a router takes
# milliseconds for it), and a bounded number is remembered.
language_of = functools.lru_cache(maxsize=256)(best_language)
translator_for = functools.cache(Translator)


def choose_language():
    g.lang = language_for(current_app.config, request.environ)
    g.translator = translator_for(g.lang)


def language_for(config, environ):
    """The language a phone reads: the one it chose (its cookie), else the first its
    browser asks for that the box offers."""
    supported = offered_languages(config["LANGUAGES"])
    chosen = tuning.cookies(environ).get(LANGUAGE_COOKIE)
    if chosen in supported:
        return chosen
    return language_of(environ.get("HTTP_ACCEPT_LANGUAGE"), supported, config["DEFAULT_LANGUAGE"])


def before_request():
    refused = request.environ.get(bodies.REFUSED_KEY)
    if refused is not None:
        raise refused
    count_phone()
    portal_answer = current_app.extensions["portal"].answer()
    if portal_answer is not None:
        return portal_answer
    current_app.extensions["box"].clock.follow()
    remember_phone()
    choose_language()
    security.check_text_input()
    security.check_csrf()
    if request.method in security.UNSAFE_METHODS:
        limit_changes()
    return None


def serve_kept_pages(app):
    """The app behind the shortest way to a kept page. A page its view gives every phone
    alike (pagecache.render's `same_for`), kept and up to date, is served here without
    Flask making a request, a session and a response: they cost a kept page twice what
    the page itself does. What before_request does for such a request is done here too:
    the phone counted, the clock's correction followed, the portal's welcome; the query
    string was checked when the page was kept under it. The app answers the rest: a
    phone new to the box or without its form token yet (its view writes its session),
    with messages to show, holding a private link where that matters, the mediator, a
    probe for another host, an out-of-date page, any request while the access log is on."""
    wsgi_app, cache, box = app.wsgi_app, app.extensions["page_cache"], app.extensions["box"]
    sessions, portal_, config = app.session_interface, app.extensions["portal"], app.config

    def kept_answer(environ):
        host = environ.get("HTTP_HOST")
        shared = environ["REQUEST_METHOD"] == "GET" and cache.shared_at(environ)
        if not shared or not host or config["ACCESS_LOG"] or bodies.REFUSED_KEY in environ:
            return None
        box.clock.follow()
        now = box.clock.now()
        bucket = cache.bucket(now)
        if not cache.still_true(shared, bucket):
            return None  # a write since: rendered again by the app
        signed = sessions.read(app, tuning.cookies(environ).get(sessions.get_cookie_name(app)),
                               own_copy=False)
        if SEEN_KEY not in signed or "_flashes" in signed or looks_like_mediator(signed):
            return None
        key = pagecache.page_key(environ, language_for(config, environ),
                                 portal.is_mini_browser(environ.get("HTTP_USER_AGENT")),
                                 public_base_for(box.site, host), "")
        page = cache.kept(key, bucket)
        token = signed.get(security.CSRF_FIELD)
        address = environ.get("REMOTE_ADDR") or ""
        if (page is None or page.shared is None
                or not page.shared.personal_to.isdisjoint(signed.get(OWNED_KEY) or ())
                or (CSRF_BYTES in page.personal and not token)
                or not portal_.visits_the_box(host, environ.get("PATH_INFO", ""), address,
                                              environ)):
            return None
        if count_phone_at(app, address, now) and cache.kept(key, bucket) is None:
            return None  # the figures it shows counted this phone just now
        cache.served_ahead += 1
        body, headers = pagecache.personal_answer(page, environ.get("HTTP_IF_NONE_MATCH"),
                                                  lambda: token, lambda: None)
        if body is None:
            return "304 NOT MODIFIED", list(headers.items()), b""
        return "200 OK", [*headers.items(), ("Content-Type", page.shared.content_type),
                          ("Content-Length", str(len(body)))], body

    def application(environ, start_response):
        answer = kept_answer(environ)
        if answer is None:
            return wsgi_app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    return application


def count_phone():
    """Footfall: every phone on the wifi counts, the captive portal's probes included
    (a phone in the café is a visit even if nobody opens a page); the box's own health
    checks do not."""
    if request.endpoint != "pages.healthz":
        count_phone_at(current_app, request.remote_addr or "",
                       current_app.extensions["box"].clock.now())


def count_phone_at(app, address, now):
    """The phone counted; a count that changes changes the figures' pages, which show it
    (then True)."""
    if not app.extensions["footfall"].saw(address, now):
        return False
    app.extensions["page_cache"].changed(pagecache.FOOTFALL_SHOWN_IN)
    return True


def limit_changes():
    """Every state change of a visitor counts against its phone's hourly limit, and none is
    taken once the disk is down to half its reserve (the mediator's are)."""
    if request.endpoint in OWN_LIMITS or is_admin():
        return
    within_limit("change", current_app.config["CHANGES_PER_HOUR"], CHANGED_A_LOT)
    spool.check_room_to_write(current_app.extensions["box"].data_dir, current_app.config)


# app.extensions: set once the app's first answer has been written out. A start leaves for
# then what its first page does not need (app.py's `serve`).
FIRST_ANSWER = "first_answer"


def after_request(response):
    first_answer = current_app.extensions[FIRST_ANSWER]
    if not first_answer.is_set():
        response.call_on_close(first_answer.set)
    if request.method in security.UNSAFE_METHODS and response.status_code < 400:
        current_app.extensions["box"].clock.remember()
        current_app.extensions["page_cache"].changed(
            pagecache.sections_changed_by(request.blueprint))
        count_success("change")
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
    507: N_("The box is almost full."),
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
    if error.code == 413 and (request.content_length or 0) > request.max_content_length:
        # the same page, saying the limit, as when the server refuses it at the headers
        refusal = (bodies.body_too_large(request.body_rule)
                   if bodies.may_send(request.body_rule, session) else bodies.mediator_only())
        return handle_domain_error(refusal)
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
    # A fault a phone can trigger at will is logged once a minute, with how many times it
    # came since: a traceback per request would fill the log and wear the flash.
    kind = f"{type(error).__name__} on {request.endpoint}"
    unlogged = current_app.extensions.setdefault("unlogged_errors", Counter())
    if current_app.extensions["limiter"].hit("traceback", kind, 1, TRACEBACK_EVERY_SECONDS):
        unlogged[kind] += 1
    else:
        error_log.exception("unexpected error on %s %s (%d more like it not logged since)",
                            request.method, request.path, unlogged.pop(kind, 0))
    return error_page(500)


TRACEBACK_EVERY_SECONDS = 60


def menu():
    views = current_app.view_functions
    return [(endpoint, label) for endpoint, label in current_app.extensions["menu"]
            if endpoint in views]


def translations_for_templates():
    """`_` for this request's templates: the translator found once, not at every string
    (a page says fifty; on a router each look-up through Flask's `g` counts)."""
    if "translator" not in g:
        return gettext
    look_up = g.translator.singles.get

    def translate(message, **params):
        text = look_up(message, message)
        return text.format(**params) if params else text

    return translate


def template_globals():
    """What the templates see that depends on the request (the rest: TEMPLATE_GLOBALS, given
    once; a dict of them all made again at every rendering was a tenth of a small page's)."""
    translate = translations_for_templates()
    config = current_app.config
    return {
        "_": translate,
        "gettext": translate,
        "lang": g.get("lang", config["DEFAULT_LANGUAGE"]),
        "languages": offered_languages(config["LANGUAGES"]),
        "mini_browser": portal.in_mini_browser(),
    }


TEMPLATE_GLOBALS = {
    "ngettext": ngettext,
    "csrf_token": pagecache.csrf_token,
    "new_form_id": new_id,
    "flashes": pagecache.flashes,
    "row": pagecache.row,
    "kept_rows": pagecache.kept_rows,
    "live": pagecache.live,
    "menu": menu,
    "version": __version__,
    "public_base": public_base,
}


def display(function, *args, **kwargs):
    """Call a typography function with this request's language, zone and present time."""
    return function(*args, current_app.config["TIMEZONE"], g.get("lang", "fr"),
                    now=current_app.extensions["box"].clock.now(), **kwargs)


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
    this_year = local_datetime(current_app.extensions["box"].clock.now(),
                               current_app.config["TIMEZONE"]).year
    return typography.day(day, g.get("lang", "fr"), this_year)


def number_filter(value, decimals=0):
    return typography.number(value, g.get("lang", "fr"), decimals)


def quantity_filter(value, unit, decimals=0):
    return typography.quantity(value, unit, g.get("lang", "fr"), decimals)


def filesize_filter(size):
    return typography.filesize(size, g.get("lang", "fr"))


def field_ranges(model, *names):
    """{field: {"low", "high", "first"}} as the page writes them: what a form's error line
    puts in a message that gives a field's bounds (piratebox.rules.field_range)."""
    lang = g.get("lang", "fr")
    found = {}
    for name in names:
        found[name] = {key: value if isinstance(value, str) else typography.number(
            value, lang, 0 if float(value).is_integer() else 2)
            for key, value in rules.field_range(model, name).items()}
    return found


def datetime_input_filter(timestamp):
    """The value a datetime-local input expects."""
    return local_datetime(timestamp, current_app.config["TIMEZONE"]).strftime("%Y-%m-%dT%H:%M")


FILTERS = {"datetime": datetime_filter, "date": date_filter, "when": range_filter,
           "isoday": iso_day_filter, "number": number_filter, "quantity": quantity_filter,
           "filesize": filesize_filter, "datetime_input": datetime_input_filter}


def init_app(app):
    app.extensions[FIRST_ANSWER] = threading.Event()
    tuning.init_app(app)
    app.wsgi_app = security.with_security_headers(serve_kept_pages(app))
    for name, function in FILTERS.items():
        app.add_template_filter(function, name)
    app.before_request(before_request)
    app.after_request(after_request)
    app.request_class = BoxRequest
    multipart.install()
    app.teardown_request(spool.discard_unadopted)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(PirateboxError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.context_processor(template_globals)
    app.jinja_env.globals.update(TEMPLATE_GLOBALS, box=app.extensions["box"])
    # An error page must show even when the process is short of open files (a flood of
    # uploads): its templates are read now, once.
    for name in ("base.html", "error.html"):
        app.jinja_env.get_template(name)
