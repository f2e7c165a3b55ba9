"""The mediator's sync page: the last sync, what waits to go, the enrolment to confirm (or
choose), the records set aside, and a bundle to download or upload when there is no
stick (or no hotplug)."""

import json

from flask import (
    after_this_request,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from models import Peer, Setting
from piratebox import box
from piratebox.errors import BadInput
from piratebox.files.names import clean_name
from piratebox.i18n import N_
from piratebox.web import gettext as _
from piratebox.web import ngettext

# The sync's modules (the bundle's reader among them) are the mediator's: imported by the
# views that use them, not at a router's start-up (see docs/benchmarks.md). This module is
# read at the first request to one of its addresses (routes.py).


def this_box():
    return current_app.extensions["box"]


def index():
    return render_sync()


def render_sync(errors=None, status=200):
    """The sync page; a refused import or backup is shown in its own panel."""
    from piratebox.backup import logic as backup
    from piratebox.sync import engine, enrolment, quarantine, stick

    me = box.identity()
    hub = enrolment.hub_peer()
    names = {peer.id: peer.name for peer in Peer.select(Peer.id, Peer.name)}
    set_aside = [(entry, names.get(entry.peer_id, entry.peer_id),
                  quarantine.sentence(entry, _)) for entry in quarantine.entries().limit(200)]
    report = engine.hub_report() if me["role"] == "box" else None
    pending = enrolment.pending()
    return render_template(
        "admin/sync.html", me=me, hub=hub, boxes=list(Peer.boxes()),
        waiting=engine.waiting(hub), last=said(stick.last_sync()),
        last_backup=json.loads(Setting.get_value("last_backup") or "null"),
        refused=engine.hub_refusal() if me["role"] == "box" else None,
        passphrase_set=backup.has_passphrase(),
        enrolled=enrolment.enrolled(),
        pending=pending, pending_matches=len(pending) == 1
        and enrolment.made_for_this_box(pending[0]),
        set_aside=set_aside, set_aside_count=quarantine.entries().count(),
        hub_report=report, reported=[(entry, quarantine.reported_sentence(entry, _))
                                     for entry in (report or {}).get("records", [])],
        clock=current_app.extensions["box"].clock, errors=errors or {}), status


def said(last):
    """The last sync's messages in the reader's language."""
    if last is None:
        return None
    return {**last, **{name: [message.localized(g.translator) for message in last[name]]
                       for name in ("lines", "troubles")},
            "failure": last["failure"] and last["failure"].localized(g.translator)}


def confirm():
    from piratebox.sync import enrolment

    chosen = request.form.get("enrolment") or None
    if request.form.get("decision") == "ignore" and chosen:
        enrolment.ignore(chosen)
        flash(_("Turned down: the box takes it off the stick at its next sync."), "success")
        return redirect(url_for("sync.index"))
    document = enrolment.confirm(this_box().clock.now(), chosen)
    flash(_("This box now syncs with the hub {name}.", name=document["hub_name"]), "success")
    return redirect(url_for("sync.index"))


def discard(entry_id):
    """The mediator gives up on a record set aside (it will not be applied)."""
    from piratebox.sync import quarantine

    quarantine.discard(entry_id)
    flash(_("Done."), "success")
    return redirect(url_for("sync.index"))


def download():
    """Write a bundle for the hub (or, at a hub, for one box) and hand it to the browser."""
    from piratebox.sync import engine, enrolment

    here = this_box()
    peer_id = request.form.get("peer", "")
    peer = Peer.get_or_none(Peer.id == peer_id) if peer_id else enrolment.hub_peer()
    if peer is None or peer.status != "active":
        raise BadInput(N_("This box is not enrolled with a hub yet."))
    path, _manifest = engine.export(here, peer, here.data_dir.scratch())

    @after_this_request
    def remove(response):
        path.unlink(missing_ok=True)  # the open file stays readable until it is sent
        return response

    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=path.name, max_age=0)


def upload():
    """The bundle arrives streamed into a file of the scratch folder (see BoxRequest), is
    read from there and deleted with the request."""
    from piratebox.sync import engine, stick
    from piratebox.sync.bundle import SUFFIX, BundleRefused

    here = this_box()
    sent = request.files.get("bundle")
    if not sent or not sent.filename:
        return render_sync({"bundle": _("Choose a bundle file ({suffix}).", suffix=SUFFIX)},
                           400)
    sent.stream.finish()
    report = stick.Report()
    try:
        result = engine.import_bundle(sent.stream.path, here,
                                      shown_as=clean_name(sent.filename))
    except BundleRefused as error:
        stick.remember(report, here.clock, failure=error.as_message())
        return render_sync({"bundle": error.localized(_)}, 400)
    report.lines.append(stick.describe(result))
    report.troubles += stick.attention(result)
    stick.remember(report, here.clock)
    if result["already"]:
        flash(_("This bundle was already imported: nothing new."), "success")
    else:
        flash(ngettext("Bundle imported: {num} record new or changed, {unchanged} "
                       "unchanged.", "Bundle imported: {num} records new or changed, "
                       "{unchanged} unchanged.", result["applied"],
                       unchanged=result["unchanged"]), "success")
    if report.troubles:
        flash(_("Some of it needs you: see below."), "error")
    return redirect(url_for("sync.index"))
