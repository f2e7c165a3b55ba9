"""Configuration in layers: defaults < data/config.ini < PIRATEBOX_* variables < a test's dict.

The mediator's own settings (SSID, village name...) are not here: they live in the
database and are edited on the admin page. This file is for whoever installs the box.
"""

import os

from piratebox.errors import ConfigError
from piratebox.i18n import N_
from piratebox.units import KB, MB

DEFAULTS = {
    # The address people type (the mediator may set it on the admin page instead). Unset,
    # links and QR codes carry the address each phone used, and the captive portal sends
    # other names to http://boite.lan, the name the shipped hotspot files give the box.
    "SITE_URL": "",
    "DEFAULT_LANGUAGE": "fr",
    # The languages the pages offer, comma-separated (fr,en,oc); empty: French, English and
    # every catalogue found in piratebox/translations/ (see docs/languages.md).
    "LANGUAGES": "",
    "TIMEZONE": "Europe/Paris",
    # Empty: SQLite in the data directory. A hub may name PostgreSQL instead
    # (postgresql://user@host/db, or postgresql+pool:// for pooled connections).
    "DATABASE_URL": "",
    # A form with photos; other forms take 64 KB, the file share and the bundle upload
    # their own limits below (piratebox/bodies.py).
    "MAX_CONTENT_LENGTH": 32 * MB,
    # The server (piratebox/serving.py): connections at once, and per phone address (a
    # share that shrinks as more addresses connect); a request's headers must arrive within
    # REQUEST_HEADER_SECONDS of the connection being ready; a body must come at
    # REQUEST_BODY_MIN_RATE bytes a second on average after that grace (a phone on the
    # box's wifi at its slowest rate, 1 Mbit/s, sends some 60 KB/s), and an answer be taken
    # at RESPONSE_MIN_RATE over each span of REQUEST_HEADER_SECONDS.
    "CONNECTIONS": 200,
    "CONNECTIONS_PER_ADDRESS": 16,
    "REQUEST_HEADER_SECONDS": 15,
    "REQUEST_BODY_MIN_RATE": 32 * KB,
    "RESPONSE_MIN_RATE": 2048,
    "LOGIN_ATTEMPTS": 5,
    "LOGIN_WINDOW_SECONDS": 900,
    # Wrong passwords from all addresses together before phones the mediator never
    # logged in from must wait between tries, a wait doubling from one second up to
    # LOGIN_GLOBAL_LONGEST_WAIT_SECONDS (see piratebox/admin.py).
    "LOGIN_GLOBAL_ATTEMPTS": 20,
    "LOGIN_GLOBAL_WINDOW_SECONDS": 3600,
    "LOGIN_GLOBAL_LONGEST_WAIT_SECONDS": 300,
    "ADMIN_SESSION_HOURS": 12,
    # How long a phone that has seen the welcome page is told "you are online".
    "PORTAL_MEMORY_SECONDS": 24 * 3600,
    "ACCESS_LOG": False,
    # Public pages are served from memory for at most this long (0: never); any write
    # clears them at once. See piratebox/pagecache.py.
    "PAGE_CACHE_SECONDS": 30,
    # Every change a phone address makes (a post, a reservation, an owner's action...) per
    # hour; objects it reserves, takes or waits for per hour; new objects (and edits) per
    # hour; open reports that hide an object. The mediator logged in is never limited.
    "CHANGES_PER_HOUR": 120,
    "CLAIMS_PER_HOUR": 3,
    "POSTS_PER_HOUR": 10,
    "REPORTS_TO_HIDE": 3,
    # A phone's report counts towards hiding only if the box had seen it this long before
    # (its cookie says when); others go to the mediator alone.
    "REPORTER_SEEN_HOURS": 24,
    # The board: messages per phone address per hour, and days before a message goes.
    "MESSAGES_PER_HOUR": 10,
    "BOARD_DAYS": 60,
    "PASSWORD_HASH_ROUNDS": 120_000,
    # The file share: the largest upload (one file, or several together), the free space
    # it never uses (a percentage of the disk or a floor, the larger), uploads per phone
    # address per hour, and days before a file goes (0: files stay until deleted).
    "FILES_MAX_MB": 2048,
    "FILES_RESERVE_PERCENT": 5,
    "FILES_RESERVE_MB": 500,
    "FILES_PER_HOUR": 30,
    "FILES_EXPIRE_DAYS": 0,
    # Sync: the largest bundle (FAT sticks cap a file at 4 GB) and the largest shared file
    # that travels when the mediator marks it for the network.
    "SYNC_MAX_BUNDLE_MB": 3500,
    "SYNC_FILE_MAX_MB": 50,
    # Also refresh the backup on the stick at each sync, when the stick has room.
    "SYNC_BACKUP": False,
    # Where the system mounts a plugged stick, comma-separated: the mediator's page offers
    # the folders of each stick found there to the file share (piratebox/files/from_stick.py).
    "STICK_ROOTS": "/mnt,/media,/run/media,/run/cocote",
}

ENV_PREFIX = "PIRATEBOX_"
FILE_SECTION = "piratebox"
TRUE_WORDS = {"1", "true", "yes", "on", "oui"}
FALSE_WORDS = {"0", "false", "no", "off", "non", ""}


def coerce(key, raw):
    """Turn a string from a file or the environment into the type of the default."""
    default = DEFAULTS.get(key)
    if not isinstance(raw, str) or default is None or isinstance(default, str):
        return raw
    try:
        if isinstance(default, bool):
            word = raw.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise ValueError(raw)
        return type(default)(raw.strip().replace("_", ""))
    except ValueError:
        raise ConfigError(
            N_("Setting {key} = {raw} is not a valid {kind}: fix it in config.ini or the "
            "PIRATEBOX_ environment variables."),
            key=key,
            raw=raw,
            kind=type(default).__name__,
        ) from None


def from_file(path):
    if not os.path.exists(path):
        return {}  # most boxes have none: configparser is not even imported at start-up
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        read = parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ConfigError(N_("{path} cannot be read ({error}); fix or remove it."),
                          path=path, error=error) from None
    if not read or not parser.has_section(FILE_SECTION):
        return {}
    return {key.upper(): coerce(key.upper(), value) for key, value in parser[FILE_SECTION].items()}


def from_environment(environ=None):
    environ = os.environ if environ is None else environ
    found = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "DATA":
            key = name[len(ENV_PREFIX):]
            found[key] = coerce(key, value)
    return found


def load(data_dir, overrides=None, environ=None):
    config = dict(DEFAULTS)
    config.update(from_file(data_dir.config_file))
    config.update(from_environment(environ))
    config.update(overrides or {})
    return config
