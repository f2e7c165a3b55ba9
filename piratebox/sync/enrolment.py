"""Enrolment: the hub writes a box's key on the mediator's stick, the box takes it; and the
hub's list of boxes (revoke, rename).

One stick serves a round of villages: each enrolment file is named after the box it was
made for (`cocote/enrol-<name>-<enrolment id>.json`), and a box offers its mediator the one
made for its own name (`init --name`). When none is, or several are, the mediator
chooses; a box never takes another's silently. The key is on the stick only until it is
in use: the box deletes its file once the mediator has confirmed it, the hub once the
box's first bundle has arrived, each overwriting it before deleting it.

A box already enrolled that finds a new enrolment made for it (its hub revoked it and
enrolled it again, or a new hub) offers it to its mediator as a replacement; the hub
then carries the box's history over to the new enrolment (history.take_over).
"""

import json
import re
from pathlib import Path

from models import Peer, PeerBlob, Setting, db, fold, new_id
from piratebox import box
from piratebox.errors import PirateboxError
from piratebox.i18n import N_
from piratebox.patterns import ID, SHA256
from piratebox.storage import atomic_write, shred
from piratebox.sync import bundle
from piratebox.text import clean_line
from piratebox.units import KB

FORMAT = "cocote-enrolment"
STICK_FOLDER = "cocote"
MAX_NAME = 120


class SyncError(PirateboxError):
    status = 400


def slug(name):
    """A name as a file name part and for comparing: "Saint-Bonnet-le-Château" and
    "saint bonnet le chateau" are the same village."""
    return "-".join(re.findall(r"[a-z0-9]+", fold(name)))[:40]


def enrol(name, stick, now, commune=""):
    """Hub: make a place for a new box and write its enrolment file on the stick."""
    me = box.identity()
    if me["role"] != "hub":
        raise SyncError(N_("Only a hub enrols boxes."))
    name = clean_line(name)[:MAX_NAME]
    if not slug(name):
        raise SyncError(N_("Give the box a name with letters or digits (the village's)."))
    folder = Path(stick) / STICK_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    peer = Peer.create(id=new_id(), role="box", name=name,
                       commune=clean_line(commune)[:MAX_NAME] or name, key=bundle.new_key(),
                       created_at=now)
    document = {"format": FORMAT, "version": "1.0", "hub_id": me["id"],
                "hub_name": me["name"], "enrolment_id": peer.id, "box_name": name,
                "key": peer.key}
    path = folder / f"enrol-{slug(name)}-{peer.id}.json"
    try:
        atomic_write(path, json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"))
    except OSError as error:
        peer.delete_instance()
        raise SyncError(N_("Could not write {path}: {error}."), path=path,
                        error=error.strerror or error) from None
    return peer, path


def read(path):
    """An enrolment file's document, or None if it is not a valid one."""
    try:
        with open(path, "rb") as handle:
            document = bundle.parse_json(handle.read(64 * KB))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return None
    texts = {name: document.get(name) for name in ("hub_name", "box_name")}
    valid = (all(isinstance(document.get(k), str) and ID.match(document[k])
                 for k in ("hub_id", "enrolment_id"))
             and isinstance(document.get("key"), str) and SHA256.match(document["key"])
             and all(isinstance(text, str | None) for text in texts.values()))
    if not valid:
        return None
    return {"hub_id": document["hub_id"], "enrolment_id": document["enrolment_id"],
            "key": document["key"], "hub_name": clean_line(texts["hub_name"])[:MAX_NAME],
            "box_name": clean_line(texts["box_name"])[:MAX_NAME]}


def files_on(folder):
    """[(path, document)] of the valid enrolment files in the stick's folder."""
    found = []
    for path in sorted(Path(folder).glob("enrol-*.json")):
        document = read(path)
        if document:
            found.append((path, document))
    return found


def offer(folder):
    """Box: keep for the mediator what the stick offers. Not enrolled (or restored without
    its keys): the enrolment made for this box's name, or, when none or several are, every
    one on the stick to choose from. Enrolled: an enrolment made for this box's name other
    than the one in use, as a replacement. Returns what is waiting."""
    documents = [document for _path, document in files_on(folder)]
    mine = [document for document in documents if made_for_this_box(document)]
    if enrolled():
        passed = {Setting.get_value("enrolment_id"), *ignored()}
        waiting = [document for document in mine if document["enrolment_id"] not in passed]
    else:
        waiting = mine if len(mine) == 1 else documents
    if waiting:
        Setting.put("pending_enrolment", json.dumps(waiting))
    return waiting


def enrolled():
    """Does this box hold a key of its hub?"""
    hub = hub_peer()
    return hub is not None and bool(hub.key)


def ignored():
    """Enrolments made for this box that its mediator turned down."""
    return json.loads(Setting.get_value("ignored_enrolments") or "[]")


def ignore(enrolment_id):
    """Box: the mediator turns down a replacement enrolment; its file (and key) leaves the
    stick at the next sync."""
    if enrolment_id not in {document["enrolment_id"] for document in pending()}:
        raise SyncError(N_("There is no enrolment waiting."))
    with db.atomic():
        Setting.put("ignored_enrolments", json.dumps(sorted({*ignored(), enrolment_id})))
        Setting.put("pending_enrolment", json.dumps(
            [document for document in pending() if document["enrolment_id"] != enrolment_id]))


def pending():
    """The enrolments waiting for the mediator: a list (empty when none)."""
    raw = Setting.get_value("pending_enrolment")
    waiting = json.loads(raw) if raw else []
    return waiting if isinstance(waiting, list) else [waiting]  # one, as older versions kept


def made_for_this_box(document):
    return slug(document["box_name"]) == slug(box.identity()["name"])


def confirm(now, enrolment_id=None):
    """Box: the mediator accepted one enrolment (the only one waiting, or the one chosen).
    The others are forgotten with their keys. One that replaces the enrolment in use keeps
    the box's history with its hub; with a new hub, the box starts afresh with it."""
    waiting = pending()
    if not waiting:
        raise SyncError(N_("There is no enrolment waiting."))
    chosen = [document for document in waiting
              if enrolment_id is None or document["enrolment_id"] == enrolment_id]
    if len(chosen) != 1:
        raise SyncError(N_("Choose the enrolment the hub made for this box."))
    document = chosen[0]
    current = hub_peer()
    with db.atomic():
        if current is not None and current.id != document["hub_id"]:
            PeerBlob.delete().where(PeerBlob.peer_id == current.id).execute()
            current.delete_instance()
            Setting.put("last_bundle_id", "")  # the new hub starts this box's chain
            current = None
        if current is None:
            Peer.create(id=document["hub_id"], role="hub", name=document["hub_name"],
                        key=document["key"], created_at=now)
        else:
            current.name, current.key = document["hub_name"], document["key"]
            current.save()
        Setting.put("enrolment_id", document["enrolment_id"])
        Setting.put("pending_enrolment", "")
        Setting.put("hub_refused", "")
        if not Setting.get_value("sync_epoch"):
            Setting.put("sync_epoch", new_id())
    return document


def hub_peer():
    return Peer.get_or_none(Peer.role == "hub")


# --- the hub's list of boxes -----------------------------------------------------------------

def find_box(name_or_id):
    """Hub: the enrolled box a mediator or an operator names: by its enrolment id, its box
    id, or its name as enrolment compares names (case, accents and punctuation aside)."""
    boxes = list(Peer.select().where(Peer.role == "box"))
    found = [peer for peer in boxes if name_or_id in (peer.id, peer.box_id)] or [
        peer for peer in boxes if slug(peer.name) == slug(name_or_id)]
    if not found:
        raise SyncError(N_("No enrolled box is called {name}."), name=name_or_id)
    if len(found) > 1:
        raise SyncError(N_("Several boxes are called {name}: name the one you mean by its "
                           "enrolment id ({ids})."), name=name_or_id,
                        ids=", ".join(peer.id for peer in found))
    return found[0]


def revoke(name_or_id):
    peer = find_box(name_or_id)
    peer.status = "revoked"
    peer.save()
    return peer


def rename(name_or_id, new_name, commune=None):
    """Hub: the name (and commune) the figures show for a box, and its villages read."""
    peer = find_box(name_or_id)
    name = clean_line(new_name)[:MAX_NAME]
    if not slug(name):
        raise SyncError(N_("Give the box a name with letters or digits (the village's)."))
    peer.name = name
    if commune is not None:
        peer.commune = clean_line(commune)[:MAX_NAME] or name
    peer.save()
    return peer


def remove_used(folder, enrolment_id):
    """Take the key of an enrolment in use off the stick; returns how many files went."""
    removed = 0
    for path in Path(folder).glob(f"enrol-*{enrolment_id}.json"):
        document = read(path)
        if document and document["enrolment_id"] == enrolment_id:
            shred(path)
            removed += 1
    return removed
