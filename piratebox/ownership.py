"""Private links: how an anonymous villager keeps the right to change what they posted.

Posting an object or a file gives a random token, shown once as a link and a QR code
and remembered in the phone's signed session cookie (piratebox/phone.py). The box keeps
only its hash, in one table (models.PrivateKey) for every kind of link: its holder is
the record's OWNER, or a CLAIMANT (who reserved an object, or waits for it).
"""

import hashlib
import hmac
import secrets

from models import Prepared, PrivateKey, slot

OWNER = "owner"
CLAIMANT = "claimant"


def new_token():
    return secrets.token_urlsafe(18)


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matches(stored_hash, token):
    """Constant-time check of a token against the stored hash (None: no key stored)."""
    if not token or stored_hash is None:
        return False
    return hmac.compare_digest(stored_hash, token_hash(token))


# every post of an object or a file gives one: prepared, as the pages' queries are
_GIVE = Prepared(lambda: PrivateKey.insert(
    record_id=slot("record"), holder=slot("holder"), token_hash=slot("hash")).on_conflict(
    conflict_target=[PrivateKey.record_id, PrivateKey.holder],
    update={PrivateKey.token_hash: slot("hash")}))


def give(record_id, holder=OWNER):
    """A new private link of `record_id` for `holder` (replacing any earlier one); the token."""
    token = new_token()
    _GIVE.execute(record=record_id, holder=holder, hash=token_hash(token))
    return token


def holds(record_id, token, holder=OWNER):
    """Is `token` the private link of `record_id` for `holder`?"""
    key = PrivateKey.get_or_none((PrivateKey.record_id == record_id)
                                 & (PrivateKey.holder == holder))
    return matches(key and key.token_hash, token)


def forget(record_id, holder=OWNER):
    PrivateKey.delete().where((PrivateKey.record_id == record_id)
                              & (PrivateKey.holder == holder)).execute()
