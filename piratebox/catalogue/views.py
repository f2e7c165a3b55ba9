"""The catalogue's pages: browse, post, deposit, reserve, take, manage, report, moderate."""

import functools

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from models import Blob, BlobUse, Item
from piratebox import bodies, moderation, ownership, pagecache, phone, rules, villages, web
from piratebox.blobs import BlobStore
from piratebox.catalogue import categories, forms, lending, logic, rides
from piratebox.errors import BadInput, TooManyRequests
from piratebox.i18n import N_
from piratebox.patterns import SHA256
from piratebox.phone import admin_required, is_admin, public_url
from piratebox.sending import send_stored
from piratebox.web import (
    POSTED_A_LOT,
    actor,
    count_success,
    deletion_confirmed,
    photo_uploads,
    posted_once,
    within_limit,
)
from piratebox.web import gettext as _

bp = Blueprint("catalogue", __name__)

EXPIRY_SWEEP_SECONDS = 300
PHOTO_CACHE_SECONDS = 24 * 3600


def limit_posting():
    within_limit("post", current_app.config["POSTS_PER_HOUR"], POSTED_A_LOT)


CLAIMED_A_LOT = N_("This phone has reserved, taken or waited for many objects this hour: "
                   "wait {minutes} minutes, or ask the mediator.")


def limit_claims():
    """Reserving, taking, waiting: what one phone may do to other people's objects."""
    within_limit("claim", current_app.config["CLAIMS_PER_HOUR"], CLAIMED_A_LOT)


def sweep_expired():
    """Expire overdue objects, at most every few minutes, when someone looks at the list;
    give back the space of photos nothing shows any more (a moderated object's)."""
    state = current_app.extensions.setdefault("catalogue_sweep", {"at": 0.0})
    now = current_app.extensions["box"].clock.now()
    if now - state["at"] >= EXPIRY_SWEEP_SECONDS:
        state["at"] = now
        who = actor()
        if logic.expire_due(who):
            current_app.extensions["page_cache"].changed(pagecache.sections_changed_by(bp.name))
        who.blobs.collect()


def get_item(item_id, visible_only=True):
    """The object, or 404: deleted, hidden (but to its owner), or another village's that
    is not on offer to the network (kept in its village, or history)."""
    item = logic.find(item_id)
    if item is None or item.deleted or (visible_only and item.hidden and not owns(item)):
        abort(404)
    if item.origin != current_app.extensions["box"].id and not item.is_offered_to_network():
        abort(404)
    return item


def owns(item):
    return phone.owns(item.id)


def village_of(record):
    """The name of the village another village's record is in; None for this box's own.
    The names come from the hub (piratebox/villages.py), read once a request."""
    if record.origin == current_app.extensions["box"].id:
        return None
    if "villages" not in g:
        g.villages = villages.names()
    return g.villages.get(record.origin) or _("another village")


def reservation_key(item_id):
    """Where this phone's cookie keeps the private link of a reservation it made."""
    return f"{item_id}.reserved"


def reserved_here(item):
    """Did this phone reserve the object (and is it still reserved)?"""
    token = phone.token_for(reservation_key(item.id))
    return item.status == "reserved" and ownership.holds(item.id, token, ownership.CLAIMANT)


def my_waiting_entry(queue):
    """This phone's place on an object's waiting list, or None (the database is asked only
    about a place whose private link this phone holds)."""
    for entry in queue:
        token = phone.token_for(entry.id)
        if token and ownership.holds(entry.id, token, ownership.CLAIMANT):
            return entry
    return None


@bp.app_context_processor
@functools.cache
def template_lists():
    """The catalogue's choices and labels for every template: the same for the process's
    life, made once rather than at each rendering (a page rendered again after a write)."""
    return {
        "village_of": village_of,
        "allows": logic.allows,
        "category_choices": [(c.code, c.label) for c in categories.CATEGORIES],
        "object_category_choices": [(c.code, c.label) for c in categories.OBJECT_CATEGORIES],
        "is_service": categories.is_service,
        "is_ride": categories.is_ride,
        "mode_label": lambda item: categories.mode_label(item.category, item.mode),
        "category_labels": {c.code: c.label for c in categories.CATEGORIES},
        "kinds": list(categories.KINDS.items()),
        "modes": list(categories.MODES.items()),
        "service_modes": list(categories.SERVICE_MODES.items()),
        "service_places": [(code, label) for code, label in categories.PLACES.items()
                           if code != "box"],
        "places": list(categories.PLACES.items()),
        "place_labels": categories.PLACES,
        "condition_labels": categories.CONDITIONS,
        "conditions": list(categories.CONDITIONS.items()),
        "statuses": categories.STATUSES,
        "request_statuses": categories.REQUEST_STATUSES,
        "limits": forms.LIMITS,
    }


@bp.get("/items/")
def index():
    sweep_expired()
    args = request.args
    filters = {name: args.get(name, "") for name in
               ("q", "kind", "mode", "category", "place", "status")}
    page = args.get("page", "1")
    page = int(page) if page.isdigit() else 1

    def render_page(listing):
        read_rows, total = listing
        return pagecache.render_framed(
            "catalogue/index.html", (), items=read_rows(), total=total, page=page,
            pages=max(1, -(-min(total, logic.COUNT_CAP) // logic.PAGE_SIZE)),
            filters=filters, count_cap=logic.COUNT_CAP)

    return pagecache.render(render_page, ("catalogue",),
                            data=lambda: logic.listing(filters, page),
                            same_for=pagecache.EVERY_PHONE)


@bp.route("/items/new", methods=["GET", "POST"])
@bodies.accepts("photos")
def new():
    answering = logic.visible_request(request.args.get("answers"))
    category = request.args.get("category", "")
    values = {"kind": request.args.get("kind", "offer"), "mode": "give", "place": "home",
              "category": category if category in categories.BY_CODE else "",
              "condition": "", "answers": answering and answering.id}
    if request.method == "POST":
        values, errors = forms.read_item(request.form, current_app.config["TIMEZONE"])
        answering = logic.visible_request(values["answers"])
        values["answers"] = answering and answering.id
        published = None if errors else publish(values, errors)
        if published:
            return published
    else:
        errors = {}
        if answering:  # an answer has its own title, not the request's
            values.update(kind="offer", category=answering.category)
    return render_template("catalogue/new.html", values=values, errors=errors,
                           answering=answering), form_status(errors)


def form_status(errors):
    if not errors:
        return 200
    return 429 if "limit" in errors else 400


@bp.route("/items/deposit", methods=["GET", "POST"])
@bodies.accepts("photos")
def deposit():
    """Two taps at the café: a photo and a category, for what someone puts in the box."""
    values, errors = {"category": ""}, {}
    if request.method == "POST":
        values, errors = forms.read_deposit(request.form)
        if not errors:
            values["title"] = values["title"] or _(categories.BY_CODE[values["category"]].label)
            published = publish(values, errors)
            if published:
                return published
    return render_template("catalogue/deposit.html", values=values, errors=errors), \
        form_status(errors)


def publish(values, errors):
    """Create the object and go to its manage page; a refused photo or the posting limit
    becomes an error on the form, which keeps what was typed. The same form posted again
    (a double tap) makes no second object: it goes to the first one's manage page, whose
    private link this phone is given again."""
    record_id, already = posted_once(Item)
    if already is not None and not already.deleted:
        return created(already, ownership.give(already.id))
    values["form_id"] = request.form.get("form_id")
    try:
        limit_posting()
        item, token = logic.create({k: v for k, v in values.items() if k != "form_id"},
                                   photo_uploads(), actor(), record_id)
    except TooManyRequests as error:
        errors["limit"] = error.localized(_)
        return None
    except BadInput as error:
        errors["photos"] = error.localized(_)
        return None
    count_success("post")
    return created(item, token)


def created(item, token):
    phone.remember(item.id, token)
    session["just_created"] = item.id
    flash(_("Thank you! Your request is online.") if item.kind == "request"
          else _("Thank you! Your object is online."), "success")
    return redirect(url_for("catalogue.manage", item_id=item.id))


@bp.get("/items/<item_id>")
def show(item_id):
    """An object's page: one copy for every phone, another for its owner's; the phone of
    who reserved it or waits for it sees its own page, never kept."""
    if holds_a_claim_on(item_id):
        return render_show(get_item(item_id))
    owner = phone.owns(item_id)
    return pagecache.render(lambda shown: render_show(shown[0], queue=shown[1], owner=owner),
                            ("catalogue",), variant="owner" if owner else "",
                            data=lambda: on_its_page(item_id),
                            same_for=None if owner else lambda shown: links_to(item_id, shown[1]))


def links_to(item_id, queue):
    """The private links whose holder sees another page of an object than every phone
    does (show's owner and holds_a_claim_on): its owner's, its reservation's, a place on
    its list (`queue`, the live ones: those holds_a_claim_on asks for)."""
    return {item_id, reservation_key(item_id), *(entry.id for entry in queue)}


def on_its_page(item_id):
    """What an object's page shows of the database, read apart from its rendering
    (pagecache.render's `data`): the object, its list of people (a loan's waiting list, a
    ride's seats); and what a write can change of them: the object whole (another
    village's object hidden here has no new version), the list and the offers answering
    it (a request) by id and version. The answers are read whole only when the page is
    rendered. A new object elsewhere leaves this page as it was."""
    item = get_item(item_id)
    queue = queue_of(item)
    answers = logic.answer_versions(item) if item.kind == "request" else ()
    return (item, queue), (tuple(item.__data__.items()), answers, logic.versions(queue))


def queue_of(item):
    """Who waits for or rides with an offer (nobody, for any other object)."""
    return lending.queue(item) if has_a_list(item) else []


def holds_a_claim_on(item_id):
    """Does this phone hold the private link of a reservation of this object, or of a place
    on its waiting list? (Only a phone that holds private links costs a query.)"""
    links = phone.held_links()
    if not links:
        return False
    if reservation_key(item_id) in links:
        return True
    return not lending.live_entry_ids(item_id).isdisjoint(links)


def render_show(item, errors=None, values=None, queue=None, owner=None):
    """The object's page as this phone sees it: its owner, who reserved it, who waits
    (`queue`: queue_of(item), when read already)."""
    config, now = current_app.config, current_app.extensions["box"].clock.now()
    answers = logic.answers_to(item) if item.kind == "request" else []
    queue = queue_of(item) if queue is None else queue
    reserver = reserved_here(item)
    return render_template(
        "catalogue/show.html", item=item, owner=owns(item) if owner is None else owner,
        reserver=reserver,
        reservation_url=public_url("catalogue.reservation_link", item_id=item.id,
                                   token=phone.token_for(reservation_key(item.id)))
        if reserver else None,
        waiting=my_waiting_entry(queue), queue_length=len(queue),
        can_wait=lending.can_wait_for(item), answers=answers, errors=errors or {},
        changeable=actor().may_change(item),
        values=values or {}, overdue=lending.is_overdue(item, now, config["TIMEZONE"]),
        limits={**forms.LIMITS, **lending.field_limits()},
        seats_left=rides.seats_left(item, len(queue)), has_left=rides.has_left(item, now),
        can_take_seat=rides.can_take_seat(item, now) and actor().may_change(item))


def has_a_list(item):
    """Does the object keep a list of people: who waits for a loan, who took a seat?"""
    return item.kind == "offer" and (item.mode == "lend" or categories.is_ride(item.category))


@bp.post("/items/<item_id>/reserve")
def reserve(item_id):
    item = get_item(item_id)
    values, errors = forms.read_reservation(request.form)
    if errors:
        return render_show(item, errors, request.form), 400
    limit_claims()
    token = logic.reserve(item, values, forms.read_avoided_purchase(request.form), actor())
    count_success("claim")
    phone.remember(reservation_key(item.id), token)
    flash(_("Reserved for you. Contact the owner to pick it up; this phone can cancel the "
            "reservation from the object's page."), "success")
    return redirect(url_for("catalogue.show", item_id=item.id))


@bp.get("/items/<item_id>/reservation")
def reservation_link(item_id):
    """The private link of a reservation, opened on another phone: it remembers it."""
    item = get_item(item_id)
    if phone.claim_link(item.id, ownership.CLAIMANT, cookie_key=reservation_key(item.id)):
        return redirect(url_for("catalogue.show", item_id=item.id))
    abort(404)


def for_this_phone(find):
    """A view only the phone holding a private link may use: the object (or 404), then what
    `find(item)` says this phone holds there (or 403); back to the object's page after."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(item_id):
            item = get_item(item_id)
            held = find(item)
            if not held:
                abort(403)
            view(item, held)
            return redirect(url_for("catalogue.show", item_id=item.id))
        return wrapped
    return decorate


@bp.post("/items/<item_id>/reservation/cancel")
@for_this_phone(reserved_here)
def cancel_reservation(item, _reserved):
    logic.cancel_reservation(item, actor())
    flash(_("Your reservation is cancelled: the object is free for someone else."), "success")


def claim_a_place(item_id, join, done):
    """Join an object's list (its waiting list, a ride's seats) with a name and how to be
    reached: `join(item, values, actor)` makes the entry; this phone keeps its link."""
    item = get_item(item_id)
    values, errors = lending.read_waiting(request.form)
    if errors:
        return render_show(item, errors, request.form), 400
    limit_claims()
    entry, token = join(item, values, actor())
    count_success("claim")
    phone.remember(entry.id, token)
    flash(_(done), "success")
    return redirect(url_for("catalogue.show", item_id=item.id))


@bp.post("/items/<item_id>/waiting")
def join_waiting_list(item_id):
    return claim_a_place(item_id, lending.join, N_("You are on the waiting list. The owner "
                                                   "sees it and will contact you."))


@bp.post("/items/<item_id>/waiting/leave")
@for_this_phone(lambda item: my_waiting_entry(lending.queue(item)))
def leave_waiting_list(item, entry):
    lending.leave(entry, actor())
    flash(_("You have left the waiting list."), "success")


@bp.post("/items/<item_id>/seat")
def take_seat(item_id):
    return claim_a_place(item_id, rides.take_seat, N_(
        "Your seat is taken. The driver sees your name; this phone can give the seat back "
        "from the ride's page."))


@bp.post("/items/<item_id>/seat/leave")
@for_this_phone(lambda item: my_waiting_entry(lending.queue(item)))
def leave_seat(item, entry):
    lending.leave(entry, actor())
    flash(_("You gave your seat back."), "success")


@bp.post("/items/<item_id>/take")
def take(item_id):
    item = get_item(item_id)
    limit_claims()
    logic.transition(item, "take", actor(),
                     avoided_purchase=forms.read_avoided_purchase(request.form))
    count_success("claim")
    flash(_("Enjoy it! The object is marked as taken."), "success")
    return redirect(url_for("catalogue.show", item_id=item.id))


@bp.post("/items/<item_id>/report")
def report(item_id):
    item = get_item(item_id)
    web.report(item, "item", request.form.get("reason", ""))
    return redirect(url_for("catalogue.index"))


@bp.get("/items/<item_id>/manage")
@phone.owner_only(lambda item_id: get_item(item_id, visible_only=False))
def manage(item):
    """The owner's page. A manage link carries ?token=; it is moved into the cookie."""
    just_created = session.pop("just_created", None) == item.id
    return render_manage(item, item.__data__, {}, just_created=just_created)


def manage_url(item):
    """The owner's private link, as it must be typed or scanned on another phone."""
    token = phone.token_for(item.id)
    return public_url("catalogue.manage", item_id=item.id, token=token)


def render_manage(item, values, errors, just_created=False, loan=None, status=200):
    config, now = current_app.config, current_app.extensions["box"].clock.now()
    queue = queue_of(item)
    if categories.is_ride(item.category) and item.ride_at is not None and "day" not in values:
        values = {**values, **rides.form_values(item, config["TIMEZONE"])}
    return render_template(
        "catalogue/manage.html", item=item, just_created=just_created,
        manage_url=manage_url(item), values=values, errors=errors,
        actions=logic.actions_for(item), queue=queue, has_left=rides.has_left(item, now),
        loan=loan or {"lent_to": item.reserved_by or (queue[0].pseudonym if queue else "")},
        overdue=lending.is_overdue(item, now, config["TIMEZONE"])), status


@bp.get("/items/<item_id>/manage/qr.svg")
def manage_qr(item_id):
    """The manage link as a QR code, to screenshot or scan with another phone."""
    from piratebox.printing import qr

    item = get_item(item_id, visible_only=False)
    if not owns(item):
        abort(403)
    response = current_app.response_class(qr.svg(manage_url(item)), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/items/<item_id>/manage/<action>")
@bodies.accepts("photos")  # "edit" may bring new photos
def owner_action(item_id, action):
    item = get_item(item_id, visible_only=False)
    if not owns(item):
        abort(403)
    if action == "delete":
        if not deletion_confirmed():
            return redirect(url_for("catalogue.manage", item_id=item.id))
        logic.delete(item, actor())
        flash(_("The object is deleted."), "success")
        return redirect(url_for("catalogue.index"))
    if action == "edit":
        return edit(item)
    if action not in logic.OWNER_ACTIONS_ALL:
        abort(404)
    if action == "confirm":
        others = rules.typed_whole(request.form.get("others")) or 0
        if others < 0:
            abort(400)
        rides.confirm(item, request.form.getlist("rode"), others, actor())
        flash(_(DONE_MESSAGES[action]), "success")
        return redirect(url_for("catalogue.manage", item_id=item.id))
    fields = {}
    if action == "lend":
        fields, errors = forms.read_loan(request.form)
        if errors:
            return render_manage(item, item.__data__, errors, loan=fields, status=400)
    who = actor()
    logic.transition(item, action, who, **fields)
    if action == "lend" and fields["lent_to"]:
        lending.served(item, fields["lent_to"], who)
    flash(_(DONE_MESSAGES[action]), "success")
    return redirect(url_for("catalogue.manage", item_id=item.id))


DONE_MESSAGES = {
    "confirm": N_("Thank you! The passengers who rode count in the village's figures."),
    "render": N_("Thank you for your help! It counts in the village's figures, and the "
                 "offer stays online for the next one."),
    "give": N_("Marked as given. Thank you for giving it a second life!"),
    "lend": N_("Marked as lent."),
    "return": N_("It is back and available again."),
    "release": N_("The reservation is cancelled: the object is available again."),
    "withdraw": N_("The object is withdrawn: visitors no longer see it as available."),
    "fulfil": N_("Good news! The request is marked as found."),
    "renew": N_("It stays online 30 more days."),
}


def edit(item):
    values, errors = forms.read_item(request.form, current_app.config["TIMEZONE"])
    values.pop("answers", None)
    keep = request.form.getlist("keep")  # the photos left ticked; the form ticks them all
    if not errors:
        limit_posting()  # new photos cost what a new object's do
        try:
            logic.edit(item, values, photo_uploads(), actor(), keep=keep)
        except BadInput as error:
            errors["photos"] = error.localized(_)
        else:
            count_success("post")
            flash(_("Changes saved."), "success")
            return redirect(url_for("catalogue.manage", item_id=item.id))
    return render_manage(item, {**values, "keep": keep}, errors, status=400)


@bp.get("/photos/<digest>.jpg")
def photo(digest):
    """A photo, while a record shows it: an object's to everyone while the object is
    visible, to its owner and the mediator while it is hidden, a tally's to the mediator.
    A deleted object's photos are gone at once (their space follows, see blobs.collect)."""
    if not SHA256.match(digest):
        abort(404)
    blob = Blob.get_or_none(Blob.hash == digest)
    if blob is None or blob.kind not in ("photo", "thumb"):
        abort(404)
    uses = list(BlobUse.select().where(BlobUse.hash == digest))
    public = any(use.shown for use in uses)
    if not public and not (uses and (is_admin() or any(phone.owns(use.record_id) for use in uses))):
        abort(404)
    path = BlobStore(current_app.extensions["box"].data_dir).path(digest)
    if not path.is_file():  # a damaged store: reported, never a server error
        abort(404)
    response = send_stored(path, mimetype="image/jpeg", etag=digest, conditional=True,
                           max_age=PHOTO_CACHE_SECONDS)
    # A day, not a year: a phone that saw a photo may keep it, but not for long after the
    # object is gone; a photo nobody may see is never kept by a shared cache.
    response.headers["Cache-Control"] = (f"public, max-age={PHOTO_CACHE_SECONDS}" if public
                                         else "private, no-store")
    return response


@bp.get("/admin/reports")
@admin_required
def reports():
    return render_template("catalogue/reports.html", rows=logic.reported_items(),
                           reasons=moderation.reasons("item"))


@bp.get("/admin/loans")
@admin_required
def loans():
    """Loans past their return date, for the mediator to remind who borrowed."""
    config, now = current_app.config, current_app.extensions["box"].clock.now()
    return render_template("catalogue/loans.html",
                           items=lending.overdue(now, config["TIMEZONE"]))


@bp.post("/admin/items/<item_id>/moderate")
@admin_required
def moderate(item_id):
    item = get_item(item_id, visible_only=False)
    decision = request.form.get("decision")
    if decision not in moderation.DECISIONS:
        abort(400)
    moderation.decide(item, decision, actor())
    flash(_("Done."), "success")
    return redirect(url_for("catalogue.reports"))
