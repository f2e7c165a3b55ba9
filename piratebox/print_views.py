"""QR codes and printables on the web: /qr/*, /print/*, and the mediator's settings and labels."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from models import Item, SharedFile
from piratebox import qr, site
from piratebox.admin import admin_required
from piratebox.web import gettext as _

bp = Blueprint("printing", __name__)

NO_CACHE = {"Cache-Control": "no-cache"}  # settings can change: revalidate, cheaply


def current_site():
    return current_app.extensions["site"]


def site_payload(which):
    settings = current_site()
    if which == "wifi":
        return qr.wifi_payload(settings["wifi_ssid"], settings["wifi_password"])
    if which == "site":
        return settings["site_url"] + "/"
    abort(404)


def item_url(item):
    return current_site()["site_url"] + url_for("catalogue.show", item_id=item.id)


@bp.get("/qr/<which>.svg")
def code_svg(which):
    return current_app.response_class(qr.svg(site_payload(which)), mimetype="image/svg+xml",
                                      headers=NO_CACHE)


@bp.get("/qr/<which>.png")
def code_png(which):
    return current_app.response_class(qr.png(site_payload(which)), mimetype="image/png",
                                      headers=NO_CACHE)


@bp.get("/qr/items/<item_id>.svg")
def item_code(item_id):
    item = Item.listed().where(Item.id == item_id).first()
    if item is None:
        abort(404)
    return current_app.response_class(qr.svg(item_url(item)), mimetype="image/svg+xml")


@bp.get("/qr/files/<file_id>.svg")
def file_code(file_id):
    """A shared file's page as a QR code, to pass it from one phone to another."""
    record = SharedFile.listed(current_app.extensions["clock"].now()).where(
        SharedFile.id == file_id).first()
    if record is None:
        abort(404)
    url = current_site()["site_url"] + url_for("files.show", file_id=record.id)
    return current_app.response_class(qr.svg(url), mimetype="image/svg+xml")


@bp.get("/print/poster")
def poster_page():
    """The poster as a page, for printing from a browser."""
    return render_template("printing/poster.html", site=current_site())


@bp.get("/print/poster.pdf")
def poster_pdf():
    from piratebox import printing

    document = printing.pdf([printing.poster(current_site(), _)])
    return current_app.response_class(document, mimetype="application/pdf", headers={
        "Content-Disposition": 'inline; filename="affiche-cocote.pdf"', **NO_CACHE})


@bp.route("/admin/settings", methods=["GET", "POST"])
@admin_required
def settings():
    values, errors = dict(current_site()), {}
    if request.method == "POST":
        values, errors = site.validate(request.form)
        if not errors:
            apply_settings(site.save(values))
            flash(_("Settings saved. Print the poster again if the wifi changed."), "success")
            return redirect(url_for("printing.settings"))
    return render_template("printing/settings.html", values=values, errors=errors,
                           limits=site.LIMITS), 400 if errors else 200


def apply_settings(values):
    extensions = current_app.extensions
    extensions["site"] = values
    extensions["box"]["name"] = values["box_name"]
    extensions["portal"].set_site_url(values["site_url"])


@bp.route("/admin/labels", methods=["GET", "POST"])
@admin_required
def labels():
    """Choose objects of the café's box and print a sheet of labels for them."""
    candidates = list(Item.listed().where((Item.place == "box") & (Item.status == "available"))
                      .order_by(Item.created_at.desc()).limit(200))
    if request.method == "GET":
        return render_template("printing/labels.html", items=candidates)
    from piratebox import printing

    chosen = set(request.form.getlist("item"))
    entries = [(item.title, item_url(item)) for item in candidates if item.id in chosen]
    if not entries:
        flash(_("Choose at least one object."), "error")
        return render_template("printing/labels.html", items=candidates), 400
    document = printing.pdf(printing.labels(entries, current_site()["box_name"]))
    return current_app.response_class(document, mimetype="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="etiquettes.pdf"'})
