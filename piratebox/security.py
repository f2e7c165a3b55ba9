"""What protects every visitor: forged posts refused, headers set, broken input refused.

Cross-site forgery: a token kept in the signed session and repeated in every form. It
works on plain HTTP and in old phone browsers that send no Origin header; when a browser
does send Origin (or Referer), it must name this box as well.
"""

import hmac
import secrets
from urllib.parse import unquote_to_bytes, urlsplit

from flask import abort, request, session

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Werkzeug never fails on bad UTF-8: depending on its version it keeps the escapes or puts
# U+FFFD in their place. We refuse such input rather than store a mangled text, looking at
# the raw bytes where there are any (query string, urlencoded body) and at the decoded
# multipart fields otherwise. NUL has no place in a form either.
BROKEN_TEXT = ("\ufffd", "\x00")
URLENCODED = "application/x-www-form-urlencoded"


def csrf_token():
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(24)
    return token


def same_origin(header_value):
    """Does an Origin or Referer header name this very host?"""
    if not header_value or header_value == "null":
        return False
    return urlsplit(header_value).netloc.lower() == request.host.lower()


def check_csrf():
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    referer = request.headers.get("Referer")
    if origin is not None and not same_origin(origin):
        abort(403, description="cross-site")
    if origin is None and referer and not same_origin(referer):
        abort(403, description="cross-site")
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        abort(403, description="csrf")


def is_utf8_urlencoded(raw):
    return urlencoded_text(raw) is not None and b"%00" not in raw


def urlencoded_text(raw):
    """What url-encoded bytes say, keys, values and separators together; None when it is
    not UTF-8."""
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_text_input():
    """Refuse query strings and form fields that were not valid UTF-8 text."""
    query = request.query_string
    unsafe = request.method in UNSAFE_METHODS
    if not query and not unsafe:
        return  # most requests: nothing to read
    # The query string is read as one text: a field's key or value holds a broken
    # character exactly when the whole does, and parsing it into fields here would cost
    # a page that never reads them.
    text = urlencoded_text(query)
    if text is None or any(bad in text for bad in BROKEN_TEXT):
        abort(400, description="encoding")
    if not unsafe:
        return
    if request.mimetype == URLENCODED and not is_utf8_urlencoded(request.get_data(cache=True)):
        abort(400, description="encoding")
    for key, value in request.form.items(multi=True):
        if key is None:  # a multipart part without a name
            abort(400, description="encoding")
        if any(bad in key or bad in value for bad in BROKEN_TEXT):
            abort(400, description="encoding")


def with_security_headers(wsgi_app):
    """Every response gets the security headers it does not set itself (a shared file
    sets its own policy), even an error Flask answers on its own. They are added to the
    plain list of headers as the response starts: Werkzeug's header methods cost
    milliseconds a request on a router."""
    ours = [(name.lower(), (name, value)) for name, value in SECURITY_HEADERS.items()]

    def application(environ, start_response):
        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _value in headers}
            headers.extend(header for name, header in ours if name not in present)
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    return application
