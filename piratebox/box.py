"""This box's identity and its mediator's password."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from models import Setting, db, migrate, new_id
from piratebox.errors import AlreadyInitialised, BadInput
from piratebox.i18n import N_

ROLES = ("box", "hub")
DEFAULT_NAMES = {"box": "CoCoTe", "hub": "CoCoTe hub"}  # until the mediator names it


@dataclass
class Actor:
    """Who makes a change, as the rules need to know it: this box, its time, its blob store."""

    box_id: str
    now: float
    blobs: object = None
MIN_PASSWORD_LENGTH = 8


def create(data_dir, role="box", name=None, now=None, database_url=None):
    """Make the data directory, the database, the secret key and a new identity.

    `database_url` (a hub on PostgreSQL) is written to the data directory's config.ini, so
    every later command finds the same database.
    """
    from piratebox.database import bind, initialised
    from piratebox.storage import atomic_write

    if role not in ROLES:
        raise BadInput(N_("Unknown role {role}: choose box or hub."), role=role)
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
