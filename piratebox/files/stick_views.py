"""The mediator's page that brings a stick's folder into the file share: /admin/files/stick.

The copy runs in a thread of the server (it reads and writes, it hardly computes), one at a
time; the page shows how far it is and reloads itself every few seconds while it runs
(a meta refresh: no script needed), then says what was added.
"""

import logging
import threading

from flask import current_app, redirect, render_template, request, url_for

from models import db
from piratebox.errors import PirateboxError
from piratebox.files import from_stick
from piratebox.i18n import N_, Message
from piratebox.web import actor
from piratebox.web import gettext as _

log = logging.getLogger("piratebox")
FAILED = N_("The import stopped on an unexpected error: nothing was added. The box's log "
            "says more.")


class Job:
    """The import under way or the last one, as the page shows it."""

    def __init__(self, folder, share_folder):
        self.folder, self.share_folder = folder, share_folder
        self.progress = from_stick.Progress()
        self.error = None  # a Message
        self.done = False

    def run(self, app, who):
        with app.app_context():
            try:
                with db.connection_context():
                    from_stick.import_folder(self.folder, self.share_folder,
                                             app.extensions["box"].data_dir, app.config, who,
                                             self.progress)
            except PirateboxError as error:
                self.error = error.as_message()
            except Exception:  # the page must say it stopped, whatever stopped it
                log.exception("import of %s into the file share", self.folder)
                self.error = Message(FAILED)
            finally:
                self.done = True
                app.extensions["page_cache"].changed(("files",))


_jobs_lock = threading.Lock()


def current_job():
    return current_app.extensions.get("stick_import")


def found_sticks():
    """[(stick, [(folder path, relative name, files, bytes)])] of the sticks plugged now."""
    from piratebox.sync import stick as sync_stick  # the sync's modules: where used

    last = (sync_stick.last_sync() or {}).get("stick")
    found = []
    for plugged in from_stick.sticks(current_app.config["STICK_ROOTS"].split(","),
                                     current_app.extensions["box"].data_dir, last):
        folders = [(str(plugged / relative), relative, count, size)
                   for relative, count, size in from_stick.folders(plugged)]
        if folders:
            found.append((plugged, folders))
    return found


def index(error=None, status=200):
    job = current_job()
    running = job is not None and not job.done
    return render_template("files/from_stick.html", job=job, running=running,
                           sticks=[] if running else found_sticks(), error=error), status


def start():
    job = current_job()
    if job is not None and not job.done:
        return redirect(url_for("stick_files.index"), code=303)
    from piratebox.sync import stick as sync_stick

    try:
        folder = from_stick.chosen_folder(
            current_app.config["STICK_ROOTS"].split(","), current_app.extensions["box"].data_dir,
            (sync_stick.last_sync() or {}).get("stick"), request.form.get("folder", ""))
    except PirateboxError as error:
        return index(error.localized(_), error.status)
    share_folder = from_stick.share_folder_for(folder, request.form.get("share_folder"))
    with _jobs_lock:
        job = current_job()
        if job is None or job.done:
            job = Job(folder, share_folder)
            current_app.extensions["stick_import"] = job
            threading.Thread(target=job.run, args=(current_app._get_current_object(), actor()),
                             name="stick-import", daemon=True).start()
    return redirect(url_for("stick_files.index"), code=303)
