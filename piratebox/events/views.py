"""The agenda's pages: upcoming events, the archive, proposals, and calendar files."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from models import Event
from piratebox import pagecache
from piratebox.box import BORN_ELSEWHERE
from piratebox.errors import NotAllowed, TooManyRequests
from piratebox.events import counts, ics, logic
from piratebox.phone import admin_required, is_admin, public_base
from piratebox.web import (
    POSTED_A_LOT,
    actor,
    count_success,
    field_ranges,
    posted_once,
    within_limit,
)
from piratebox.web import gettext as _

bp = Blueprint("events", __name__)


def zone():
    return current_app.config["TIMEZONE"]


def calendar_response(events, filename):
    body = ics.calendar(events, current_app.extensions["box"].site["box_name"], actor().now,
                        public_base())
    return current_app.response_class(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/events/")
def index():
    here = actor()
    return pagecache.render(lambda: pagecache.render_framed(
        "events/index.html", (), events=logic.upcoming(here.now, here.role), archive=False,
        kinds=logic.KINDS), ("events",), same_for=pagecache.EVERY_PHONE)


@bp.get("/events/archive")
def archive():
    here = actor()
    return render_template("events/index.html", events=logic.archive(here.now, here.role),
                           archive=True, kinds=logic.KINDS)


@bp.get("/events/agenda.ics")
def agenda_ics():
    here = actor()
    return calendar_response(logic.upcoming(here.now, here.role), "agenda.ics")


def get_event(event_id, published_only=True):
    event = logic.shown_here(actor().role).where(Event.id == event_id).first()
    if event is None or (
            published_only and event.status != "published" and not is_admin()):
        abort(404)
    return event


@bp.get("/events/<event_id>")
def show(event_id):
    event = get_event(event_id)
    return render_template("events/show.html", event=event, kinds=logic.KINDS,
                           admin=is_admin(), ours=actor().may_change(event),
                           weighed=counts.is_weighed(event))


@bp.get("/events/<event_id>.ics")
def event_ics(event_id):
    return calendar_response([get_event(event_id)], "evenement.ics")


def render_form(values, errors, event=None, status=200):
    return render_template("events/form.html", values=values, errors=errors, event=event,
                           kinds=list(logic.KINDS.items()), limits=logic.LIMITS,
                           admin=is_admin()), status


@bp.route("/events/new", methods=["GET", "POST"])
def new():
    """Anyone proposes an event; the mediator's are published at once."""
    if request.method == "GET":
        return render_form({"kind": "repair_cafe"}, {})
    record_id, already = posted_once(Event)
    if already is not None:  # the same form posted again: the first post made it
        return redirect(url_for("events.show", event_id=already.id)
                        if already.status == "published" else url_for("events.index"))
    values, errors = logic.read_event(request.form, zone())
    if errors:
        return render_form({**values, "form_id": request.form.get("form_id")}, errors,
                           status=400)
    try:
        within_limit("post", current_app.config["POSTS_PER_HOUR"], POSTED_A_LOT)
    except TooManyRequests as error:
        return render_form({**values, "form_id": request.form.get("form_id")},
                           {"limit": error.localized(_)}, status=429)
    event = logic.create(values, actor(), published=is_admin(), record_id=record_id)
    count_success("post")
    if event.status == "published":
        flash(_("The event is in the agenda."), "success")
        return redirect(url_for("events.show", event_id=event.id))
    flash(_("Thank you! The mediator will publish your event soon."), "success")
    return redirect(url_for("events.index"))


@bp.route("/events/<event_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(event_id):
    event = get_event(event_id, published_only=False)
    if request.method == "GET":
        return render_form(logic.form_values(event, zone()), {}, event)
    values, errors = logic.read_event(request.form, zone())
    if errors:
        return render_form(values, errors, event, status=400)
    logic.update(event, values, actor())
    flash(_("Changes saved."), "success")
    return redirect(url_for("events.show", event_id=event.id))


@bp.route("/admin/events/<event_id>/count", methods=["GET", "POST"])
@admin_required
def count(event_id):
    """After the event: how many came, and the kilos weighed at a free-zone day."""
    event = get_event(event_id)
    if not actor().may_change(event):
        raise NotAllowed(BORN_ELSEWHERE)
    values, errors = counts.form_values(event, g.get("lang", "fr")), {}
    if request.method == "POST":
        values, errors = counts.read_count(request.form, event, actor().now)
        if not errors:
            counts.record(event, values, actor())
            flash(_("The event is counted: it is in the impact figures."), "success")
            return redirect(url_for("events.show", event_id=event.id))
    return render_template("events/count.html", event=event, values=values, errors=errors,
                           weighed=counts.is_weighed(event), limits={},
                           ranges=field_ranges(Event, *counts.COUNTED),
                           started=event.starts_at <= actor().now), 400 if errors else 200


@bp.get("/admin/events")
@admin_required
def proposals():
    return render_template("events/proposals.html", events=logic.pending(actor().role),
                           kinds=logic.KINDS)


@bp.post("/admin/events/<event_id>")
@admin_required
def decide(event_id):
    decision = request.form.get("decision")
    event = get_event(event_id, published_only=False)
    if decision == "delete":
        actor().delete(event)
    elif decision in ("publish", "reject"):
        logic.decide(event, decision, actor())
    else:
        abort(400)
    flash(_("Done."), "success")
    return redirect(url_for("events.proposals"))
