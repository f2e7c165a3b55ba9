"""The mediator's sync page: the last sync, what waits to go, the enrolment to confirm,
and a bundle to download or upload when there is no stick (or no hotplug)."""

import json
from pathlib import Path

from flask import (
    Blueprint,
    after_this_request,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from models import Peer, Setting
from piratebox import box
from piratebox.admin import admin_required
from piratebox.errors import BadInput
from piratebox.files import names
from piratebox.i18n import N_, say_nothing
from piratebox.sync import engine
from piratebox.sync.bundle import SUFFIX, BundleRefused
from piratebox.web import gettext as _

bp = Blueprint("sync", __name__)
UPLOAD_ENDPOINT = "sync.upload"


def context():
    app = current_app
    return app.extensions["data_dir"], app.config, app.extensions["clock"]


@bp.get("/admin/sync")
@admin_required
def index():
    return render_sync()


def render_sync(errors=None, status=200):
    """The sync page; a refused import or backup is shown in its own panel."""
    me = box.identity()
    hub = engine.hub_peer()
    boxes = list(Peer.select().where(Peer.role == "box").order_by(Peer.name))
    return render_template("admin/sync.html", me=me, hub=hub, boxes=boxes,
                           waiting=engine.waiting(hub), last=engine.last_sync(),
                           last_backup=json.loads(Setting.get_value("last_backup") or "null"),
                           pending=engine.pending_enrolment(), errors=errors or {},
                           clock=current_app.extensions["clock"]), status


@bp.post("/admin/sync/enrolment")
@admin_required
def confirm():
    _data_dir, _config, clock = context()
    document = engine.confirm_enrolment(clock.now())
    flash(_("This box now syncs with the hub %(name)s.", name=document["hub_name"]), "success")
    return redirect(url_for("sync.index"))


@bp.post("/admin/sync/bundle")
@admin_required
def download():
    """Write a bundle for the hub (or, at a hub, for one box) and hand it to the browser."""
    data_dir, config, clock = context()
    peer_id = request.form.get("peer", "")
    peer = Peer.get_or_none(Peer.id == peer_id) if peer_id else engine.hub_peer()
    if peer is None or peer.status != "active":
        raise BadInput(N_("This box is not enrolled with a hub yet."))
    path, _manifest = engine.export(data_dir, config, clock, peer, data_dir.scratch())

    @after_this_request
    def remove(response):
        path.unlink(missing_ok=True)  # the open file stays readable until it is sent
        return response

    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=path.name, max_age=0)


@bp.post("/admin/sync/upload")
@admin_required
def upload():
    data_dir, config, clock = context()
    sent = request.files.get("bundle")
    if not sent or not sent.filename:
        return render_sync({"bundle": _("Choose a bundle file (%(suffix)s).", suffix=SUFFIX)},
                           400)
    target = data_dir.scratch() / f"uploaded-{box.identity()['id']}{SUFFIX}"
    sent.save(target)
    try:
        result = engine.import_bundle(target, data_dir, config, clock,
                                      shown_as=names.clean_name(sent.filename))
    except BundleRefused as error:
        return render_sync({"bundle": error.localized(_)}, 400)
    finally:
        target.unlink(missing_ok=True)
    engine.remember_summary(engine.describe(result, _), clock)
    flash(_("Bundle imported: %(applied)d new or changed, %(unchanged)d unchanged.",
            applied=result["applied"], unchanged=result["unchanged"]), "success")
    return redirect(url_for("sync.index"))


NO_STICK = N_("No stick is plugged in: plug in the sync stick and wait for the box to "
               "sync with it (it finds the stick then), or run piratebox backup --to STICK "
               "on the box.")


@bp.post("/admin/backup")
@admin_required
def backup_now():
    """Back up to the stick the last sync used, if it is still plugged in."""
    from piratebox import backup

    data_dir, _config, clock = context()
    stick = (engine.last_sync() or {}).get("stick")
    if not stick or not (Path(stick) / engine.STICK_FOLDER).is_dir():
        return render_sync({"backup": _(NO_STICK)}, 400)
    try:
        manifest = backup.backup(data_dir, stick, clock.now(), say=say_nothing)
    except backup.BackupError as error:
        return render_sync({"backup": error.localized(_)}, 400)
    else:
        flash(_("Backed up: %(count)d photos and files, %(new)d new.",
                count=len(manifest["blobs"]), new=manifest["blobs_written"]), "success")
    return redirect(url_for("sync.index"))
