"""Private links: how an anonymous villager keeps the right to change what they posted.

Posting an object or a file gives a random token, shown once as a link and a QR code
and remembered in the phone's signed session cookie. The box keeps only its hash.
"""

import hashlib
import hmac
import secrets

from flask import abort, request, session

OWNED_KEY = "owned"  # record id -> token, in this phone's signed session cookie
MAX_OWNED = 40  # a cookie holds about 4 KB


def new_token():
    return secrets.token_urlsafe(18)


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matches(stored_hash, token):
    """Constant-time check of a token against the stored hash (None: no key stored)."""
    if not token or stored_hash is None:
        return False
    return hmac.compare_digest(stored_hash, token_hash(token))


def remember(record_id, token):
    owned = dict(session.get(OWNED_KEY, {}))
    owned[record_id] = token
    session[OWNED_KEY] = dict(list(owned.items())[-MAX_OWNED:])


def token_for(record_id):
    """The token this request carries for a record: from a form, else from the cookie."""
    return request.form.get("token") or session.get(OWNED_KEY, {}).get(record_id)


def claim_link(record_id, token_matches):
    """A private link carries ?token=: if it is right, move it into this phone's cookie.

    Returns True when the page should redirect to itself without the token (so it never
    stays in the address bar or the history); a wrong token is a 403.
    """
    token = request.args.get("token")
    if not token:
        return False
    if not token_matches(record_id, token):
        abort(403)
    remember(record_id, token)
    return True
