"""The mediator's area: login, the dashboard, the clock."""

import functools
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

from piratebox import box
from piratebox.clock import plausible
from piratebox.errors import BadInput, TooManyRequests
from piratebox.i18n import N_
from piratebox.timefmt import display_zone
from piratebox.web import gettext as _

bp = Blueprint("admin", __name__, url_prefix="/admin")


def is_admin():
    clock = current_app.extensions["clock"]
    epoch = session.get("admin_epoch")
    since = session.get("admin_since", 0)
    hours = current_app.config["ADMIN_SESSION_HOURS"]
    return bool(epoch) and epoch == box.admin_epoch() and clock.now() - since < hours * 3600


def admin_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not is_admin():
            return redirect(url_for("admin.index"))
        return view(*args, **kwargs)

    return wrapped


@bp.get("/")
def index():
    if not box.has_password():
        return render_template("admin/no_password.html",
                               data_dir=current_app.extensions["data_dir"].path)
    if not is_admin():
        return render_template("admin/login.html")
    clock = current_app.extensions["clock"]
    return render_template("admin/index.html", clock=clock, now=clock.now(),
                           waiting=waiting_counts(clock.now()))


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
        "events": len(events.pending()),
        "loans": len(lending.overdue(now, current_app.config["TIMEZONE"])),
    }


@bp.post("/login")
def login():
    config = current_app.config
    limiter = current_app.extensions["limiter"]
    address = request.remote_addr
    window = config["LOGIN_WINDOW_SECONDS"]
    wait = limiter.retry_after("login", address, config["LOGIN_ATTEMPTS"], window)
    if wait:
        raise TooManyRequests(N_("Too many wrong passwords: try again in {minutes} minutes."),
                              retry_after=wait, minutes=int(wait // 60) + 1)
    if not box.check_password(request.form.get("password", "")):
        limiter.record("login", address, window)
        flash(_("Wrong password."), "error")
        return render_template("admin/login.html"), 401
    limiter.reset("login", address)
    session.clear()  # a fresh session on privilege change: no fixation
    session["admin_epoch"] = box.admin_epoch()
    session["admin_since"] = current_app.extensions["clock"].now()
    flash(_("Welcome, you are logged in."), "success")
    return redirect(url_for("admin.index"))


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
    delta = current_app.extensions["clock"].correct(true_time, "admin")
    flash(_("The box's clock was set (moved by %(seconds)d s).", seconds=round(delta)),
          "success")
    return redirect(url_for("admin.index"))
