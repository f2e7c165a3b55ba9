"""The villages of the network by name: where another village's offer is to be had.

A hub knows each box it enrolled: the name typed at enrolment (or given since with
`piratebox hub rename`) and its commune. Its return bundles tell the boxes (the
manifest's `boxes`), which keep the list to say "at Marols" on another village's objects.
"""

import json

from models import Peer, Setting
from piratebox import box
from piratebox.patterns import ID
from piratebox.text import clean_line

MAX_NAME = 120
MAX_BOXES = 5000  # a département's network, many times over


def known():
    """{box id: {"name", "commune"}} of the network's boxes, as this box knows them."""
    if box.identity()["role"] == "hub":
        return {peer.box_id: {"name": peer.name, "commune": peer.commune or peer.name}
                for peer in Peer.select().where((Peer.role == "box")
                                                & Peer.box_id.is_null(False))}
    return read(json.loads(Setting.get_value("network_boxes") or "{}")) or {}


def names():
    """{box id: name} of every box this one knows of: the network's villages, and its hub."""
    found = {box_id: village["name"] for box_id, village in known().items()}
    for hub in Peer.select().where(Peer.role == "hub"):
        found.setdefault(hub.id, hub.name)
    return found


def read(value):
    """The manifest's `boxes`, checked: {box id: {"name", "commune"}}, names cleaned;
    entries of another shape are left out. None when it is no such map."""
    if not isinstance(value, dict):
        return None
    found = {}
    for box_id, village in list(value.items())[:MAX_BOXES]:
        if not (isinstance(box_id, str) and ID.match(box_id) and isinstance(village, dict)):
            continue
        name, commune = village.get("name"), village.get("commune", "")
        if isinstance(name, str) and isinstance(commune, str) and clean_line(name):
            found[box_id] = {"name": clean_line(name)[:MAX_NAME],
                             "commune": clean_line(commune)[:MAX_NAME]}
    return found


def remember(value):
    """At a box: keep what the hub said of the network's villages (when it said it)."""
    found = read(value)
    if found is not None:
        Setting.put("network_boxes", json.dumps(found, ensure_ascii=False, sort_keys=True))
