"""The map of initiatives' pages: the map and the list, one initiative, the printable
sheet, and the mediator's form."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from models import Initiative
from piratebox import moderation, pagecache, rules
from piratebox.box import BORN_ELSEWHERE
from piratebox.errors import NotAllowed
from piratebox.initiatives import KINDS, THEMES, logic
from piratebox.phone import admin_required, is_admin
from piratebox.web import actor, deletion_confirmed, field_ranges, posted_once
from piratebox.web import gettext as _

bp = Blueprint("initiatives", __name__)
SECTIONS = ("initiatives",)  # what the public pages show, cleared by this blueprint's writes


def chosen():
    """The list's filters, as the query string gives them (a GET form: no JavaScript)."""
    theme = request.args.get("theme", "")
    return (theme if theme in THEMES else ""), request.args.get("commune", "")[:120]


def listing(template, **extra):
    theme, commune = chosen()
    found = logic.shown(theme, commune)
    numbers = logic.numbered(found)
    svg, unplaced = logic.map_svg(found, numbers, _("Map of the initiatives"))
    # The map is SVG drawn by drawing.py, which escapes every text it writes.
    return render_template(
        template, groups=logic.by_commune(found), numbers=numbers, count=len(found),
        unplaced=unplaced, map=Markup(svg),  # noqa: S704 - escaped inside
        theme=theme, commune=commune, communes=logic.commune_names(),
        themes=list(THEMES.items()), theme_labels=THEMES, kinds=KINDS,
        admin=is_admin(), any_recorded=bool(found) or Initiative.live().exists(),
        hidden=logic.hidden_here() if is_admin() else [], **extra)


@bp.get("/initiatives/")
def index():
    return pagecache.render(lambda: listing("initiatives/index.html"), SECTIONS,
                            same_for=pagecache.EVERY_PHONE)


@bp.get("/initiatives/print")
def sheet():
    """An A4 sheet of the map and the list, for the café's wall or the town hall."""
    return pagecache.render(lambda: listing("initiatives/sheet.html", now=actor().now),
                            SECTIONS)


def get_initiative(initiative_id):
    initiative = Initiative.live().where(Initiative.id == initiative_id).first()
    if initiative is None:
        abort(404)
    return initiative


@bp.get("/initiatives/<initiative_id>")
def show(initiative_id):
    initiative = get_initiative(initiative_id)
    if initiative.hidden and not is_admin():
        abort(404)
    recorder, village = logic.recorded_by(initiative, actor())
    return render_template("initiatives/show.html", initiative=initiative, kinds=KINDS,
                           themes=THEMES, admin=is_admin(), ours=recorder == "here",
                           recorder=recorder, village=village,
                           moderates=actor().may_moderate(initiative),
                           drawn=logic.communes.on_map(initiative))


def render_form(values, errors, initiative=None, status=200):
    return render_template("initiatives/form.html", values=values, errors=errors,
                           initiative=initiative, kinds=list(KINDS.items()),
                           themes=list(THEMES.items()), limits=logic.LIMITS,
                           ranges=field_ranges(Initiative, "latitude", "longitude"),
                           area=rules.MAP_AREA), status


@bp.route("/admin/initiatives/new", methods=["GET", "POST"])
@admin_required
def new():
    if request.method == "GET":
        return render_form({"kind": "other", "theme": "food"}, {})
    record_id, already = posted_once(Initiative)
    if already is not None:  # the same form posted again: the first post made it
        return redirect(url_for("initiatives.show", initiative_id=already.id))
    values, errors = logic.read_initiative(request.form)
    if errors:
        return render_form({**values, "form_id": request.form.get("form_id")}, errors,
                           status=400)
    initiative = logic.save(values, actor(), Initiative(id=record_id))
    flash(_("The initiative is on the map. It reaches the other villages at the next sync."),
          "success")
    return redirect(url_for("initiatives.show", initiative_id=initiative.id))


@bp.route("/admin/initiatives/<initiative_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(initiative_id):
    initiative = get_initiative(initiative_id)
    if not actor().may_change(initiative):
        raise NotAllowed(BORN_ELSEWHERE)
    if request.method == "GET":
        return render_form(logic.form_values(initiative), {}, initiative)
    values, errors = logic.read_initiative(request.form)
    if errors:
        return render_form(values, errors, initiative, status=400)
    logic.save(values, actor(), initiative)
    flash(_("Changes saved."), "success")
    return redirect(url_for("initiatives.show", initiative_id=initiative.id))


@bp.post("/admin/initiatives/<initiative_id>/delete")
@admin_required
def delete(initiative_id):
    initiative = get_initiative(initiative_id)
    if not deletion_confirmed():
        return redirect(url_for("initiatives.show", initiative_id=initiative.id))
    actor().delete(initiative)
    flash(_("The initiative is off the map."), "success")
    return redirect(url_for("initiatives.index"))


@bp.post("/admin/initiatives/<initiative_id>/hide")
@admin_required
def hide(initiative_id):
    """Hide an initiative, or show it again: another village's on this box only, until its
    village changes it; this box's own (or any, on the hub) on the whole network."""
    initiative = get_initiative(initiative_id)
    hiding = request.form.get("hidden") == "yes"
    moderation.set_hidden(initiative, hiding, actor())
    flash(_("The initiative is hidden on this box.") if hiding
          else _("The initiative is on the map again."), "success")
    return redirect(url_for("initiatives.show", initiative_id=initiative.id))
