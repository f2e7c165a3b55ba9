import time

import pytest

from models import Message, db
from tests.conftest import csrf_from, phone_seen_before, plan_of

DAY = 24 * 3600


def write(client, text, pseudonym=""):
    token = csrf_from(client.get("/board/").get_data(as_text=True))
    return client.post("/board/", data={"csrf_token": token, "text": text,
                                        "pseudonym": pseudonym})


def messages():
    with db.connection_context():
        return list(Message.select().order_by(Message.created_at))


def test_a_message_is_posted_and_shown_newest_first(client):
    assert write(client, "Qui a une échelle ?", "Paul").status_code == 302
    write(client, "Merci pour la soupe !")
    html = client.get("/board/").get_data(as_text=True)
    assert html.index("Merci pour la soupe") < html.index("Qui a une échelle")
    assert "Paul" in html and "Anonyme" in html
    [first, _second] = messages()
    assert first.origin and first.version > 0  # a replicated record like the others


@pytest.mark.parametrize(("text", "error"), [
    ("", "Écrivez d’abord un message."),
    ("   \n ", "Écrivez d’abord un message."),
    ("x" * 501, "Trop long : 500 caractères au plus."),
])
def test_an_empty_or_long_message_is_refused_and_the_text_kept(client, text, error):
    response = write(client, text, "Lou")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert error in html and 'value="Lou"' in html
    assert messages() == []


def test_500_characters_are_allowed(client):
    assert write(client, "é" * 500).status_code == 302


def test_html_and_links_are_shown_as_text(client):
    write(client, '<script>alert("x")</script> <a href="http://evil.example">clic</a> '
                  "http://example.org")
    html = client.get("/board/").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'href="http://evil.example"' not in html and 'href="http://example.org"' not in html


def test_posting_is_rate_limited(make_app):
    client = make_app(MESSAGES_PER_HOUR=2).test_client()
    write(client, "un")
    write(client, "deux")
    response = write(client, "trois")
    assert response.status_code == 429
    assert len(messages()) == 2


def test_a_second_tap_on_post_leaves_one_message_and_the_phone_its_success(make_app):
    app = make_app(MESSAGES_PER_HOUR=1)
    client = app.test_client()
    assert write(client, "Qui a une échelle ?", "Paul").status_code == 302
    # the second tap: the same words under the same name, and the hourly limit reached
    again = write(client, "Qui a une échelle ?", "Paul")
    assert again.status_code == 302
    assert "Votre message est sur le babillard." in client.get("/board/").get_data(as_text=True)
    assert [message.text for message in messages()] == ["Qui a une échelle ?"]
    # other words are a new message, and that one counts against the limit
    assert write(client, "Qui a une échelle ? Merci", "Paul").status_code == 429


def test_the_same_words_under_another_name_or_later_are_another_message(app, client):
    from piratebox.board.logic import SAME_MESSAGE_SECONDS

    write(client, "Merci !", "Paul")
    write(client, "Merci !", "Lou")
    clock = app.extensions["box"].clock
    clock.correct(clock.now() + SAME_MESSAGE_SECONDS + 1, "admin")
    write(client, "Merci !", "Paul")
    assert [message.pseudonym for message in messages()] == ["Paul", "Lou", "Paul"]


def test_two_phones_writing_the_same_words_at_once_are_two_messages(app, client):
    """The board keeps no author: two villagers may well thank the café at once."""
    write(client, "Merci !")
    neighbour = phone_seen_before(app, "10.0.0.9")
    assert write(neighbour, "Merci !").status_code == 302
    assert [message.text for message in messages()] == ["Merci !", "Merci !"]


def test_two_taps_at_once_write_one_message(app):
    """The second tap reaches the box while the first is being written: it waits for the
    first's transaction, then finds its message (it would read the board before the
    first's message is there, and write a second one, in a transaction of its own)."""
    from threading import Event, Thread

    from piratebox.board import logic

    first_writing, written = Event(), []

    def first_admitted():
        first_writing.set()
        time.sleep(0.5)  # the second tap's time to come in

    just_posted = logic.JustPosted()

    def tap(admit=lambda: None):
        with app.app_context(), db.connection_context():
            written.append(logic.post({"text": "Deux fois ?", "pseudonym": ""},
                                      app.extensions["box"].actor(), "10.0.0.7", just_posted,
                                      admit))

    first = Thread(target=tap, args=(first_admitted,))
    first.start()
    assert first_writing.wait(timeout=30)
    tap()
    first.join(timeout=30)
    assert len(messages()) == 1 and sorted(map(bool, written)) == [False, True]


def test_messages_expire_after_the_configured_days(make_app):
    app = make_app(BOARD_DAYS=60)
    client = app.test_client()
    write(client, "Vieux message")
    clock = app.extensions["box"].clock
    clock.correct(clock.now() + 61 * DAY, "admin")
    write(client, "Nouveau message")
    html = client.get("/board/").get_data(as_text=True)
    assert "Nouveau message" in html and "Vieux message" not in html


def test_reports_hide_a_message_and_the_mediator_decides(client, admin, app):
    write(client, "Message méchant")
    [message] = messages()
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        visitor = phone_seen_before(app, address)
        token = csrf_from(visitor.get("/board/").get_data(as_text=True))
        visitor.post(f"/board/{message.id}/report", data={"csrf_token": token})
    assert "Message méchant" not in client.get("/board/").get_data(as_text=True)
    review = admin.get("/admin/board").get_data(as_text=True)
    assert "Message méchant" in review and "signalé par 3 téléphones" in review
    token = csrf_from(review)
    admin.post(f"/admin/board/messages/{message.id}", data={"csrf_token": token,
                                                            "decision": "delete"})
    assert messages()[0].deleted


def test_the_mediator_closes_and_reopens_the_board(admin, app):
    villager = app.test_client()
    token = csrf_from(admin.get("/admin/board").get_data(as_text=True))
    admin.post("/admin/board/open", data={"csrf_token": token, "closed": "1"})
    html = villager.get("/board/").get_data(as_text=True)
    assert "a fermé le babillard" in html
    with villager.session_transaction() as session:
        session["csrf_token"] = "t"
    assert villager.post("/board/", data={"csrf_token": "t", "text": "x"}).status_code == 403
    admin.post("/admin/board/open", data={"csrf_token": token, "closed": "0"})
    assert write(villager, "De nouveau ouvert").status_code == 302


def test_the_home_page_shows_the_latest_messages(client):
    write(client, "Bonjour le village")
    assert "Bonjour le village" in client.get("/").get_data(as_text=True)


def test_the_boards_page_is_read_from_its_index_alone(app):
    from piratebox.board import logic

    plan = plan_of(logic.NEWEST, Message.id_and_version(), {"since": 0, "count": 30,
                                                             "offset": 0})
    assert "USING COVERING INDEX message_listing" in plan and "TEMP B-TREE" not in plan
