"""This phone, as the box knows it without an account: what its signed session cookie
holds (the mediator's login, the private links it was given, when the box first saw it),
the keyed hashes moderation counts it by, and the address it used to reach the box.

The box keeps only the hash of a private link's token (piratebox/ownership.py); the
token itself lives in this phone's cookie, or in the link the villager kept.
"""

import functools
import hmac
import re
import secrets

from flask import abort, current_app, redirect, request, session, url_for

from piratebox import box, moderation, ownership, site

MEDIATOR_KEY = "admin_epoch"  # the password epoch the mediator logged in under
MEDIATOR_SINCE = "admin_since"
OWNED_KEY = "owned"  # record id -> token of a private link
MAX_OWNED = 40  # a cookie holds about 4 KB
PHONE_KEY = "phone"  # this phone's own random id
SEEN_KEY = "seen"  # when the box first saw this phone


# --- the mediator -----------------------------------------------------------------------

def is_admin():
    epoch = session.get(MEDIATOR_KEY)
    if not epoch:  # a villager's phone, asked several times a page: nothing more to look up
        return False
    since = session.get(MEDIATOR_SINCE, 0)
    hours = current_app.config["ADMIN_SESSION_HOURS"]
    return (epoch == box.admin_epoch()
            and current_app.extensions["box"].clock.now() - since < hours * 3600)


def admin_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not is_admin():
            return redirect(url_for("admin.index"))
        return view(*args, **kwargs)

    return wrapped


def looks_like_mediator(signed_session):
    """What a session says before the database is asked (the server's guard): the
    mediator's, or one that was (its password changed since)."""
    return bool(signed_session.get(MEDIATOR_KEY))


# --- private links ----------------------------------------------------------------------

def remember(record_id, token):
    owned = dict(session.get(OWNED_KEY, {}))
    owned[record_id] = token
    session[OWNED_KEY] = dict(list(owned.items())[-MAX_OWNED:])


def held_links():
    """{record id (or a reservation's key): token} of the private links this phone holds."""
    return session.get(OWNED_KEY) or {}


def token_for(record_id):
    """The token this request carries for a record: from a form it posts, else from the
    cookie. A GET's body is never read: a browser sends none, and a page kept for every
    phone (an object's) would show whoever forged one their own place on it."""
    posted = request.form.get("token") if request.method == "POST" else None
    return posted or session.get(OWNED_KEY, {}).get(record_id)


def claim_link(record_id, holder=ownership.OWNER, cookie_key=None):
    """A private link carries ?token=: if it is right, move it into this phone's cookie
    (under `cookie_key`, by default the record's id).

    Returns True when the page should redirect to itself without the token (so it never
    stays in the address bar or the history); a wrong token is a 403.
    """
    token = request.args.get("token")
    if not token:
        return False
    if not ownership.holds(record_id, token, holder):
        abort(403)
    remember(cookie_key or record_id, token)
    return True


def owns(record_id):
    """Does this phone hold the owner's private link of the record? Only a phone that
    holds a token for it costs a look at the database."""
    token = token_for(record_id)
    return bool(token) and ownership.holds(record_id, token)


def owner_only(load):
    """An owner's page (sqlite-web's require_table, for a private link): the view gets the
    record `load` finds from the URL's values (or its 404); a link's ?token= is taken into
    this phone's cookie, then the page redirects to itself without it; a phone that is not
    the owner is refused (403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(**values):
            record = load(**values)
            if claim_link(record.id):
                return redirect(url_for(request.endpoint, **values))
            if not owns(record.id):
                abort(403)
            return view(record)

        return wrapped

    return decorate


# --- what moderation counts ---------------------------------------------------------------

def reporter():
    """This phone as moderation counts it: keyed hashes of its address and cookie id, and
    whether the box first saw it long enough ago for its report to hide anything."""
    phone = session.get(PHONE_KEY)
    if not phone:
        phone = session[PHONE_KEY] = secrets.token_urlsafe(12)
    seen_for = current_app.extensions["box"].clock.now() - session.get(SEEN_KEY, float("inf"))
    return moderation.Reporter(address=keyed("address", request.remote_addr),
                               phone=keyed("phone", phone),
                               known=seen_for >= current_app.config["REPORTER_SEEN_HOURS"] * 3600)


def remember_phone():
    """Note in its cookie when the box first saw this phone (by the box's clock)."""
    if SEEN_KEY not in session:
        session[SEEN_KEY] = int(current_app.extensions["box"].clock.now())


def keyed(kind, value):
    secret = str(current_app.secret_key).encode("utf-8")
    return hmac.new(secret, f"{kind}:{value}".encode(), "sha256").hexdigest()[:32]


# --- the address it used ------------------------------------------------------------------

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
    return public_base_for(current_app.extensions["box"].site, request.host)


def public_base_for(settings, host):
    """public_base() of a phone that wrote `host`, with the box's `settings`."""
    configured = settings["site_url"]
    if configured:
        return configured
    if PLAIN_HOST.match(host):
        return f"http://{host}"
    return site.DEFAULT_ADDRESS


def public_url(endpoint, **values):
    return public_base() + url_for(endpoint, **values)
