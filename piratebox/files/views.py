"""The file share's pages: list and upload, a file's page, download, preview, delete."""


from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from models import SharedFile
from piratebox import bodies, moderation, pagecache, phone, spool
from piratebox.blobs import BlobStore
from piratebox.errors import BadInput, PirateboxError
from piratebox.files import logic, names
from piratebox.i18n import N_
from piratebox.phone import admin_required, is_admin, public_url
from piratebox.sending import send_stored
from piratebox.units import MB
from piratebox.web import actor, count_success, deletion_confirmed
from piratebox.web import gettext as _

bp = Blueprint("files", __name__)

MAX_FILES_PER_UPLOAD = 20
RATE_BUCKET = "upload"
UPLOADED_A_LOT = N_("You have sent a lot of files this hour: wait {minutes} minutes, or ask "
                    "the mediator.")
bodies.declare("files", lambda config: bodies.spooled(
    "files", config["FILES_MAX_MB"] * MB, MAX_FILES_PER_UPLOAD, rate_bucket=RATE_BUCKET,
    rate_setting="FILES_PER_HOUR", rate_message=UPLOADED_A_LOT))

EXPIRY_SWEEP_SECONDS = 300
DOWNLOAD_PERIOD = 24 * 3600  # a phone's downloads of one file count once in this time
JUST_UPLOADED = "just_uploaded"
# A shared file is shown by the browser only in a sandbox: no script, no form, no plugin,
# nothing loaded from elsewhere, whatever the file turns out to contain.
FILE_POLICY = ("sandbox; default-src 'none'; img-src 'self'; media-src 'self'; "
               "style-src 'unsafe-inline'; frame-ancestors 'self'")


def sweep_expired():
    """Delete expired files at most every few minutes, when someone looks at the list."""
    if not current_app.config["FILES_EXPIRE_DAYS"]:
        return
    state = current_app.extensions.setdefault("files_sweep", {"at": 0.0})
    now = current_app.extensions["box"].clock.now()
    if now - state["at"] >= EXPIRY_SWEEP_SECONDS:
        state["at"] = now
        if logic.expire_due(actor()):
            current_app.extensions["page_cache"].changed(pagecache.sections_changed_by(bp.name))


def get_file(file_id, visible_only=True):
    record = SharedFile.get_or_none(SharedFile.id == file_id)
    now = current_app.extensions["box"].clock.now()
    if record is None or record.deleted or (record.expires_at and record.expires_at <= now):
        abort(404)
    if record.origin != current_app.extensions["box"].id and not record.network:
        abort(404)  # kept in its village: its content is not here
    if visible_only and record.hidden and not (owns(record) or is_admin()):
        abort(404)
    return record


def owns(record):
    return phone.owns(record.id)


@bp.get("/files/")
def index():
    sweep_expired()
    return pagecache.render(render_index, ("files",), same_for=pagecache.EVERY_PHONE)


def render_index(errors=None, typed=None):
    """The list and the upload form; a refused upload shows why beside the form, with the
    folder that was typed kept."""
    filters = {name: request.args.get(name, "") for name in ("q", "folder", "sort")}
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() else 1
    now = current_app.extensions["box"].clock.now()
    rows, total = logic.browse(filters, page, now)
    folders = tuple(logic.folders(now))  # a kept row's key
    disk = spool.disk_figures(current_app.extensions["box"].data_dir, current_app.config)
    return pagecache.render_framed(
        "files/index.html", (folders, disk["largest_upload"]), files=rows, total=total,
        page=page, filters=filters, pages=max(1, -(-total // logic.PAGE_SIZE)),
        folders=folders, folder_choices=[(name, name) for name in folders], disk=disk,
        kind_of=names.kind_of, errors=errors or {}, typed=typed or {})


@bp.post("/files/")
@bodies.accepts("files")
def upload_files():
    """Several files in one form. The parts are already on disk, streamed and hashed, when
    this runs (see piratebox/spool.py); here they are kept or refused as a whole.
    A refusal is shown on the form, with the folder that was typed."""
    try:
        added = add_chosen()
    except PirateboxError as error:
        typed = {"folder": request.form.get("folder", "")}
        return render_index({"files": error.localized(_)}, typed), error.status
    count_success(RATE_BUCKET)
    for record, token in added:
        phone.remember(record.id, token)
    session[JUST_UPLOADED] = [record.id for record, _token in added]
    if request.accept_mimetypes.best == "application/json":
        return jsonify(next=url_for("files.uploaded"))  # the progress bar's script goes there
    return redirect(url_for("files.uploaded"), code=303)


def add_chosen():
    chosen = [part for part in request.files.getlist("files") if part.filename]
    if not chosen:
        raise BadInput(N_("Choose at least one file to share."))
    who = actor()
    expire_days = current_app.config["FILES_EXPIRE_DAYS"]
    return [logic.add(part.stream, part.filename, request.form.get("folder", ""), who,
                      expire_days) for part in chosen]


@bp.get("/files/uploaded")
def uploaded():
    ids = session.get(JUST_UPLOADED, [])
    records = [record for record in SharedFile.select().where(SharedFile.id.in_(ids))
               if owns(record) and not record.deleted]
    if not records:
        return redirect(url_for("files.index"))
    return render_template("files/uploaded.html", files=records,
                           private_link=private_link)


def private_link(record):
    """The uploader's delete link, as it must be typed or scanned on another phone."""
    return public_url("files.manage", file_id=record.id,
                           token=phone.token_for(record.id))


@bp.get("/files/<file_id>")
def show(file_id):
    record = get_file(file_id)
    return render_template("files/show.html", file=record, owner=owns(record),
                           admin=is_admin(), downloads=logic.downloads_of(record.id),
                           kind=names.kind_of(record.media_type, record.name))


def send_content(record, inline):
    path = BlobStore(current_app.extensions["box"].data_dir).path(record.blob)
    if not path.is_file():  # content kept at another box, or a damaged store
        abort(404)
    response = send_stored(
        path, mimetype=record.media_type if inline else names.download_type(record.name),
        as_attachment=not inline, download_name=record.name, etag=record.blob,
        last_modified=record.created_at, conditional=True, max_age=0)
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["Cache-Control"] = "no-cache"  # revalidated: a file can be deleted
    return response


@bp.get("/files/<file_id>/<path:filename>")
def download(file_id, filename):
    """The file itself; the name in the address is only for people and download managers."""
    record = get_file(file_id)
    response = send_content(record, inline=False)
    if request.method == "GET" and response.status_code in (200, 206) and starts_at_zero() \
            and first_today(record.id):
        logic.count_download(record.id)
    return response


def starts_at_zero():
    """A download is counted once: by its first range, not by every resumed piece."""
    ranges = request.range
    return ranges is None or (ranges.ranges and ranges.ranges[0][0] == 0)


def first_today(file_id):
    """Is this the phone's first download of the file in a day? Three hundred asked in a
    second count one (kept in memory, like the rate limits: a restart forgets)."""
    limiter = current_app.extensions["limiter"]
    return not limiter.hit(f"download:{file_id}", request.remote_addr, 1, DOWNLOAD_PERIOD)


@bp.get("/files/preview/<file_id>/<path:filename>")
def preview(file_id, filename):
    record = get_file(file_id)
    if not record.media_type:
        abort(404)  # not a format that is safe to show: download it instead
    return send_content(record, inline=True)


@bp.get("/files/manage/<file_id>")
@phone.owner_only(lambda file_id: get_file(file_id, visible_only=False))
def manage(record):
    """The uploader's page. A private link carries ?token=; it is moved into the cookie."""
    return render_template("files/manage.html", file=record, private_link=private_link)


@bp.post("/files/manage/<file_id>/delete")
def delete(file_id):
    record = get_file(file_id, visible_only=False)
    if not (owns(record) or is_admin()):
        abort(403)
    if not deletion_confirmed():
        back = "files.manage" if owns(record) else "files.show"  # the mediator's is the file's
        return redirect(url_for(back, file_id=record.id))
    logic.delete(record, actor())
    flash(_("The file is deleted."), "success")
    return redirect(url_for("files.index"))


ADMIN_ACTIONS = {"hide": ("hidden", True), "show": ("hidden", False),
                 "network": ("network", True), "local": ("network", False)}


@bp.post("/admin/files/<file_id>/<action>")
@admin_required
def moderate(file_id, action):
    if action not in ADMIN_ACTIONS:
        abort(404)
    record = get_file(file_id, visible_only=False)
    flag, value = ADMIN_ACTIONS[action]
    if flag == "hidden":
        moderation.set_hidden(record, value, actor())
    else:
        logic.set_flag(record, flag, value, actor())
    flash(_("Done."), "success")
    return redirect(url_for("files.show", file_id=record.id))
