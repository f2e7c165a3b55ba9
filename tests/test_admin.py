from models import Setting, db
from piratebox import box
from tests.conftest import post_from_page


def test_without_a_password_the_admin_area_says_how_to_set_one(client):
    html = client.get("/admin/").get_data(as_text=True)
    assert "set-password" in html and "pas de mot de passe par défaut" in html


def test_no_password_means_nobody_logs_in(client):
    client.get("/")
    with client.session_transaction() as session:
        session["csrf_token"] = "t"
    response = client.post("/admin/login", data={"csrf_token": "t", "password": ""})
    assert response.status_code == 401


def test_a_wrong_password_is_refused(client, admin_password):
    response = post_from_page(client, "/admin/", "/admin/login", {"password": "nope-nope"})
    assert response.status_code == 401
    assert "Mot de passe incorrect" in response.get_data(as_text=True)


def test_login_is_rate_limited(client, admin_password):
    for _ in range(5):
        post_from_page(client, "/admin/", "/admin/login", {"password": "wrong-one"})
    response = post_from_page(client, "/admin/", "/admin/login", {"password": admin_password})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_the_right_password_opens_a_session_with_safe_cookies(client, admin_password):
    response = post_from_page(client, "/admin/", "/admin/login", {"password": admin_password})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Horloge" in client.get("/admin/").get_data(as_text=True)


def test_a_new_password_closes_open_sessions(admin, app):
    with app.app_context(), db.connection_context():
        box.set_password("another-secret", 1000)
    assert "Mot de passe administrateur" in admin.get("/admin/").get_data(as_text=True)


def test_logout_ends_the_session(admin):
    post_from_page(admin, "/admin/", "/admin/logout", {})
    assert "Mot de passe administrateur" in admin.get("/admin/").get_data(as_text=True)


def test_the_mediator_sets_the_clock_from_the_phone(admin, app):
    response = post_from_page(admin, "/admin/", "/admin/clock",
                              {"epoch_ms": "1893456000000", "typed": ""})
    assert response.status_code == 302
    assert abs(app.extensions["box"].clock.now() - 1_893_456_000) < 5
    with db.connection_context():
        assert Setting.get_value("clock_corrected_by") == "admin"


def test_a_typed_time_is_read_in_the_village_time_zone(admin, app):
    post_from_page(admin, "/admin/", "/admin/clock", {"typed": "2030-07-01T12:00"})
    # 12:00 in Paris in summer is 10:00 UTC
    assert abs(app.extensions["box"].clock.now() - 1_909_130_400) < 5


def test_an_impossible_date_is_refused(admin, app):
    before = app.extensions["box"].clock.anchor
    response = post_from_page(admin, "/admin/", "/admin/clock", {"typed": "1999-01-01T00:00"})
    assert response.status_code == 400
    assert app.extensions["box"].clock.anchor == before


def test_the_clock_form_requires_the_mediator(client, app):
    before = app.extensions["box"].clock.anchor
    with client.session_transaction() as session:
        session["csrf_token"] = "t"
    response = client.post("/admin/clock", data={"csrf_token": "t", "typed": "2030-01-01T00:00"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    assert app.extensions["box"].clock.anchor == before


def test_a_hubs_pages_speak_as_a_hub_and_offer_no_cafe(tmp_path):
    import app as application
    from piratebox.storage import DataDir
    from tests.conftest import TEST_CONFIG

    pages = {}
    for role, name in (("box", "Saint-Bonnet"), ("hub", "Centre de la Loire")):
        folder = DataDir(tmp_path / role)
        box.create(folder, role=role, name=name)
        hub_app = application.create_app({"DATA_DIR": str(folder.path), **TEST_CONFIG})
        with hub_app.app_context(), db.connection_context():
            box.set_password("village-secret", 1000)
        mediator = hub_app.test_client()
        post_from_page(mediator, "/admin/", "/admin/login", {"password": "village-secret"})
        pages[role] = {path: mediator.get(path) for path in (
            "/admin/", "/admin/sync", "/admin/settings", "/admin/labels", "/admin/tally",
            "/print/poster", "/print/poster.pdf")}
    village = {path: r.get_data(as_text=True) for path, r in pages["box"].items()}
    hub = {path: r.get_data(as_text=True) for path, r in pages["hub"].items()}
    for said in ("Le village", "Affiche pour le comptoir", "Synchronisation avec le centre"):
        assert said in village["/admin/"] and said not in hub["/admin/"], said
    assert "Le centre" in hub["/admin/"] and "Synchronisation avec les villages" in hub["/admin/"]
    assert "Les villages qu’il sert" in hub["/admin/sync"]
    assert "Synchronisation avec le centre" not in hub["/admin/sync"]
    assert "Réglages du centre" in hub["/admin/settings"]
    assert 'id="wifi_ssid"' in village["/admin/settings"]
    assert 'id="wifi_ssid"' not in hub["/admin/settings"]  # no hotspot at a hub
    for path in ("/admin/labels", "/admin/tally", "/print/poster", "/print/poster.pdf"):
        assert pages["box"][path].status_code in (200, 202), path
        assert pages["hub"][path].status_code == 404, path
        assert "Un centre n’a ni l’un ni l’autre" in hub[path], path


def test_the_sync_page_shows_no_empty_section_of_records_set_aside(admin):
    """Nothing set aside here, and a hub whose last word is that it set nothing aside of
    this box's records: no heading over nothing."""
    import json

    with db.connection_context():
        Setting.put("hub_set_aside", json.dumps({"at": 1.79e9, "count": 0, "records": []}))
    page = admin.get("/admin/sync").get_data(as_text=True)
    assert "Synchronisation avec le centre" in page
    assert "Fiches mises de côté" not in page and "Mises de côté au centre" not in page
