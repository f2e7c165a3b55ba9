"""The mediator's area: login, the dashboard, the clock.

Wrong passwords are limited per address, and for the whole box: past
LOGIN_GLOBAL_ATTEMPTS an hour from all addresses together, a phone the mediator never
logged in from waits between two tries, a second after the first wrong one beyond, then
twice as long after each, never more than LOGIN_GLOBAL_LONGEST_WAIT_SECONDS: guesses slow
down, the mediator is never locked out for an hour. A phone that did log in keeps a signed
cookie that lets it past that box-wide wait (its own limit stays), and `piratebox
set-password` on the box starts a new password epoch, which clears it (see
docs/security.md).
"""

import functools
import math
import secrets
import time
from datetime import datetime

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadData, URLSafeTimedSerializer

from piratebox import box, tuning
from piratebox.clock import FAR_AHEAD_SECONDS, plausible
from piratebox.errors import BadInput, NotHere, TooManyRequests
from piratebox.i18n import N_
from piratebox.phone import MEDIATOR_KEY, MEDIATOR_SINCE, admin_required, is_admin
from piratebox.timefmt import display_zone
from piratebox.web import datetime_filter
from piratebox.web import gettext as _

bp = Blueprint("admin", __name__, url_prefix="/admin")

DEVICE_COOKIE = "cocote_mediator_phone"
DEVICE_DAYS = 365
TOO_MANY_HERE = N_("Too many wrong passwords: try again in {minutes} minutes.")
TOO_MANY_ON_THE_BOX = N_(
    "Too many wrong passwords on this box: a phone that never logged in waits {seconds} "
    "seconds before trying again. Log in from a phone you logged in with before, or set a "
    "new password on the box itself (piratebox set-password).")


def village_box_only(view):
    """A page for a village's café and its give box (the poster, the labels, the weekly
    tally): a hub has neither, and says so rather than print a village's words."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_app.extensions["box"].role == "hub":
            raise NotHere(N_("This page is for a village box: its café, its give box. A hub "
                             "has neither; each village prints its own."))
        return view(*args, **kwargs)

    return wrapped


@bp.get("/")
def index():
    if not box.has_password():
        return render_template("admin/no_password.html",
                               data_dir=current_app.extensions["box"].data_dir.path)
    if not is_admin():
        return render_template("admin/login.html")
    clock = current_app.extensions["box"].clock
    return render_template("admin/index.html", clock=clock, now=clock.now(),
                           system_now=time.time(), waiting=waiting_counts(clock.now()))


def waiting_counts(now):
    """What waits for the mediator: reported or hidden objects and messages, proposed
    events, loans past their date."""
    from models import Item, Message
    from piratebox import moderation
    from piratebox.catalogue import lending
    from piratebox.events import logic as events

    return {
        "items": len(moderation.to_review(Item, "item")),
        "messages": len(moderation.to_review(Message, "message")),
        "events": len(events.pending(current_app.extensions["box"].role)),
        "loans": len(lending.overdue(now, current_app.config["TIMEZONE"])),
    }


def device_serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="cocote-mediator-phone")


def known_device(epoch):
    """This phone's id if the mediator logged in from it under the current password."""
    cookie = tuning.cookies(request.environ).get(DEVICE_COOKIE, "")
    try:
        data = device_serializer().loads(cookie, max_age=DEVICE_DAYS * 24 * 3600)
    except BadData:
        return None
    return data.get("id") if isinstance(data, dict) and data.get("epoch") == epoch else None


def login_limits(epoch, device):
    """(bucket, key, window, seconds to wait before trying, message) of each limit a login
    attempt counts against."""
    config, limiter = current_app.config, current_app.extensions["limiter"]
    window = config["LOGIN_WINDOW_SECONDS"]
    mine = [("login", request.remote_addr)] + ([("login-phone", device)] if device else [])
    limits = [(bucket, key, window, limiter.retry_after(bucket, key, config["LOGIN_ATTEMPTS"],
                                                        window), TOO_MANY_HERE)
              for bucket, key in mine]
    if device:
        return limits
    box_window = config["LOGIN_GLOBAL_WINDOW_SECONDS"]
    return [*limits, ("login-box", epoch, box_window, limiter.backoff(
        "login-box", epoch, config["LOGIN_GLOBAL_ATTEMPTS"], box_window,
        config["LOGIN_GLOBAL_LONGEST_WAIT_SECONDS"]), TOO_MANY_ON_THE_BOX)]


@bp.post("/login")
def login():
    limiter = current_app.extensions["limiter"]
    epoch = box.admin_epoch()
    device = known_device(epoch)
    limits = login_limits(epoch, device)
    for _bucket, _key, _window, wait, message in limits:
        if wait:
            raise TooManyRequests(message, retry_after=wait, minutes=int(wait // 60) + 1,
                                  seconds=math.ceil(wait))
    if not box.check_password(request.form.get("password", "")):
        for bucket, key, window, _wait, _message in limits:
            limiter.record(bucket, key, window)
        flash(_("Wrong password."), "error")
        return render_template("admin/login.html"), 401
    limiter.reset("login", request.remote_addr)
    session.clear()  # a fresh session on privilege change: no fixation
    session[MEDIATOR_KEY] = epoch
    session[MEDIATOR_SINCE] = current_app.extensions["box"].clock.now()
    flash(_("Welcome, you are logged in."), "success")
    response = redirect(url_for("admin.index"))
    response.set_cookie(
        DEVICE_COOKIE, device_serializer().dumps({"id": device or secrets.token_urlsafe(12),
                                                  "epoch": epoch}),
        max_age=DEVICE_DAYS * 24 * 3600, path=url_for("admin.index"), httponly=True,
        samesite="Lax")
    return response


@bp.post("/logout")
def logout():
    session.clear()
    flash(_("You are logged out."), "success")
    return redirect(url_for("pages.home"))


def parse_browser_time(form):
    """The mediator's time: epoch milliseconds filled in by the page's script, or typed."""
    epoch_ms = form.get("epoch_ms", "").strip()
    if epoch_ms.isascii() and epoch_ms.isdigit():
        return int(epoch_ms) / 1000
    try:
        typed = datetime.fromisoformat(form.get("typed", "").strip())
    except ValueError:
        raise BadInput(N_("Give the date and time as shown on your phone.")) from None
    if typed.tzinfo is None:
        typed = typed.replace(tzinfo=display_zone(current_app.config["TIMEZONE"]))
    return typed.timestamp()


@bp.post("/clock")
@admin_required
def correct_clock():
    true_time = parse_browser_time(request.form)
    if not plausible(true_time):
        raise BadInput(N_("That date cannot be right: check the date on your phone."))
    clock = current_app.extensions["box"].clock
    believed = clock.now()
    delta = clock.correct(true_time, "admin")
    if delta < -FAR_AHEAD_SECONDS:
        flash(_("The box's clock was set back by {days} days: it believed it was {when}.",
                days=int(-delta // 86400), when=datetime_filter(believed)), "success")
    else:
        flash(_("The box's clock was set (moved by {seconds} s).", seconds=round(delta)),
              "success")
    return redirect(url_for("admin.index"))
