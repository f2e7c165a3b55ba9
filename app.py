"""The CoCoTe box: the application factory and the `piratebox` command.

    python app.py                      serve the box in ./data on http://127.0.0.1:8080
    piratebox --data DIR init          make a new box
    piratebox --data DIR serve         serve it (waitress, with the guard of serving.py)
"""

import contextlib
import errno
import functools
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import click
from flask import Flask

from models import db
from piratebox import __version__, admin, api, footfall, pages, site, static_files, web
from piratebox.backup import routes as backup_routes
from piratebox.board import views as board
from piratebox.box import DEFAULT_NAMES, ROLES, Box, create
from piratebox.box import set_password as store_password
from piratebox.catalogue import views as catalogue
from piratebox.commandline import Commands, Refusal, _, lang_option
from piratebox.errors import system_reason
from piratebox.events import views as events
from piratebox.files import stick_routes
from piratebox.files import views as files
from piratebox.i18n import N_, Message, offered_languages
from piratebox.impact import views as impact_views
from piratebox.initiatives import views as initiatives
from piratebox.pagecache import PageCache
from piratebox.portal import Portal
from piratebox.printing import routes as printing_routes
from piratebox.ratelimit import RateLimiter
from piratebox.storage import DataDir
from piratebox.sync import routes as sync_routes

DEFAULT_DATA = "data"

# The menu, in order: each entry shown as soon as the feature that serves it exists.
MENU = [
    ("pages.home", N_("Home")),
    ("catalogue.index", N_("Objects")),
    ("files.index", N_("Files")),
    ("board.index", N_("Board")),
    ("events.index", N_("Agenda")),
    ("initiatives.index", N_("Initiatives")),
    ("stats.index", N_("Impact")),
]


def data_dir_from(config):
    return DataDir(config.pop("DATA_DIR", None) or os.environ.get("PIRATEBOX_DATA")
                   or DEFAULT_DATA)


def create_app(config=None):
    """Build the web application for the box whose data directory the config names."""
    config = dict(config or {})
    data_dir = data_dir_from(config)
    opened = Box.open(data_dir, config)
    app = Flask(__name__, static_folder=None)  # served by piratebox.static_files
    app.config.update(opened.config)
    opened.config = app.config  # one configuration, whoever reads it
    if not app.config.get("SECRET_KEY"):  # Flask's default is None, hence no setdefault
        app.config["SECRET_KEY"] = data_dir.secret_key()
    app.config.update(
        SESSION_COOKIE_NAME="cocote",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.ensure_ascii = False  # French in the JSON API stays readable

    data_dir.clean_tmp()

    app.extensions.update(
        box=opened,
        limiter=RateLimiter(),
        page_cache=PageCache(app.config["PAGE_CACHE_SECONDS"]),
        footfall=footfall.Counter(app.config["TIMEZONE"]),
        portal=Portal(site.address(opened.site), app.config["PORTAL_MEMORY_SECONDS"]),
        menu=MENU,
    )
    web.init_app(app)
    static_files.init_app(app, os.path.join(app.root_path, "static"))
    # the printables' and the sync's, backup's and stick's pages: their views are read at
    # their first request (piratebox/lazyviews.py), a villager's phone never asks for them
    for blueprint in (pages.bp, admin.bp, catalogue.bp, files.bp, board.bp, events.bp, api.bp,
                      printing_routes.bp, impact_views.bp, sync_routes.bp, backup_routes.bp,
                      initiatives.bp, stick_routes.bp):
        app.register_blueprint(blueprint)
    return app


# --- the command line ---------------------------------------------------------------------


@click.group(cls=Commands)
@click.option("--data", "data", envvar="PIRATEBOX_DATA", default=DEFAULT_DATA,
              show_default=True, type=click.Path(file_okay=False),
              help=N_("The box's data directory (or PIRATEBOX_DATA)."))
@click.option("--lang", type=click.Choice(["fr", "en"]), expose_value=False,
              is_eager=True, callback=lang_option,
              help=N_("The language of the messages: fr (default) or en (or PIRATEBOX_LANG)."))
@click.version_option(__version__, prog_name="piratebox")
@click.pass_context
def cli(ctx, data):
    """The CoCoTe box: an offline give box, file share, board and agenda.

    Example: piratebox --data /srv/cocote init --name "Saint-Bonnet"
    """
    ctx.obj = DataDir(data)


def pass_box(command):
    """Open the box named by --data for a command and hand it over, its database connected
    for the command's life (sqlite-utils' shared options, for one object)."""

    @click.pass_obj
    @functools.wraps(command)
    def opened(data_dir, *args, **kwargs):
        here = Box.open(data_dir)
        db.connect(reuse_if_open=True)
        return command(here, *args, **kwargs)

    return opened


@cli.command()
@click.option("--role", type=click.Choice(ROLES), default="box", show_default=True,
              help=N_("A village box, or the central hub."))
@click.option("--name", envvar="PIRATEBOX_NAME",
              help=N_("The name people see: the village, for a box (or PIRATEBOX_NAME; "
                      "asked on a terminal)."))
@click.option("--demo", is_flag=True, help=N_("Add a few French sample objects to try it out."))
@click.option("--database-url", envvar="PIRATEBOX_DATABASE_URL",
              help=N_("A hub on PostgreSQL: postgresql://user@host/db (default: SQLite in the "
                      "data directory). Needs pip install '.[postgres]'."))
@click.pass_obj
def init(data_dir, role, name, demo, database_url):
    """Create the data directory, the database, the secret key and the box's identity.

    Example: piratebox --data ./data init --name "Saint-Bonnet-le-Château" --demo
    """
    if not name and sys.stdin.isatty():
        name = click.prompt(_("The village's name (on the pages and the poster)"),
                            default=DEFAULT_NAMES[role]).strip()
    box_id = create(data_dir, role=role, name=name, now=time.time(),
                        database_url=database_url)
    click.echo(_("Created the {role} {name} ({id}) in {path}.",
                 role=_("box") if role == "box" else _("hub"),
                 name=name or DEFAULT_NAMES[role], id=box_id, path=data_dir.path))
    if demo:
        from piratebox import demo as samples

        added = samples.add_samples(data_dir, now=time.time())
        click.echo(_.plural("Added {num} sample object, with its photo.",
                            "Added {num} sample objects, with their photos.", added))
    click.echo(_("Next: {command} --data {path} set-password",
                 command=command_name(), path=data_dir.path))


def command_name():
    """How to run this command again: `piratebox` where it is on the PATH, else the path
    it was run by (.venv/bin/piratebox), else python app.py."""
    if shutil.which("piratebox"):
        return "piratebox"
    if os.path.basename(sys.argv[0]) == "piratebox":
        return os.path.relpath(sys.argv[0])
    return "python app.py"


@cli.command("set-password")
@click.option("--password-stdin", is_flag=True,
              help=N_("Read the password from the first line of standard input."))
@pass_box
def set_password(here, password_stdin):
    """Set the mediator's admin password (asked twice, or read from standard input).

    Example: echo 'long secret phrase' | piratebox --data ./data set-password --password-stdin
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(_("New admin password"), hide_input=True,
                                confirmation_prompt=_("Repeat for confirmation"))
    store_password(password, here.config["PASSWORD_HASH_ROUNDS"])
    click.echo(_("Password set. Open /admin/ on the box to log in."))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help=N_("Address to listen on (0.0.0.0 for the wifi)."))
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help=N_("Port to listen on."))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help=N_("Requests handled at once."))
@click.pass_obj
def serve(data_dir, host, port, threads):
    """Serve the box with waitress, guarded against slow or greedy phones, in the foreground
    until Ctrl+C.

    Example: piratebox --data /srv/cocote serve --host 0.0.0.0 --port 8080
    """
    from piratebox import serving, tuning

    configure_logging()
    application = create_app({"DATA_DIR": str(data_dir.path)})
    tuning.compile_templates_apart(application)
    # waitress keeps a request body over 64 KB in a temporary file until it is complete;
    # on a router /tmp is RAM, so such files go to the data disk (and vanish with us).
    tempfile.tempdir = str(data_dir.scratch())
    try:
        server = serving.make_server(application, host, port, threads)
    except OSError as error:
        raise Refusal(cannot_listen(error, host, port)) from None
    click.echo(_("CoCoTe box on http://{host}:{port}/ (Ctrl+C stops it).",
                 host=display_host(host), port=port), err=True)
    # a service manager stops us with SIGTERM: leave as Ctrl+C does, saving what is counted
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(0))
    threading.Thread(target=after_first_answer, args=(application,), daemon=True,
                     name="after-first-answer").start()
    try:
        server.run()
    finally:
        with db.connection_context():
            application.extensions["footfall"].flush(application.extensions["box"].clock.now())


# With no visitor, a start does what it left for after its first answer this long after.
SETTLE_SECONDS = 60


def after_first_answer(application, wait_seconds=SETTLE_SECONDS):
    """What a start leaves until its first page has gone out: saving the clock's floor, so
    that the next start never goes back before this one, is a write to the flash (a commit
    that waits for the disk) that the first page does not need. A power cut before it loses
    nothing: the floor saved before stays."""
    application.extensions[web.FIRST_ANSWER].wait(wait_seconds)
    with db.connection_context():
        application.extensions["box"].clock.remember(force=True)


def cannot_listen(error, host, port):
    """One line for a port that cannot be opened, saying what to do."""
    if error.errno == errno.EADDRINUSE:
        return _("Port {port} is already in use (another box, or another program): stop "
                 "it, or choose another port, for example --port {other}.",
                 port=port, other=port + 1)
    if error.errno == errno.EACCES:
        return _("Port {port} needs administrator rights: choose a port above 1023, for "
                 "example --port 8080.", port=port)
    return _("Cannot listen on {host}:{port}: {reason}.", host=host, port=port,
             reason=system_reason(error, _))


@cli.group("print")
def print_group():
    """Print the poster for the café counter, or labels for the objects in the box.

    Example: piratebox --data ./data print poster --out affiche.pdf
    """


@print_group.command("poster")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help=N_("The PDF file to write."))
@click.option("--lang", default="fr", show_default=True, help=N_("The poster's language."))
@pass_box
def print_poster(here, out, lang):
    """Write the A4 poster (wifi QR, site QR, three steps) as a PDF.

    Example: piratebox --data ./data print poster --out affiche.pdf
    """
    from piratebox.i18n import Translator
    from piratebox.printing import logic as printing

    if lang not in offered_languages(here.config["LANGUAGES"]):
        raise click.BadParameter(_("{lang} is not one of the box's languages.", lang=lang),
                                 param_hint="--lang")
    write_pdf_output(out, [printing.poster(here.site, Translator(lang).gettext)])
    click.echo(_("Poster written to {path}", path=out))


@print_group.command("labels")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help=N_("The PDF file to write."))
@click.option("--item", "item_ids", multiple=True,
              help=N_("An object's id; repeat it. Default: every object in the café's box."))
@pass_box
def print_labels(here, out, item_ids):
    """Write A4 sheets of QR labels (24 a sheet) for objects in the café's give box.

    Example: piratebox --data ./data print labels --out etiquettes.pdf
    """
    from piratebox.printing import logic as printing

    entries = printing.label_entries(here.site, item_ids)
    if not entries:
        raise Refusal(_("No object to label: nothing is in the café's box."))
    with click.progressbar(length=len(entries), label=_("Drawing labels"),
                           file=sys.stderr) as bar:
        pages = write_pdf_output(out, printing.labels(entries, here.site["box_name"],
                                                      progress=bar.update))
    click.echo(_("{labels} labels on {pages} pages written to {path}",
                 labels=len(entries), pages=pages, path=out))


@cli.command()
@click.option("--csv", "as_csv", is_flag=True,
              help=N_("Comma-separated values for a spreadsheet."))
@click.option("--decimal-comma", is_flag=True,
              help=N_("French decimals (3,5) and ';' separators."))
@click.option("--report", "quarter", metavar="QUARTER",
              help=N_("Write the quarter's report (a PDF, in French), e.g. 2026-Q4."))
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help=N_("The PDF file the report is written to."))
@click.option("--commune", help=N_("At a hub: the report of one commune rather than of the "
                                   "whole département."))
@pass_box
def stats(here, as_csv, decimal_comma, quarter, out, commune):
    """Print the impact figures: exchanges, purchases avoided, kilos, CO₂e, weeks, footfall.
    At a hub: one line per box, per commune and in total, for the report to the département.
    With --report: the quarter's report for the Conseil départemental, as a PDF.

    Example: piratebox --data ./data stats --csv --decimal-comma > impact.csv
    Example: piratebox --data ./data stats --report 2026-Q4 --out rapport.pdf
    """
    import csv

    from piratebox.impact import logic as impact
    from piratebox.impact import report, weekly_photo

    now, zone = here.clock.now(), here.config["TIMEZONE"]
    if quarter or out or commune:
        write_report(quarter, out, commune, now, zone, here)
        return
    network = figures = None
    if here.role == "hub":
        network = impact.network_figures(now, zone)
        rows = report.network_csv_rows(network, decimal_comma)
    else:
        figures = impact.figures_now(now, zone)
        rows = report.csv_rows(figures, decimal_comma=decimal_comma)
        rows += report.weekly_csv_rows(*impact.footfall_at(now, zone), weekly_photo.counts(
            here.id, here.blobs), decimal_comma)
    if as_csv:
        csv.writer(sys.stdout, delimiter=";" if decimal_comma else ",").writerows(rows)
        return
    if network is not None:
        lines = report.network_text_lines(network, _, _.language)
    else:
        lines = report.text_lines(figures, _, _.language)
    for line in lines:
        click.echo(line)


# --- sync -----------------------------------------------------------------------------------

def text(message):
    """A message of the domain code (sync, backup, check), in the mediator's language."""
    return message.localized(_.translator)


def say(message, /, **params):
    """Progress of a long operation, on standard error, in the mediator's language."""
    click.echo(text(message) if isinstance(message, Message) else _(message, **params),
               err=True)


def needs_you(summary, troubles):
    """End a command whose work was done but left something for the mediator."""
    raise Refusal(text(Message(N_("{summary}. Needs your attention: {troubles}"),
                               summary=summary,
                               troubles=" | ".join(text(trouble) for trouble in troubles))))


@cli.command("sync")
@click.argument("stick", type=click.Path(exists=True, file_okay=False))
@pass_box
def sync_command(here, stick):
    """Exchange with the hub through a mounted USB stick (its cocote/ folder): import what
    is addressed to this box, write this box's bundle. What the hotplug scripts call.

    Example: piratebox --data /srv/cocote sync /mnt/sda1
    """
    from piratebox.sync import stick as round_trip

    report = round_trip.sync(here, stick, say=say)
    summary = report.said(_.translator)
    if report.troubles:
        needs_you(summary, report.troubles)
    click.echo(_("sync: {summary}", summary=summary))


@cli.command("export")
@click.option("--to", "folder", required=True, type=click.Path(exists=True, file_okay=False),
              help=N_("The folder to write the bundle into."))
@pass_box
def export_command(here, folder):
    """Write this box's bundle for its hub (a hub: one for each enrolled box).

    Example: piratebox --data ./data export --to /media/stick/cocote
    """
    from models import Peer
    from piratebox.sync import engine

    peers = Peer.select().where((Peer.status == "active") & (
        (Peer.role == "hub") | Peer.box_id.is_null(False)))
    if not peers.exists():
        raise Refusal(_("Nothing to export to: this box is not enrolled with a "
                                     "hub (or, at a hub, no box has synced yet)."))
    for peer in peers:
        path, manifest = engine.export(here, peer, folder)
        click.echo(_("{path} ({records} records, {blobs} photos and files)", path=path,
                     records=manifest["record_count"], blobs=len(manifest["members"]) - 1))


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@pass_box
def import_command(here, files):
    """Verify and apply bundles addressed to this box. Records that cannot be applied are
    set aside (see the sync page) and make the command end with a non-zero status.

    Example: piratebox --data ./data import /media/stick/cocote/*-to-*.cocote
    """
    from piratebox.sync import engine
    from piratebox.sync.stick import attention, describe

    troubles, lines = [], []
    for path in files:
        result = engine.import_bundle(path, here)
        lines.append(text(describe(result)))
        click.echo(f"{path}: {lines[-1]}")
        troubles += attention(result)
    if troubles:
        needs_you("; ".join(lines), troubles)


@cli.group("hub")
def hub_group():
    """The hub's commands: enrol a new box, revoke one, list them.

    Example: piratebox --data /srv/hub hub enrol "Saint-Bonnet" --to /media/stick
    """


@hub_group.command("enrol")
@click.argument("name")
@click.option("--to", "stick", required=True, type=click.Path(exists=True, file_okay=False),
              help=N_("The mediator's stick (the enrolment goes in its cocote/ folder)."))
@click.option("--commune", default="", help=N_("The commune, for the figures (default: NAME)."))
@pass_box
def hub_enrol(here, name, stick, commune):
    """Make a place for a new box and write its enrolment file on the stick.

    Example: piratebox --data /srv/hub hub enrol "Saint-Bonnet-le-Château" --to /media/stick
    """
    from piratebox.sync import enrolment

    peer, path = enrolment.enrol(name, stick, here.clock.now(), commune=commune)
    click.echo(_("Enrolment {id} for {name} written to {path}. Keep the stick safe until "
                 "the box has used it: whoever holds it can join the network as this box. The "
                 "box takes it off the stick once confirmed. A box enrolled before (revoked, "
                 "or restored without its keys) offers it to its mediator as a replacement and "
                 "keeps its history.", id=peer.id, name=peer.name, path=path))


@hub_group.command("revoke")
@click.argument("which", metavar="BOX")
@pass_box
def hub_revoke(_here, which):
    """Refuse every future bundle of a box: its name (as enrolment compares names: case,
    accents and punctuation aside), its box id or its enrolment id. The box is told at its
    next sync; `hub enrol` the village again to give it a new key.

    Example: piratebox --data /srv/hub hub revoke "saint bonnet"
    """
    from piratebox.sync import enrolment

    peer = enrolment.revoke(which)
    click.echo(_("{name} is revoked: its bundles will be refused, and the box is told so at "
                 "its next sync.", name=peer.name))


@hub_group.command("rename")
@click.argument("which", metavar="BOX")
@click.argument("new_name")
@click.option("--commune", default=None, help=N_("The box's commune, for the figures."))
@pass_box
def hub_rename(_here, which, new_name, commune):
    """Give a box the name the figures and the villages show (and its commune).

    Example: piratebox --data /srv/hub hub rename "St-Bonnet" "Saint-Bonnet-le-Château"
    """
    from piratebox.sync import enrolment

    peer = enrolment.rename(which, new_name, commune)
    click.echo(_("The box {id} is now {name} (commune: {commune}); the villages learn it "
                 "at their next sync.", id=peer.id, name=peer.name, commune=peer.commune))


@hub_group.command("boxes")
@pass_box
def hub_boxes(here):
    """List the enrolled boxes: name, commune, status, when each last sent a bundle, and
    its ids (enrolment, box).

    Example: piratebox --data /srv/hub hub boxes
    """
    from models import Peer
    from piratebox.typography import date_time

    for peer in Peer.boxes():
        last = (date_time(peer.last_import_at, here.config["TIMEZONE"], _.language,
                          now=here.clock.now())
                if peer.last_import_at else _("never synced"))
        status = _("revoked") if peer.status == "revoked" else _("active")
        click.echo(f"{peer.name:<30} {peer.commune:<24} {status:<8} {last:<28} "
                   f"{peer.id} {peer.box_id or '-'}")


# --- backup -----------------------------------------------------------------------------------

@cli.command("backup")
@click.option("--to", "stick", required=True, type=click.Path(exists=True, file_okay=False),
              help=N_("The stick (the backup goes in its cocote-backup/ folder)."))
@click.option("--set-passphrase", is_flag=True,
              help=N_("Set (or change) the backup passphrase first: it seals the box's keys in "
                      "every backup. Asked twice, or read from standard input."))
@click.option("--passphrase-stdin", is_flag=True,
              help=N_("Read the new passphrase from the first line of standard input."))
@pass_box
def backup_command(here, stick, set_passphrase, passphrase_stdin):
    """Back up the box while it keeps serving: database, settings, photos and files.
    Only what is new since the last backup on that stick is written. The keys go only
    sealed with the backup passphrase; with none set, the backup holds no key at all.

    Example: piratebox --data /srv/cocote backup --to /mnt/sda1 --set-passphrase
    """
    from piratebox.backup import logic as backup

    if set_passphrase:
        backup.set_passphrase(read_secret(passphrase_stdin, _("New backup passphrase"), True),
                              here.config["PASSWORD_HASH_ROUNDS"])
    manifest = backup.backup(here, stick, say=say)
    click.echo(_("Backup {id} on {stick}: {blobs} photos and files, {new} written "
                 "this time.", id=manifest["backup_id"], stick=stick,
                 blobs=len(manifest["blobs"]), new=manifest["blobs_written"]))
    click.echo(text(backup.summary(manifest)))


@cli.command("restore")
@click.option("--from", "stick", required=True, type=click.Path(exists=True, file_okay=False),
              help=N_("The stick holding the backup."))
@click.option("--box", "box_id", help=N_("Which box, when the stick holds several backups."))
@click.option("--passphrase-stdin", is_flag=True,
              help=N_("Read the backup passphrase from the first line of standard input."))
@click.pass_obj
def restore_command(data_dir, stick, box_id, passphrase_stdin):
    """Rebuild a box from its backup on a fresh device, keeping its identity. Its next sync
    tells the hub it is the same box continuing, and the hub re-sends what it missed.
    With the backup passphrase the keys come back too; without it (leave it empty), the
    hub enrols the box again and you set a new admin password.

    Example: piratebox --data /srv/cocote restore --from /mnt/sda1
    """
    from piratebox.backup import restore

    def passphrase():
        return read_secret(passphrase_stdin, _("Backup passphrase (empty: restore without the "
                                                "keys)"), False)

    manifest, keys = restore.restore(data_dir, stick, box_id, say=say, passphrase=passphrase)
    me = Box.open(data_dir).identity  # what was restored, not what the stick's manifest says
    db.connect(reuse_if_open=True)
    restore.start_new_epoch()
    click.echo(_("Restored {name} ({id}) from the backup {backup}. Sync with the hub to "
                 "get back what came after.", name=me["name"], id=me["id"],
                 backup=manifest["backup_id"]))
    if not keys:
        click.echo(_("Its keys were not restored: ask the hub to enrol this box again "
                     "(piratebox hub enrol NAME, at the hub; the box keeps its history), and "
                     "set the admin password (piratebox set-password)."))


def read_secret(from_stdin, prompt, twice):
    """A passphrase, from standard input or asked (hidden)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, show_default=False,
                        confirmation_prompt=_("Repeat for confirmation") if twice else False,
                        default=None if twice else "")


@cli.command("share-folder")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--into", "share_folder", help=N_("The folder of the file share the files go "
                                                "into (default: the folder's own name)."))
@pass_box
def share_folder_command(here, folder, share_folder):
    """Add the files of a folder (on a USB stick, say) to the file share, all together once
    all are copied: a stick pulled out half-way leaves nothing behind.

    Example: piratebox --data /srv/cocote share-folder /mnt/sda1/Photos-fete --into "Fête 2026"
    """
    from piratebox.errors import PirateboxError
    from piratebox.files import from_stick

    into = from_stick.share_folder_for(folder, share_folder)
    progress = from_stick.Progress()
    with contextlib.ExitStack() as shown:
        bars = []  # shown from the first file copied: a refusal is one line on its own

        def advance(state):
            if not bars:
                bars.append(shown.enter_context(click.progressbar(
                    length=max(state.total_bytes, 1), label=_("Copying"), file=sys.stderr)))
            bars[0].update(state.copied - bars[0].pos)

        try:
            from_stick.import_folder(folder, into, here.data_dir, here.config, here.actor(),
                                    progress, advance)
        except PirateboxError as error:
            raise Refusal(error.localized(_)) from None
    click.echo(_.plural("{num} file added to the share, in the folder “{folder}”.",
                        "{num} files added to the share, in the folder “{folder}”.",
                        len(progress.added), folder=into))
    if progress.already:
        click.echo(_.plural("{num} file was already shared: not added twice.",
                            "{num} files were already shared: not added twice.",
                            progress.already))
    if progress.too_large:
        click.echo(_("Larger than the box accepts, left out: {names}.",
                     names=", ".join(progress.too_large)))


@cli.command("check")
@click.option("--repair", is_flag=True,
              help=N_("Deal with what is wrong: what can come back waits for the next sync, "
                      "what cannot is removed cleanly and said."))
@pass_box
def check_command(here, repair):
    """Check the database and that every photo and file is there with the right content.
    A record born elsewhere is never changed: what it lacks is asked for at the next sync.

    Example: piratebox --data /srv/cocote check --repair
    """
    from piratebox import integrity

    problems = integrity.check(here.data_dir, repair=repair, say=say)
    for problem in problems:
        click.echo(text(problem))
    if problems and not repair:
        raise Refusal(_.plural(
            "{num} problem: run check --repair, or restore from a backup.",
            "{num} problems: run check --repair, or restore from a backup.", len(problems)))
    click.echo(_("Everything is in order.") if not problems else _.plural(
        "Repaired: {num} problem dealt with.", "Repaired: {num} problems dealt with.",
        len(problems)))


def write_report(quarter, out, commune, now, zone, here):
    from piratebox.errors import PirateboxError
    from piratebox.i18n import Translator
    from piratebox.impact import quarter_report
    from piratebox.storage import atomic_file

    if not (quarter and out):
        raise Refusal(_("A report needs both --report QUARTER and --out FILE.pdf."))
    try:
        document = quarter_report.make(quarter_report.Quarter.parse(quarter), here.identity,
                                       here.blobs, now, zone, Translator("fr"), "fr",
                                       commune)
    except PirateboxError as error:
        raise Refusal(error.localized(_)) from None
    try:
        with atomic_file(out) as handle:
            document.write(handle)
    except OSError as error:
        raise Refusal(_("Cannot write {path}: {reason}.", path=out,
                        reason=system_reason(error, _))) from None
    click.echo(_.plural("Report of {quarter} written to {path} ({num} page).",
                        "Report of {quarter} written to {path} ({num} pages).",
                        len(document.pages), quarter=quarter.strip().upper(), path=out))


def write_pdf_output(path, pages):
    """Write pages to a PDF file atomically, one page in memory at a time; the page count."""
    from piratebox.printing import logic as printing
    from piratebox.storage import atomic_file

    try:
        with atomic_file(path) as handle:
            return printing.write_pdf(pages, handle)
    except OSError as error:
        raise Refusal(_("Cannot write {path}: {reason}.", path=path,
                        reason=system_reason(error, _))) from None


def display_host(host):
    return "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - display only


def configure_logging():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Waitress warns "Task queue depth is N" on every busy moment: a flood on a Saturday
    # evening that says nothing the access log does not.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def main(args=None):
    cli.main(args=args, prog_name="piratebox")


if __name__ == "__main__":
    main(sys.argv[1:] or ["serve"])
