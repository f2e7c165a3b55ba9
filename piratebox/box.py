"""This box: its identity, the one object that opens it, and its mediator's password."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from models import Setting, db, migrate, new_id
from piratebox import rules, site
from piratebox.blobs import BlobStore
from piratebox.clock import Clock
from piratebox.config import load as load_config
from piratebox.database import bind, connected, initialised
from piratebox.errors import AlreadyInitialised, BadInput, NotAllowed
from piratebox.i18n import N_, keep_catalogues_in
from piratebox.storage import atomic_write
from piratebox.text import clean_line

ROLES = ("box", "hub")
DEFAULT_NAMES = {"box": "CoCoTe", "hub": "CoCoTe hub"}  # until the mediator names it
BORN_ELSEWHERE = N_("This comes from another village of the network: only that village (or "
                    "the hub) can change it. Contact its owner directly.")


@dataclass
class Actor:
    """Who makes a change, as the rules need to know it: this box, its role, its time, its
    blob store."""

    box_id: str
    now: float
    blobs: object = None
    role: str = "box"

    def may_change(self, record):
        """What villagers and the mediator do (reserve, take, edit, publish...): only where
        the record was born. Not even the hub acts on a village's records for its people."""
        return not record.origin or record.origin == self.box_id

    def may_moderate(self, record):
        """Hide, show again, delete: a box its own records, the hub the whole network's."""
        return self.role == "hub" or self.may_change(record)

    def save(self, record, moderating=False):
        """Store a change made here, checked against the one definition of a valid record.
        `moderating`: a moderation decision (see may_moderate), not a villager's action."""
        if not (self.may_moderate(record) if moderating else self.may_change(record)):
            raise NotAllowed(BORN_ELSEWHERE)
        rules.check_change(record)
        if hasattr(record, "refresh_search_text"):
            record.refresh_search_text()  # from the text as cleaned
        return record.save_change(self.box_id, self.now)

    def delete(self, record, moderating=False):
        record.deleted = True
        return self.save(record, moderating)


class Box:
    """A box opened once: its data directory, configuration, clock, identity and the
    mediator's site settings. The web application keeps one for its life (in
    app.extensions["box"]); each command opens one (app.py's `pass_box`); the sync, the
    backup and the printing take it whole rather than those pieces one by one."""

    def __init__(self, data_dir, config, clock, identity, site_settings):
        self.data_dir = data_dir
        self.config = config
        self.clock = clock
        self.identity = identity
        self.site = site_settings

    @classmethod
    def open(cls, data_dir, overrides=None):
        """Bind the database of `data_dir` (upgrading an older one) and read the rest, with
        no connection open; `overrides` are a test's or the web application's configuration."""
        keep_catalogues_in(data_dir.cache / "translations")
        config = load_config(data_dir, overrides)
        with connected(data_dir):
            return cls(data_dir, config, Clock.load(), identity(),
                       site.load(config["SITE_URL"]))

    @property
    def id(self):
        return self.identity["id"]

    @property
    def name(self):
        return self.identity["name"]

    @property
    def role(self):
        return self.identity["role"]

    @property
    def blobs(self):
        return BlobStore(self.data_dir)

    def actor(self):
        """This box, now: what a change made here is stamped with."""
        return Actor(box_id=self.id, now=self.clock.now(), blobs=self.blobs, role=self.role)

    def settings_changed(self, values):
        """The mediator saved the site settings (the village's name among them)."""
        self.site = values
        self.identity["name"] = values["box_name"]


MIN_PASSWORD_LENGTH = 8


def create(data_dir, role="box", name=None, now=None, database_url=None):
    """Make the data directory, the database, the secret key and a new identity.

    `database_url` (a hub on PostgreSQL) is written to the data directory's config.ini, so
    every later command finds the same database.
    """
    if role not in ROLES:
        raise BadInput(N_("Unknown role {role}: choose box or hub."), role=role)
    name = clean_line(name)[:site.LIMITS["box_name"]] or None
    if database_url and data_dir.config_file.exists():
        raise BadInput(N_("{path} already has a config.ini: put database_url in it instead."),
                       path=data_dir.config_file)
    if database_url:
        data_dir.create()
        atomic_write(data_dir.config_file,
                     f"[piratebox]\ndatabase_url = {database_url}\n".encode(),
                     mode=0o600)
    if initialised(data_dir):
        raise AlreadyInitialised(data_dir.path)
    data_dir.create()
    data_dir.secret_key()
    bind(data_dir)
    with db.connection_context():
        migrate()
        box_id = new_id()
        with db.atomic():
            Setting.put("box_id", box_id)
            Setting.put("box_name", name or DEFAULT_NAMES[role])
            Setting.put("role", role)
            if now is not None:
                Setting.put("clock_floor", repr(float(now)))
    return box_id


def identity():
    values = Setting.values("box_id", "box_name", "role")
    return {
        "id": values.get("box_id", ""),
        "name": values.get("box_name", ""),
        "role": values.get("role", "box"),
    }


# Passwords: PBKDF2 from the standard library, so a router needs nothing more. The rounds
# are a setting because a 580 MHz MIPS CPU takes seconds where a PC takes milliseconds.

def hash_password(password, rounds):
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds)
    return f"pbkdf2_sha256${rounds}${salt.hex()}${digest.hex()}"


def verify_password(password, stored):
    try:
        scheme, rounds, salt, expected = stored.split("$")
        rounds = int(rounds)
    except (ValueError, AttributeError):
        return False
    if scheme != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt), rounds)
    return hmac.compare_digest(digest.hex(), expected)


def set_password(password, rounds):
    """Store the mediator's password; every open admin session is closed by the new epoch."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(
            N_("The password is too short: use at least {length} characters."),
            length=MIN_PASSWORD_LENGTH,
        )
    with db.atomic():
        Setting.put("admin_password", hash_password(password, rounds))
        Setting.put("admin_epoch", secrets.token_hex(8))


def has_password():
    return Setting.get_value("admin_password") is not None


def check_password(password):
    stored = Setting.get_value("admin_password")
    return stored is not None and verify_password(password, stored)


def admin_epoch():
    return Setting.get_value("admin_epoch", "")
