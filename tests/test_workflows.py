"""Every workflow of the give box as phones live it: for each kind and mode only the actions
that make sense, the person who reserved, the waiting list of a lent object, loans past
their date, what the mediator sees waiting, and limits that count what succeeded. Real
SQLite, the real app, one test client per phone."""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Item, Report, SharedFile, WaitingEntry, db
from piratebox.catalogue import lending, logic
from piratebox.timefmt import local_datetime
from tests.conftest import csrf_from, post_from_page
from tests.test_catalogue import offer, only_item


def post(client, url, page, **data):
    return post_from_page(client, page, url, data)


def lent_item(owner, borrower_name="Marie", until=""):
    offer(owner, mode="lend", title="Perceuse à percussion", category="tools")
    item = only_item()
    post(owner, f"/items/{item.id}/manage/lend", f"/items/{item.id}/manage",
         lent_to=borrower_name, lent_until=until)
    return only_item()


@pytest.mark.parametrize(("kind", "mode", "expected"), [
    ("offer", "give", ["give", "renew", "withdraw"]),
    ("offer", "swap", ["give", "renew", "withdraw"]),
    ("offer", "lend", ["lend", "renew", "withdraw"]),
    ("request", "give", ["fulfil", "renew", "withdraw"]),
])
def test_each_kind_and_mode_offers_only_what_makes_sense(client, kind, mode, expected):
    offer(client, kind=kind, mode=mode)
    item = only_item()
    with db.connection_context():
        assert logic.actions_for(item) == expected
    page = client.get(f"/items/{item.id}/manage").get_data(as_text=True)
    assert ("Il a été donné" in page) == (kind == "offer" and mode == "give")
    assert ("L’échange est fait" in page) == (mode == "swap" and kind == "offer")
    assert ("Il est prêté" in page) == (mode == "lend" and kind == "offer")


def test_a_lent_object_is_never_given_and_an_ended_one_has_no_empty_panel(client):
    item = lent_item(client)
    response = post(client, f"/items/{item.id}/manage/give", f"/items/{item.id}/manage")
    assert response.status_code == 409 and only_item().status == "lent"
    offer(client, title="Manteau", mode="give")
    with db.connection_context():
        coat = Item.get(Item.title == "Manteau")
    post(client, f"/items/{coat.id}/manage/give", f"/items/{coat.id}/manage")
    page = client.get(f"/items/{coat.id}/manage").get_data(as_text=True)
    assert "Donné" in page and "Que s’est-il passé" not in page


def test_an_object_lent_to_who_reserved_it_offers_only_its_return(app, client):
    offer(client, mode="lend", title="Perceuse")
    item = only_item()
    neighbour = app.test_client()
    post(neighbour, f"/items/{item.id}/reserve", f"/items/{item.id}", pseudonym="Paul")
    manage = f"/items/{item.id}/manage"
    post(client, f"{manage}/lend", manage, lent_to="Paul")
    item = only_item()
    with db.connection_context():
        assert item.status == "lent" and logic.actions_for(item) == ["return"]
    page = client.get(manage).get_data(as_text=True)
    assert "Il est revenu" in page
    for offered in ("Il a été donné", "Annuler la réservation", "Il est prêté"):
        assert offered not in page, offered
    seen = neighbour.get(f"/items/{item.id}").get_data(as_text=True)
    assert "/reserve" not in seen and "/take" not in seen  # its page asks the same table


def test_the_person_who_reserved_can_cancel_and_nobody_else(app, client):
    offer(client, title="Étagère en pin")
    item = only_item()
    reserver, stranger = app.test_client(), app.test_client()
    response = post(reserver, f"/items/{item.id}/reserve", f"/items/{item.id}",
                    pseudonym="Paul", reserved_message="Je passe samedi")
    assert response.status_code == 302 and only_item().status == "reserved"
    page = reserver.get(f"/items/{item.id}").get_data(as_text=True)
    assert "Annuler ma réservation" in page
    link = page.split('<code class="link">')[1].split("</code>")[0].replace("&amp;", "&")
    assert "Annuler ma réservation" not in stranger.get(f"/items/{item.id}").get_data(
        as_text=True)
    refused = post(stranger, f"/items/{item.id}/reservation/cancel", f"/items/{item.id}")
    assert refused.status_code == 403 and only_item().status == "reserved"
    # the private link moves the right to another phone
    other_phone = app.test_client()
    path = link.split("localhost", 1)[1]
    assert other_phone.get(path).status_code == 302
    assert other_phone.get(path.split("?")[0] + "?token=wrong").status_code == 403
    done = post(other_phone, f"/items/{item.id}/reservation/cancel", f"/items/{item.id}")
    assert done.status_code == 302
    item = only_item()
    assert (item.status, item.reserved_by) == ("available", "")


def test_a_waiting_list_from_joining_to_the_next_in_line(app, client):
    item = lent_item(client, borrower_name="Marie")
    anne, bruno = app.test_client(), app.test_client()
    page = anne.get(f"/items/{item.id}").get_data(as_text=True)
    assert "M’inscrire sur la liste d’attente" in page
    refused = post(anne, f"/items/{item.id}/waiting", f"/items/{item.id}", pseudonym="")
    assert refused.status_code == 400
    post(anne, f"/items/{item.id}/waiting", f"/items/{item.id}", pseudonym="Anne",
         contact="06 11 22 33 44")
    post(bruno, f"/items/{item.id}/waiting", f"/items/{item.id}", pseudonym="Bruno")
    assert "Quitter la liste d’attente" in anne.get(f"/items/{item.id}").get_data(as_text=True)
    manage = client.get(f"/items/{item.id}/manage").get_data(as_text=True)
    assert manage.index("Anne") < manage.index("Bruno") and "06 11 22 33 44" in manage
    # Bruno leaves and comes back: he is last again
    post(bruno, f"/items/{item.id}/waiting/leave", f"/items/{item.id}")
    post(bruno, f"/items/{item.id}/waiting", f"/items/{item.id}", pseudonym="Bruno")
    with db.connection_context():
        assert [e.pseudonym for e in WaitingEntry.queue(item.id)] == ["Anne", "Bruno"]
    post(client, f"/items/{item.id}/manage/return", f"/items/{item.id}/manage")
    manage = client.get(f"/items/{item.id}/manage").get_data(as_text=True)
    assert "Au tour de : Anne." in manage and 'value="Anne"' in manage  # the lend form too
    post(client, f"/items/{item.id}/manage/lend", f"/items/{item.id}/manage", lent_to="Anne")
    with db.connection_context():
        assert [e.pseudonym for e in WaitingEntry.queue(item.id)] == ["Bruno"]


def test_a_loan_past_its_date_shows_to_the_owner_and_the_mediator(app, client, admin):
    with app.app_context():
        today = local_datetime(app.extensions["box"].clock.now(), "Europe/Paris").date()
    item = lent_item(client, until=(today - timedelta(days=2)).isoformat())
    assert "en retard" in client.get(f"/items/{item.id}/manage").get_data(as_text=True)
    assert "En retard" in client.get(f"/items/{item.id}").get_data(as_text=True)
    dashboard = admin.get("/admin/").get_data(as_text=True)
    assert "Prêts en retard" in dashboard and '<span class="count due">1</span>' in dashboard
    loans = admin.get("/admin/loans").get_data(as_text=True)
    assert "Perceuse à percussion" in loans and "Marie" in loans
    with db.connection_context():
        assert [i.id for i in lending.overdue(app.extensions["box"].clock.now(),
                                              "Europe/Paris")] == [item.id]


def test_a_bad_return_date_is_shown_on_the_form(client):
    offer(client, mode="lend")
    item = only_item()
    response = post(client, f"/items/{item.id}/manage/lend", f"/items/{item.id}/manage",
                    lent_to="Marie", lent_until="bientôt")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Indiquez une date" in html
    assert 'value="Marie"' in html and only_item().status == "available"


def test_the_mediator_reads_the_reasons_and_what_waits(app, client, admin):
    offer(client)
    item = only_item()
    post(app.test_client(), f"/items/{item.id}/report", f"/items/{item.id}",
         reason="Objet cassé, annonce trompeuse")
    page = admin.get("/admin/reports").get_data(as_text=True)
    assert "Objet cassé, annonce trompeuse" in page
    dashboard = admin.get("/admin/").get_data(as_text=True)
    assert "En attente de vous" in dashboard and '<span class="count due">1</span>' in dashboard
    with db.connection_context():
        assert Report.select().count() == 1


def test_the_posting_limit_counts_what_succeeded_and_keeps_what_was_typed(make_app):
    client = make_app(POSTS_PER_HOUR=2).test_client()
    for _ in range(3):
        assert offer(client, title="").status_code == 400  # refused: costs nothing
    assert offer(client).status_code == 302
    assert offer(client).status_code == 302
    response = offer(client, title="Chaise paillée", description="Un peu bancale")
    html = response.get_data(as_text=True)
    assert response.status_code == 429 and "beaucoup publié" in html
    assert 'value="Chaise paillée"' in html and "Un peu bancale" in html


def test_the_mediator_logged_in_is_not_limited(make_app, admin_password):
    app = make_app(POSTS_PER_HOUR=1)
    client = app.test_client()
    post(client, "/admin/login", "/admin/", password=admin_password)
    for _ in range(3):
        assert offer(client).status_code == 302


def test_sharing_with_no_file_says_so_on_the_form_and_keeps_the_folder(client):
    token = csrf_from(client.get("/files/").get_data(as_text=True))
    response = client.post("/files/", data={"csrf_token": token, "folder": "Mairie"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Choisissez au moins un fichier" in html
    assert 'value="Mairie"' in html and 'id="upload-bar"' in html  # the form itself


def test_backing_up_with_no_stick_and_importing_a_non_bundle_say_so_on_the_page(admin):
    response = post(admin, "/admin/backup", "/admin/sync")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Aucune clé n’est branchée" in html
    assert "Importer" in html  # the sync page, not a dead end
    from io import BytesIO

    token = csrf_from(admin.get("/admin/sync").get_data(as_text=True))
    response = admin.post("/admin/sync/upload", data={
        "csrf_token": token, "bundle": (BytesIO(b"not a zip at all"), "photo-vacances.jpg")})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "photo-vacances.jpg n’est pas un paquet" in html
    assert "uploaded-" not in html and "zip" not in html.lower().split("<main")[1]


def test_deleting_an_object_or_a_file_takes_a_ticked_box_then_the_button(app, client,
                                                                        admin_password):
    from tests.test_files import only_file, upload

    offer(client)
    item = only_item()
    manage = f"/items/{item.id}/manage"
    page = client.get(manage).get_data(as_text=True)
    assert 'name="confirm" value="yes" required' in page  # the browser asks for the box
    response = post(client, f"{manage}/delete", manage)  # the button alone: a mis-tap
    assert response.headers["Location"].endswith(manage) and not only_item().deleted
    assert "Rien n’a été supprimé" in client.get(manage).get_data(as_text=True)
    post(client, f"{manage}/delete", manage, confirm="yes")
    assert only_item().deleted

    mediator = app.test_client()
    post(mediator, "/admin/login", "/admin/", password=admin_password)
    for phone, page in ((client, "/files/manage/{id}"), (mediator, "/files/{id}")):
        upload(client, [("compte rendu.pdf", b"%PDF-1.4")])
        record = only_file()
        page = page.format(id=record.id)
        assert 'name="confirm" value="yes" required' in phone.get(page).get_data(as_text=True)
        response = post(phone, f"/files/manage/{record.id}/delete", page)
        assert response.headers["Location"].endswith(page) and not only_file().deleted
        post(phone, f"/files/manage/{record.id}/delete", page, confirm="yes")
        assert only_file().deleted
        with db.connection_context():
            SharedFile.delete().execute()

# --- the waiting list crosses the sync: the form and the bundle reader take the same record

NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                max_size=70)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pseudonym=NAMES, contact=NAMES)
def test_a_waiting_entry_crosses_the_sync_and_who_waits_stays_in_the_village(
        tmp_path_factory, pseudonym, contact):
    import app as application
    from tests.conftest import TEST_CONFIG
    from tests.test_sync import enrolled_pair, ok, opened

    folder = tmp_path_factory.mktemp("pair")
    stick = folder / "stick"
    (stick / "cocote").mkdir(parents=True)
    hub, village = enrolled_pair(folder, stick)
    web = application.create_app({"DATA_DIR": str(village.path), **TEST_CONFIG})
    owner, neighbour = web.test_client(), web.test_client()
    item = lent_item(owner)
    response = post(neighbour, f"/items/{item.id}/waiting", f"/items/{item.id}",
                    pseudonym=pseudonym, contact=contact)
    with opened(village):
        entries = list(WaitingEntry.select())
    values, errors = lending.read_waiting({"pseudonym": pseudonym, "contact": contact})
    if errors:
        assert response.status_code == 400 and entries == []
        return
    assert response.status_code == 302
    [entry] = entries
    assert (entry.pseudonym, entry.contact) == (values["pseudonym"], values["contact"])
    ok(village, "sync", str(stick))
    ok(hub, "sync", str(stick))
    with opened(hub):
        [arrived] = list(WaitingEntry.select())
    assert (arrived.id, arrived.item_id, arrived.pseudonym, arrived.contact) == (
        entry.id, item.id, "", "")  # who waits, and how to reach them, stay in the village
    ok(village, "sync", str(stick))
    with opened(village):
        [kept] = list(WaitingEntry.select())
    assert (kept.pseudonym, kept.contact) == (values["pseudonym"], values["contact"])
