"""The CoCoTe box: the application factory and the `piratebox` command.

    python app.py                      serve the box in ./data on http://127.0.0.1:8080
    piratebox --data DIR init          make a new box
    waitress-serve --call app:create_app   (with PIRATEBOX_DATA set)
"""

import logging
import os
import sys
import tempfile
import time

import click
from flask import Flask

from models import db
from piratebox import (
    __version__,
    admin,
    api,
    box,
    pages,
    print_views,
    site,
    static_files,
    stats_views,
    web,
)
from piratebox.board import views as board
from piratebox.catalogue import views as catalogue
from piratebox.clock import Clock
from piratebox.config import load as load_config
from piratebox.database import open_existing
from piratebox.errors import PirateboxError
from piratebox.events import views as events
from piratebox.files import views as files
from piratebox.files.upload import request_limit
from piratebox.pagecache import PageCache
from piratebox.portal import Portal
from piratebox.ratelimit import RateLimiter
from piratebox.storage import DataDir
from piratebox.sync import views as sync_views

DEFAULT_DATA = "data"


def data_dir_from(config):
    return DataDir(config.pop("DATA_DIR", None) or os.environ.get("PIRATEBOX_DATA")
                   or DEFAULT_DATA)


def create_app(config=None):
    """Build the web application for the box whose data directory the config names."""
    config = dict(config or {})
    data_dir = data_dir_from(config)
    open_existing(data_dir)
    app = Flask(__name__, static_folder=None)  # served by piratebox.static_files
    app.config.update(load_config(data_dir, config))
    if not app.config.get("SECRET_KEY"):  # Flask's default is None, hence no setdefault
        app.config["SECRET_KEY"] = data_dir.secret_key()
    app.config.update(
        SESSION_COOKIE_NAME="cocote",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.ensure_ascii = False  # French in the JSON API stays readable

    data_dir.clean_tmp()
    with db.connection_context():
        clock = Clock.load()
        clock.remember(force=True)
        identity = box.identity()
        settings = site.load(app.config["SITE_URL"])

    app.extensions.update(
        data_dir=data_dir,
        clock=clock,
        box=identity,
        site=settings,
        limiter=RateLimiter(),
        page_cache=PageCache(app.config["PAGE_CACHE_SECONDS"]),
        portal=Portal(settings["site_url"], app.config["PORTAL_MEMORY_SECONDS"]),
    )
    web.init_app(app)
    static_files.init_app(app, os.path.join(app.root_path, "static"))
    for blueprint in (pages.bp, admin.bp, catalogue.bp, files.bp, board.bp, events.bp, api.bp,
                      print_views.bp, stats_views.bp, sync_views.bp):
        app.register_blueprint(blueprint)
    return app


# --- the command line ---------------------------------------------------------------------


class Commands(click.Group):
    """Turns the box's own errors into one clear line and a non-zero exit."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PirateboxError as error:
            raise click.ClickException(error.message) from None


@click.group(cls=Commands)
@click.option("--data", "data", envvar="PIRATEBOX_DATA", default=DEFAULT_DATA,
              show_default=True, type=click.Path(file_okay=False),
              help="The box's data directory (or PIRATEBOX_DATA).")
@click.version_option(__version__, prog_name="piratebox")
@click.pass_context
def cli(ctx, data):
    """The CoCoTe box: an offline give box, file share, board and agenda.

    Example: piratebox --data /srv/cocote init --name "Saint-Bonnet"
    """
    ctx.obj = DataDir(data)


@cli.command()
@click.option("--role", type=click.Choice(box.ROLES), default="box", show_default=True,
              help="A village box, or the central hub.")
@click.option("--name", help="The name people see (the village, for a box).")
@click.option("--demo", is_flag=True, help="Add a few French sample objects to try it out.")
@click.option("--database-url", envvar="PIRATEBOX_DATABASE_URL",
              help="A hub on PostgreSQL: postgresql://user@host/db (default: SQLite in the "
                   "data directory). Needs pip install '.[postgres]'.")
@click.pass_obj
def init(data_dir, role, name, demo, database_url):
    """Create the data directory, the database, the secret key and the box's identity.

    Example: piratebox --data ./data init --name "Saint-Bonnet-le-Château" --demo
    """
    box_id = box.create(data_dir, role=role, name=name, now=time.time(),
                        database_url=database_url)
    click.echo(f"Created {role} {box_id} in {data_dir.path}")
    if demo:
        from piratebox import demo as samples

        added = samples.add_samples(data_dir, now=time.time())
        click.echo(f"Added {added} sample objects.")
    click.echo(f"Next: piratebox --data {data_dir.path} set-password")


@cli.command("set-password")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.pass_obj
def set_password(data_dir, password_stdin):
    """Set the mediator's admin password (asked twice, or read from standard input).

    Example: echo 'long secret phrase' | piratebox --data ./data set-password --password-stdin
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New admin password", hide_input=True,
                                confirmation_prompt=True)
    open_existing(data_dir)
    rounds = load_config(data_dir)["PASSWORD_HASH_ROUNDS"]
    with db.connection_context():
        box.set_password(password, rounds)
    click.echo("Password set. Open /admin/ on the box to log in.")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for the wifi).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Requests handled at once.")
@click.pass_obj
def serve(data_dir, host, port, threads):
    """Serve the box with waitress.

    Example: piratebox --data /srv/cocote serve --host 0.0.0.0 --port 8080
    """
    import waitress

    configure_logging()
    application = create_app({"DATA_DIR": str(data_dir.path)})
    # waitress keeps a request body over 512 KB in a temporary file until it is complete;
    # on a router /tmp is RAM, so such files go to the data disk (and vanish with us).
    tempfile.tempdir = str(data_dir.scratch())
    click.echo(f"CoCoTe box on http://{display_host(host)}:{port}/", err=True)
    waitress.serve(
        application,
        host=host,
        port=port,
        threads=threads,
        ident="piratebox",
        # bounded so that one slow phone cannot hold a thread or memory for long
        channel_timeout=60,
        connection_limit=200,
        max_request_header_size=64 * 1024,
        max_request_body_size=max(request_limit(application.config),
                                  (application.config["SYNC_MAX_BUNDLE_MB"] + 1) * 1024 * 1024),
        clear_untrusted_proxy_headers=True,
    )


@cli.group("print")
def print_group():
    """Print the poster for the café counter, or labels for the objects in the box.

    Example: piratebox --data ./data print poster --out affiche.pdf
    """


def open_box(data_dir):
    """Open the database for a command; returns the site settings."""
    open_existing(data_dir)
    db.connect(reuse_if_open=True)
    return site.load(load_config(data_dir)["SITE_URL"])


@print_group.command("poster")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The PDF file to write.")
@click.pass_obj
def print_poster(data_dir, out):
    """Write the A4 poster (wifi QR, site QR, three steps) as a PDF.

    Example: piratebox --data ./data print poster --out affiche.pdf
    """
    from piratebox import printing
    from piratebox.i18n import Translator

    settings = open_box(data_dir)
    french = Translator("fr").gettext
    write_output(out, printing.pdf([printing.poster(settings, french)]))
    click.echo(f"Poster written to {out}")


@print_group.command("labels")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The PDF file to write.")
@click.option("--item", "item_ids", multiple=True,
              help="An object's id; repeat it. Default: every object in the café's box.")
@click.pass_obj
def print_labels(data_dir, out, item_ids):
    """Write A4 sheets of QR labels (24 a sheet) for objects in the café's give box.

    Example: piratebox --data ./data print labels --out etiquettes.pdf
    """
    from models import Item
    from piratebox import printing

    settings = open_box(data_dir)
    query = Item.listed().order_by(Item.created_at.desc())
    if item_ids:
        query = query.where(Item.id.in_(item_ids))
    else:
        query = query.where((Item.place == "box") & (Item.status == "available"))
    entries = [(item.title, f"{settings['site_url']}/items/{item.id}") for item in query]
    if not entries:
        raise click.ClickException("No object to label: nothing is in the café's box.")
    with click.progressbar(length=len(entries), label="Drawing labels", file=sys.stderr) as bar:
        pages = printing.labels(entries, settings["box_name"], progress=bar.update)
    write_output(out, printing.pdf(pages))
    click.echo(f"{len(entries)} labels on {len(pages)} pages written to {out}")


@cli.command()
@click.option("--csv", "as_csv", is_flag=True, help="Comma-separated values for a spreadsheet.")
@click.option("--decimal-comma", is_flag=True, help="French decimals (3,5) and ';' separators.")
@click.pass_obj
def stats(data_dir, as_csv, decimal_comma):
    """Print the impact figures: exchanges, purchases avoided, kilos, CO2e, weeks.
    At a hub: one line per box, per commune and in total, for the report to the département.

    Example: piratebox --data ./data stats --csv --decimal-comma > impact.csv
    """
    import csv

    from piratebox import impact
    from piratebox.clock import Clock

    open_box(data_dir)
    now, zone = Clock.load().now(), load_config(data_dir)["TIMEZONE"]
    if box.identity()["role"] == "hub":
        rows = impact.network_csv_rows(impact.network_figures(now, zone), decimal_comma)
    else:
        rows = impact.csv_rows(impact.figures_now(now, zone), decimal_comma=decimal_comma)
    if as_csv:
        csv.writer(sys.stdout, delimiter=";" if decimal_comma else ",").writerows(rows)
    elif len(rows[0]) == 2:
        for name, value in rows[1:]:
            click.echo(f"{name:<38} {value}")
    else:
        columns = rows[0].index("exchanges"), rows[0].index("purchases_avoided"), \
            rows[0].index("kg_co2e_avoided")
        click.echo(f"{'':<9}{'name':<30}{'exchanges':>10}{'avoided':>9}{'kg CO2e':>10}")
        for row in rows[1:]:
            click.echo(f"{row[0]:<9}{row[1]:<30}" + "".join(
                f"{row[i]:>{w}}" for i, w in zip(columns, (10, 9, 10), strict=True)))


# --- sync -----------------------------------------------------------------------------------

def sync_context(data_dir):
    """Open the box for a sync command: (config, clock)."""
    from piratebox.clock import Clock

    open_box(data_dir)
    clock = Clock.load()
    return load_config(data_dir), clock


def say(line):
    click.echo(line, err=True)


@cli.command("sync")
@click.argument("stick", type=click.Path(exists=True, file_okay=False))
@click.pass_obj
def sync_command(data_dir, stick):
    """Exchange with the hub through a mounted USB stick (its cocote/ folder): import what
    is addressed to this box, write this box's bundle. What the hotplug scripts call.

    Example: piratebox --data /srv/cocote sync /mnt/sda1
    """
    from piratebox.sync import engine

    config, clock = sync_context(data_dir)
    summary = engine.sync(data_dir, config, clock, stick, say=say)
    click.echo(f"sync: {summary}")


@cli.command("export")
@click.option("--to", "folder", required=True, type=click.Path(exists=True, file_okay=False),
              help="The folder to write the bundle into.")
@click.pass_obj
def export_command(data_dir, folder):
    """Write this box's bundle for its hub (a hub: one for each enrolled box).

    Example: piratebox --data ./data export --to /media/stick/cocote
    """
    from models import Peer
    from piratebox.sync import engine

    config, clock = sync_context(data_dir)
    peers = Peer.select().where((Peer.status == "active") & (
        (Peer.role == "hub") | Peer.box_id.is_null(False)))
    if not peers.exists():
        raise click.ClickException("Nothing to export to: this box is not enrolled with a hub "
                                   "(or, at a hub, no box has synced yet).")
    for peer in peers:
        path, manifest = engine.export(data_dir, config, clock, peer, folder)
        click.echo(f"{path} ({manifest['record_count']} records, "
                   f"{len(manifest['members']) - 1} photos/files)")


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def import_command(data_dir, files):
    """Verify and apply bundles addressed to this box.

    Example: piratebox --data ./data import /media/stick/cocote/*-to-*.cocote
    """
    from piratebox.sync import engine

    config, clock = sync_context(data_dir)
    for path in files:
        result = engine.import_bundle(path, data_dir, config, clock)
        click.echo(f"{path}: {engine.describe(result)}")


@cli.group("hub")
def hub_group():
    """The hub's commands: enrol a new box, revoke one, list them.

    Example: piratebox --data /srv/hub hub enrol "Saint-Bonnet" --to /media/stick
    """


@hub_group.command("enrol")
@click.argument("name")
@click.option("--to", "stick", required=True, type=click.Path(exists=True, file_okay=False),
              help="The mediator's stick (the enrolment goes in its cocote/ folder).")
@click.option("--commune", default="", help="The commune, for the figures (default: NAME).")
@click.pass_obj
def hub_enrol(data_dir, name, stick, commune):
    """Make a place for a new box and write its enrolment file on the stick.

    Example: piratebox --data /srv/hub hub enrol "Saint-Bonnet-le-Château" --to /media/stick
    """
    from piratebox.sync import engine

    _config, clock = sync_context(data_dir)
    peer, path = engine.enrol(name, stick, clock.now(), commune=commune)
    click.echo(f"Enrolment {peer.id} for {name} written to {path}. Keep the stick safe: "
               "whoever holds it can join the network as this box.")


@hub_group.command("revoke")
@click.argument("box")
@click.pass_obj
def hub_revoke(data_dir, box):
    """Refuse every future bundle of a box (name, box id or enrolment id).

    Example: piratebox --data /srv/hub hub revoke "Saint-Bonnet"
    """
    from piratebox.sync import engine

    sync_context(data_dir)
    peer = engine.revoke(box)
    click.echo(f"{peer.name} is revoked: its bundles will be refused.")


@hub_group.command("boxes")
@click.pass_obj
def hub_boxes(data_dir):
    """List the enrolled boxes and when each last synced.

    Example: piratebox --data /srv/hub hub boxes
    """
    from models import Peer

    sync_context(data_dir)
    for peer in Peer.select().where(Peer.role == "box").order_by(Peer.name):
        click.echo(f"{peer.name:<30} {peer.status:<8} {peer.box_id or '(never synced)'}")


# --- backup -----------------------------------------------------------------------------------

@cli.command("backup")
@click.option("--to", "stick", required=True, type=click.Path(exists=True, file_okay=False),
              help="The stick (the backup goes in its cocote-backup/ folder).")
@click.pass_obj
def backup_command(data_dir, stick):
    """Back up the box while it keeps serving: database, settings, photos and files.
    Only what is new since the last backup on that stick is written.

    Example: piratebox --data /srv/cocote backup --to /mnt/sda1
    """
    from piratebox import backup
    from piratebox.clock import Clock

    open_box(data_dir)
    manifest = backup.backup(data_dir, stick, Clock.load().now(), say=say)
    click.echo(f"Backup {manifest['backup_id']} on {stick}: {len(manifest['blobs'])} photos "
               f"and files, {manifest['blobs_written']} written this time.")


@cli.command("restore")
@click.option("--from", "stick", required=True, type=click.Path(exists=True, file_okay=False),
              help="The stick holding the backup.")
@click.option("--box", "box_id", help="Which box, when the stick holds several backups.")
@click.pass_obj
def restore_command(data_dir, stick, box_id):
    """Rebuild a box from its backup on a fresh device, keeping its identity. Its next sync
    tells the hub it is the same box continuing, and the hub re-sends what it missed.

    Example: piratebox --data /srv/cocote restore --from /mnt/sda1
    """
    from piratebox import backup

    manifest = backup.restore(data_dir, stick, box_id, say=say)
    open_box(data_dir)
    backup.start_new_epoch()
    click.echo(f"Restored {manifest['box']['name']} ({manifest['box']['id']}) from the backup "
               f"of {manifest['backup_id']}. Sync with the hub to get back what came after.")


@cli.command("check")
@click.option("--repair", is_flag=True,
              help="Remove cleanly what cannot be had back, and say what was lost.")
@click.pass_obj
def check_command(data_dir, repair):
    """Check the database and that every photo and file is there with the right content.

    Example: piratebox --data /srv/cocote check --repair
    """
    from piratebox import backup

    open_box(data_dir)
    problems = backup.check(data_dir, repair=repair, say=say)
    for problem in problems:
        click.echo(problem)
    if problems and not repair:
        raise click.ClickException(f"{len(problems)} problems; run check --repair to remove "
                                   "what is lost, or restore from a backup.")
    click.echo("Everything is in order." if not problems else
               f"Repaired: {len(problems)} problems dealt with.")


def write_output(path, data):
    from pathlib import Path

    from piratebox.storage import atomic_write

    try:
        atomic_write(Path(path), data)
    except OSError as error:
        raise click.ClickException(f"Cannot write {path}: {error.strerror}.") from None


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
