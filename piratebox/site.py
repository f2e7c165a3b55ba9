"""The mediator's settings for the village: wifi name and password, address, name, welcome.

Kept in the database (they are the village's, edited on the admin page), read into
app.extensions["box"].site at start and after each change.
"""

import ipaddress
from urllib.parse import urlsplit

from models import Setting, db
from piratebox.errors import BadInput
from piratebox.i18n import N_
from piratebox.text import clean_line

FIELDS = ("box_name", "wifi_ssid", "wifi_password", "site_url", "welcome_text")
LIMITS = {"box_name": 60, "wifi_ssid": 32, "wifi_password": 63, "site_url": 100,
          "welcome_text": 300}
DEFAULT_SSID = "CoCoTe"
# The name the shipped hotspot configurations give the box (deploy/): where the captive
# portal sends phones, and what a printout says, while no address is set.
DEFAULT_ADDRESS = "http://boite.lan"


def load(default_site_url):
    values = Setting.values(*FIELDS)
    return {
        "box_name": values.get("box_name", "CoCoTe"),
        "wifi_ssid": values.get("wifi_ssid", DEFAULT_SSID),
        "wifi_password": values.get("wifi_password", ""),
        "site_url": (values.get("site_url") or default_site_url or "").rstrip("/"),
        "welcome_text": values.get("welcome_text", ""),
    }


def validate(form):
    """Clean settings, or a dict of errors (message ids) keyed by field."""
    values = {name: clean_line(form.get(name, "")) for name in FIELDS}
    values["wifi_password"] = form.get("wifi_password", "")  # spaces count in a password
    values["site_url"] = values["site_url"].rstrip("/")
    errors = {}
    for name, limit in LIMITS.items():
        if len(values[name].encode("utf-8") if name == "wifi_ssid" else values[name]) > limit:
            errors[name] = N_("Too long: at most {limit} characters.")
    if not values["box_name"]:
        errors["box_name"] = N_("Give the village's name.")
    if not values["wifi_ssid"]:
        errors["wifi_ssid"] = N_("Give the wifi's name, as phones show it.")
    if values["wifi_password"] and not 8 <= len(values["wifi_password"]) <= 63:
        errors["wifi_password"] = N_("A WPA password has 8 to 63 characters; leave it empty "
                                     "for an open wifi.")
    if values["site_url"] and not is_typed_address(values["site_url"]):
        errors["site_url"] = N_("Give an address like http://boite.lan: http, and a name "
                                "with a dot so phones do not send it to a search engine.")
    return values, errors


def is_typed_address(url):
    """http:// and a host with a dot (or an IP), nothing after: what a phone opens as a site."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http" or parts.path not in ("", "/") or parts.query or parts.fragment:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return "." in host.strip(".") and all(label for label in host.split("."))


def save(values):
    values, errors = validate(values)
    if errors:
        raise BadInput(N_("Some settings are not valid."))
    with db.atomic():
        for name in FIELDS:
            Setting.put(name, values[name])
    return values


def address(settings):
    """The address a printout carries: the one set, else the hotspot's default name. Never
    the Host a phone sent: a poster is drawn once and printed for everyone."""
    return settings["site_url"] or DEFAULT_ADDRESS

