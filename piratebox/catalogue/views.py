"""The catalogue's pages: browse, post, deposit, reserve, take, manage, report, moderate."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from models import Blob, Item
from piratebox import moderation, ownership, pagecache
from piratebox.admin import admin_required
from piratebox.blobs import HASH_PATTERN, BlobStore
from piratebox.catalogue import categories, forms, logic
from piratebox.errors import BadInput
from piratebox.i18n import N_
from piratebox.web import (
    POSTED_A_LOT,
    REPORTED_A_LOT,
    REPORTS_PER_HOUR,
    actor,
    photo_uploads,
    rate_limit,
)
from piratebox.web import gettext as _

bp = Blueprint("catalogue", __name__)

EXPIRY_SWEEP_SECONDS = 300
ONE_YEAR = 365 * 24 * 3600


def limit_posting():
    rate_limit("post", current_app.config["POSTS_PER_HOUR"], POSTED_A_LOT)


def sweep_expired():
    """Expire overdue objects, at most every few minutes, when someone looks at the list."""
    state = current_app.extensions.setdefault("catalogue_sweep", {"at": 0.0})
    now = current_app.extensions["clock"].now()
    if now - state["at"] >= EXPIRY_SWEEP_SECONDS:
        state["at"] = now
        if logic.expire_due(actor()):
            current_app.extensions["page_cache"].changed(pagecache.sections_changed_by(bp.name))


def get_item(item_id, visible_only=True):
    item = logic.find(item_id)
    if item is None or item.deleted or (visible_only and item.hidden and not owns(item)):
        abort(404)
    return item


def owns(item):
    return owns_id(item.id)


def owns_id(item_id):
    """Only a phone that holds a token for this object costs a look at the database."""
    token = ownership.token_for(item_id)
    return bool(token) and logic.token_matches(item_id, token)


@bp.app_context_processor
def template_lists():
    return {
        "category_choices": [(c.code, c.label) for c in categories.CATEGORIES],
        "category_labels": {c.code: c.label for c in categories.CATEGORIES},
        "kinds": list(categories.KINDS.items()),
        "modes": list(categories.MODES.items()),
        "mode_labels": categories.MODES,
        "places": list(categories.PLACES.items()),
        "place_labels": categories.PLACES,
        "condition_labels": categories.CONDITIONS,
        "conditions": list(categories.CONDITIONS.items()),
        "statuses": categories.STATUSES,
        "limits": forms.LIMITS,
    }


@bp.get("/items/")
def index():
    sweep_expired()
    filters = {name: request.args.get(name, "") for name in
               ("q", "kind", "mode", "category", "place", "status")}
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() else 1

    def render_page():
        rows, total = logic.browse(filters, page)
        return render_template(
            "catalogue/index.html", items=rows, total=total, page=page,
            pages=max(1, -(-min(total, logic.COUNT_CAP) // logic.PAGE_SIZE)),
            filters=filters, count_cap=logic.COUNT_CAP)

    return pagecache.render(render_page, ("catalogue",))


@bp.route("/items/new", methods=["GET", "POST"])
def new():
    values = {"kind": request.args.get("kind", "offer"), "mode": "give", "place": "home",
              "category": "", "condition": "", "answers": request.args.get("answers")}
    answering = Item.get_or_none(Item.id == values["answers"]) if values["answers"] else None
    if answering:
        values.update(title=answering.title, category=answering.category)
    errors = {}
    if request.method == "POST":
        values, errors = forms.read_item(request.form)
        published = None if errors else publish(values, errors)
        if published:
            return published
    status = 400 if errors else 200
    return render_template("catalogue/new.html", values=values, errors=errors,
                           answering=answering), status


@bp.route("/items/deposit", methods=["GET", "POST"])
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
    status = 400 if errors else 200
    return render_template("catalogue/deposit.html", values=values, errors=errors), status


def publish(values, errors):
    """Create the object and go to its manage page; a refused photo becomes a field error."""
    limit_posting()
    try:
        item, token = logic.create(values, photo_uploads(), actor())
    except BadInput as error:
        errors["photos"] = error.localized(_)
        return None
    return created(item, token)


def created(item, token):
    ownership.remember(item.id, token)
    session["just_created"] = item.id
    flash(_("Thank you! Your object is online."), "success")
    return redirect(url_for("catalogue.manage", item_id=item.id))


@bp.get("/items/<item_id>")
def show(item_id):
    """An object's page; its owner's phone gets the variant with "Manage my object"."""
    owner = owns_id(item_id)

    def render_page():
        item = get_item(item_id, visible_only=not owner)
        answers = logic.answers_to(item) if item.kind == "request" else []
        return render_template("catalogue/show.html", item=item, owner=owner,
                               answers=answers, errors={}, values={})

    return pagecache.render(render_page, ("catalogue",), variant="owner" if owner else "")


@bp.post("/items/<item_id>/reserve")
def reserve(item_id):
    item = get_item(item_id)
    values, errors = forms.read_reservation(request.form)
    if errors:
        return render_template("catalogue/show.html", item=item, owner=False, answers=[],
                               errors=errors, values=request.form), 400
    logic.transition(item, "reserve", actor(),
                     avoided_purchase=forms.read_avoided_purchase(request.form), **values)
    flash(_("Reserved for you. Contact the owner to pick it up."), "success")
    return redirect(url_for("catalogue.show", item_id=item.id))


@bp.post("/items/<item_id>/take")
def take(item_id):
    item = get_item(item_id)
    logic.transition(item, "take", actor(),
                     avoided_purchase=forms.read_avoided_purchase(request.form))
    flash(_("Enjoy it! The object is marked as taken."), "success")
    return redirect(url_for("catalogue.show", item_id=item.id))


@bp.post("/items/<item_id>/report")
def report(item_id):
    item = get_item(item_id)
    rate_limit("report", REPORTS_PER_HOUR, REPORTED_A_LOT)
    reason = forms.text(request.form, "reason")[: forms.LIMITS["reason"]]
    moderation.report(item, "item", reason, actor(), current_app.config["REPORTS_TO_HIDE"])
    flash(_("Thank you, the mediator will look at it."), "success")
    return redirect(url_for("catalogue.index"))


@bp.get("/items/<item_id>/manage")
def manage(item_id):
    """The owner's page. A manage link carries ?token=; it is moved into the cookie."""
    item = get_item(item_id, visible_only=False)
    if ownership.claim_link(item.id, logic.token_matches):
        return redirect(url_for("catalogue.manage", item_id=item.id))
    if not owns(item):
        abort(403)
    just_created = session.pop("just_created", None) == item.id
    return render_manage(item, item.__data__, {}, just_created=just_created)


def manage_url(item):
    """The owner's private link, as it must be typed or scanned on another phone."""
    token = ownership.token_for(item.id)
    return current_app.config["SITE_URL"].rstrip("/") + url_for(
        "catalogue.manage", item_id=item.id, token=token)


def render_manage(item, values, errors, just_created=False):
    return render_template("catalogue/manage.html", item=item, just_created=just_created,
                           manage_url=manage_url(item), values=values, errors=errors)


@bp.get("/items/<item_id>/manage/qr.svg")
def manage_qr(item_id):
    """The manage link as a QR code, to screenshot or scan with another phone."""
    from piratebox import qr

    item = get_item(item_id, visible_only=False)
    if not owns(item):
        abort(403)
    response = current_app.response_class(qr.svg(manage_url(item)), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


OWNER_ACTIONS = {"release", "give", "lend", "return", "withdraw", "fulfil", "renew"}


@bp.post("/items/<item_id>/manage/<action>")
def owner_action(item_id, action):
    item = get_item(item_id, visible_only=False)
    if not owns(item):
        abort(403)
    if action == "delete":
        logic.delete(item, actor())
        flash(_("The object is deleted."), "success")
        return redirect(url_for("catalogue.index"))
    if action == "edit":
        return edit(item)
    if action not in OWNER_ACTIONS:
        abort(404)
    fields = {}
    if action == "lend":
        fields, errors = forms.read_loan(request.form)
        if errors:
            raise BadInput(N_("Give a date, for example 2026-12-31."))
    logic.transition(item, action, actor(), **fields)
    flash(_("Done."), "success")
    return redirect(url_for("catalogue.manage", item_id=item.id))


def edit(item):
    values, errors = forms.read_item(request.form)
    values.pop("answers", None)
    if not errors:
        try:
            logic.edit(item, values, photo_uploads(), actor())
        except BadInput as error:
            errors["photos"] = error.localized(_)
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("catalogue.manage", item_id=item.id))
    return render_manage(item, values, errors), 400


@bp.get("/photos/<digest>.jpg")
def photo(digest):
    if not HASH_PATTERN.match(digest):
        abort(404)
    blob = Blob.get_or_none(Blob.hash == digest)
    if blob is None or blob.kind not in ("photo", "thumb"):
        abort(404)
    path = BlobStore(current_app.extensions["data_dir"]).path(digest)
    if not path.is_file():  # a damaged store: reported, never a server error
        abort(404)
    response = send_file(path, mimetype="image/jpeg", etag=digest, conditional=True,
                         max_age=ONE_YEAR)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response


@bp.get("/admin/reports")
@admin_required
def reports():
    return render_template("catalogue/reports.html", rows=logic.reported_items())


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
