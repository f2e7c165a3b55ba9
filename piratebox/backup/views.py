"""The backup's actions on the mediator's sync page: back up to the stick the last sync
used, and set the passphrase that seals the keys."""

from pathlib import Path

from flask import current_app, flash, redirect, request, url_for

from piratebox.errors import BadInput
from piratebox.i18n import N_, say_nothing
from piratebox.sync.views import render_sync
from piratebox.web import gettext as _

# The backup's and the sync's modules: imported where used (see piratebox/sync/views.py);
# this one at the first request to one of its addresses (routes.py)


NO_STICK = N_("No stick is plugged in: plug in the sync stick and wait for the box to "
               "sync with it (it finds the stick then), or run piratebox backup --to STICK "
               "on the box.")


def backup_now():
    """Back up to the stick the last sync used, if it is still plugged in."""
    from piratebox.backup import logic as backup
    from piratebox.sync import enrolment, stick

    plugged = (stick.last_sync() or {}).get("stick")
    if not plugged or not (Path(plugged) / enrolment.STICK_FOLDER).is_dir():
        return render_sync({"backup": _(NO_STICK)}, 400)
    try:
        manifest = backup.backup(current_app.extensions["box"], plugged, say=say_nothing)
    except backup.BackupError as error:
        return render_sync({"backup": error.localized(_)}, 400)
    else:
        flash(_("Backed up: {count} photos and files, {new} new.",
                count=len(manifest["blobs"]), new=manifest["blobs_written"]), "success")
        if not manifest["secrets"]:
            flash(_("This backup holds no key: set a backup passphrase below so that a "
                    "restore gives the box back whole."), "error")
    return redirect(url_for("sync.index"))


def backup_passphrase():
    """The passphrase that seals the box's keys in its backups."""
    from piratebox.backup import logic as backup

    passphrase = request.form.get("passphrase", "")
    try:
        if passphrase != request.form.get("again", ""):
            raise BadInput(N_("The two passphrases differ: type the same one twice."))
        backup.set_passphrase(passphrase, current_app.config["PASSWORD_HASH_ROUNDS"])
    except (BadInput, backup.BackupError) as error:
        return render_sync({"passphrase": error.localized(_)}, 400)
    flash(_("The backup passphrase is set. Keep it somewhere safe, away from the stick: "
            "without it a restore brings back everything but the keys."), "success")
    return redirect(url_for("sync.index"))
