"""Villages as a mediator meets them in the field, for the sync tests: real boxes with
their own SQLite file, their pages driven through Flask's test client (the forms, the
CSRF tokens, the private links), and the real `piratebox` command for each sync."""

import io
import random
import re

from flask.testing import FlaskClient

import app as application
from models import BlobUse, Quarantined, db
from piratebox import box
from piratebox.database import open_existing
from piratebox.sync import records
from tests.conftest import TEST_CONFIG, csrf_from
from tests.images import jpeg
from tests.test_sync import make, ok, run

PASSWORD = "mediator-secret"


class Village:
    """One box and a phone (a test client) of its villagers; the mediator logs in on it."""

    def __init__(self, tmp_path, name, role="box", data=None):
        self.name = name
        self.data = data or make(tmp_path, re.sub(r"\W+", "-", name).lower(), role=role,
                                 box_name=name)
        self.app = application.create_app({
            "DATA_DIR": str(self.data.path), **TEST_CONFIG, "POSTS_PER_HOUR": 10**6,
            "CLAIMS_PER_HOUR": 10**6,
            "PAGE_CACHE_SECONDS": 0})
        with db.connection_context():
            self.id = box.identity()["id"]
            box.set_password(PASSWORD, 1000)
        self.phone = self.client()
        self.mediator = self.client()
        self.use()
        page = self.mediator.get("/admin/").get_data(as_text=True)
        self.mediator.post("/admin/login", data={"csrf_token": csrf_from(page),
                                                 "password": PASSWORD})

    def client(self):
        """A phone's browser on this box: each request goes to this box's database (the
        test process holds one handle, pointed at the box last used)."""
        village = self

        class Phone(FlaskClient):
            def open(self, *args, **kwargs):
                village.use()
                return super().open(*args, **kwargs)

        return Phone(self.app, self.app.response_class, use_cookies=True)

    @classmethod
    def existing(cls, folder, name):
        """A box that `piratebox init` made."""
        return cls(None, name, data=folder)

    def use(self):
        """The test process holds one database handle: point it at this box."""
        open_existing(self.data)
        return self

    def sync(self, stick):
        return ok(self.data, "sync", str(stick))

    def command(self, *args):
        return ok(self.data, *args)

    def run(self, *args):
        """The command, whatever its exit status."""
        return run(self.data, *args)

    def orphan_photos(self):
        """Blob files here that no live record needs (what deleting should have freed)."""
        self.use()
        with db.connection_context():
            needed = {use.hash for use in BlobUse.select(BlobUse.hash)}
        return [path for path in self.data.blobs.glob("*/*") if path.name not in needed]

    def submit(self, client, page, action, fields, photo=None):
        """Post a form as the browser would, with the token of the page that shows it."""
        self.use()
        data = {"csrf_token": csrf_from(client.get(page).get_data(as_text=True)), **fields}
        if photo is not None:
            data["photos"] = (io.BytesIO(photo), "photo.jpg")
        return client.post(action, data=data, content_type="multipart/form-data")

    def states(self):
        """Every travelling record here: {(table, id): its state as a bundle carries it
        (what stays in a village left out: it must agree everywhere)}."""
        self.use()
        with db.connection_context():
            return {(table, row.id): records.travelling_state(row)["record"]
                    for table, model in records.TABLES.items() for row in model.select()}

    def ever_shown(self):
        """At a hub: the ids of the objects and files it ever showed to the network."""
        self.use()
        with db.connection_context():
            return {row.id for model in (records.TABLES["item"], records.TABLES["shared_file"])
                    for row in model.select(model.id).where(model.shown_seq.is_null(False))}

    def set_aside(self):
        self.use()
        with db.connection_context():
            return Quarantined.select().count()


FORM_ITEM = {"description": "En bon état", "category": "tools", "condition": "good",
             "place_detail": "Place de l'église", "pseudonym": "Jeanne",
             "contact": "06 12 34 56 78"}


def every_object_the_forms_offer(village, seed):
    """Offers in every mode and place, requests in every mode and place a request may be
    (one asked "in the box", which a request is not), a two-tap deposit: each with a real
    photo through the real pipeline. Returns {title: item id}."""
    colours = random.Random(seed)  # noqa: S311 - test data
    posted = {}
    combinations = [("offer", mode, place) for mode in ("give", "lend", "swap")
                    for place in ("box", "home", "elsewhere")]
    combinations += [("request", mode, place) for mode in ("give", "lend", "swap")
                     for place in ("box", "home", "elsewhere")]
    for number, (kind, mode, place) in enumerate(combinations):
        title = f"{village.name} {kind} {mode} {place}"
        response = village.submit(village.phone, "/items/new", "/items/new", {
            **FORM_ITEM, "kind": kind, "mode": mode, "place": place, "title": title,
            **({"network": "on"} if number % 2 else {})},
            photo=jpeg(96, 64, color=tuple(colours.randrange(256) for _ in range(3))))
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        posted[title] = response.headers["Location"].split("/")[-2]
    response = village.submit(village.phone, "/items/deposit", "/items/deposit",
                              {"category": "books"}, photo=jpeg(96, 64, color=(seed, 9, 9)))
    assert response.status_code == 302
    posted[f"{village.name} deposit"] = response.headers["Location"].split("/")[-2]
    return posted
