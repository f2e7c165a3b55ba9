"""Private links: how an anonymous villager keeps the right to change what they posted.

Posting an object or a file gives a random token, shown once as a link and a QR code
and remembered in the phone's signed session cookie (piratebox/phone.py). The box keeps
only its hash.
"""

import hashlib
import hmac
import secrets


def new_token():
    return secrets.token_urlsafe(18)


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matches(stored_hash, token):
    """Constant-time check of a token against the stored hash (None: no key stored)."""
    if not token or stored_hash is None:
        return False
    return hmac.compare_digest(stored_hash, token_hash(token))
