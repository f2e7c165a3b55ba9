"""One definition of a valid record and one character rule for stored text: what the
forms, the command line and the bundle reader all go through."""

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from models import Event, Initiative, Item, Message, Report, Setting, SharedFile, Tally, db
from piratebox import rules
from piratebox.files import names
from piratebox.text import INVISIBLE, NAME_INVISIBLE, UNSAFE, clean_block, clean_line, clean_name
from tests.conftest import csrf_from
from tests.test_catalogue import offer, only_item, post

# every plane, controls, lone surrogates, separators, direction overrides
anything = st.text(alphabet=st.characters(), max_size=200) | st.sampled_from([
    "a\rb", "a\u2028b\u2029c", "gpj\u202e.exe", "\x0bvt\x0c", "\x85nel", "\t tab \t",
    "\u2066isolate\u2069", "e\u202e\u0301", "\ud800lone", "\x00nul\x7fdel\x9fc1",
])
# what a phone can send in a form: no lone surrogate, no NUL (refused outright)
typed = st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                       blacklist_characters="\x00"), max_size=200) | \
    st.sampled_from(["a\rb", "a\u2028b", "gpj\u202e.exe", "\x0bvt", "\t tab \t", "e\u202e\u0301"])
SETTINGS = settings(max_examples=300, deadline=None)


@SETTINGS
@given(anything)
def test_cleaned_text_holds_no_control_and_cleaning_twice_changes_nothing(text):
    line, block = clean_line(text), clean_block(text)
    assert not UNSAFE.search(line) and not UNSAFE.search(block.replace("\n", ""))
    assert "\n" not in line and "\r" not in block
    assert line == line.strip() and "  " not in line
    assert clean_line(line) == line and clean_block(block) == block
    name = clean_name(text)
    assert clean_name(name) == name and not INVISIBLE.search(name + line + block)
    assert not NAME_INVISIBLE.search(name) and not any(
        unicodedata.category(character) == "Cf" for character in name)
    assert names.clean_name(names.clean_name(text)) == names.clean_name(text)
    assert names.clean_folder(names.clean_folder(text)) == names.clean_folder(text)


@SETTINGS
@given(anything)
def test_text_with_nothing_to_remove_is_left_as_it_is(text):
    """The search that lets most texts through untouched finds every character one of the
    three substitutions would change."""
    from piratebox.text import SPACES, _remove_unsafe

    assert _remove_unsafe(text) == INVISIBLE.sub("", UNSAFE.sub("", SPACES.sub(" ", text)))


@SETTINGS
@given(anything)
def test_a_block_is_cleaned_line_by_line_whatever_its_shortcuts(text):
    """A text of one line with nothing to remove skips the line-by-line work: the same
    text comes out."""
    from piratebox.text import _nfc, _remove_unsafe

    expected = "\n".join(_nfc(_remove_unsafe(line)).rstrip() for line in text.splitlines())
    assert clean_block(text) == expected.strip()


# what makes a name look like another: format characters, fillers, tags, selectors
invisible = st.sampled_from(["\u200b", "\u2060", "\ufeff", "\u00ad", "\u3164", "\u200d",
                             "\U000e0041", "\ufe0f", "\u034f", "\u2800", "\u180e", "\u115f"])
person_names = st.lists(st.sampled_from(["Médiateur", "Marie", " ", "é", "❤"]) | invisible,
                        max_size=8).map("".join)


@SETTINGS
@given(person_names)
@example("Médiateur" * 7)  # too long: both ways refuse it
@example("Médiateur\u200b")
def test_a_name_is_cleaned_alike_by_a_form_and_by_the_bundle_reader(name):
    """A pseudonym holds nothing shown as nothing, whichever way it comes: "Médiateur\u200b"
    is "Médiateur", not a second mediator."""
    from piratebox.sync.records import LOCAL_FIELDS

    from_a_form, errors = rules.read(Item, {"pseudonym": name, "reserved_by": name})
    record = {"id": "a" * 26, "origin": "b" * 26, "version": 3, "deleted": False,
              "created_at": 1.0, "updated_at": 2.0, "kind": "offer", "mode": "give",
              "title": "Vélo", "category": "bikes", "place": "elsewhere",
              "status": "available", "answers": None, "pseudonym": name, "reserved_by": name}
    if errors:  # too long once cleaned: refused alike
        assert set(errors) == {"pseudonym", "reserved_by"} and len(clean_name(name)) > 60
        with pytest.raises(rules.Unusable):
            rules.read_record(Item, record, LOCAL_FIELDS)
        return
    from_a_bundle = rules.read_record(Item, record, LOCAL_FIELDS)
    assert from_a_form["pseudonym"] == from_a_bundle["pseudonym"] == clean_name(name)
    assert from_a_bundle["reserved_by"] == clean_name(name)
    assert clean_name(name).replace("Médiateur", "").replace("Marie", "").strip(" é❤") == ""


def test_line_breaks_of_every_kind_become_one_newline_in_a_block():
    assert clean_block("un\r\ndeux\rtrois\u2028quatre\u2029cinq\x0bsix\x85sept") == \
        "un\ndeux\ntrois\nquatre\ncinq\nsix\nsept"
    assert clean_line("un\r\ndeux\rtrois") == "un deux trois"
    assert clean_line("vélo\u202e gpj.exe") == "vélo gpj.exe"


@pytest.mark.parametrize("model, values, field", [
    (Item, {"place": "ailleurs"}, "place"),
    (Item, {"answers": "x" * 27}, "answers"),
    (Item, {"title": "é" * 121}, "title"),
    (Item, {"lent_until": "2026-02-30"}, "lent_until"),
    (Item, {"photos": '[{"full": "x"}]'}, "photos"),
    (Tally, {"week_of": "2026-11-24"}, "week_of"),  # a Tuesday
    (Tally, {"taken": 10_001}, "taken"),
    (Tally, {"week_of": "1900-01-01"}, "week_of"),  # a Monday, long before any box
    (Initiative, {"latitude": 0.0, "longitude": 4.0}, "latitude"),
    (Initiative, {"latitude": 45.9, "longitude": 45.9}, "longitude"),
    (Event, {"starts_at": 2.0, "ends_at": 1.0}, "ends_at"),
    (Event, {"starts_at": 1e300}, "starts_at"),
    (SharedFile, {"media_type": "text/html"}, "media_type"),
])
def test_a_value_outside_the_rules_is_an_error_for_its_field(model, values, field):
    _clean, errors = rules.read(model, values)
    assert list(errors) == [field]


def test_every_value_the_forms_offer_fits_the_rules_and_the_column():
    from piratebox.catalogue import categories

    for name, choices in (("kind", categories.KINDS), ("mode", categories.MODES),
                          ("place", categories.PLACES), ("status", categories.STATUSES),
                          ("condition", categories.CONDITIONS), ("category", categories.BY_CODE)):
        for value in choices:
            # a ride is a ride with when, from, to and seats: the rule across its fields
            ride = ({"ride_at": 1.8e9, "ride_from": "Marols", "ride_to": "Montbrison",
                     "seats": 2} if (name, value) == ("category", "rides") else {})
            assert rules.read(Item, {name: value, **ride}) == ({name: value, **ride}, {})
            assert len(value) <= Item._meta.fields[name].max_length, (name, value)
    for model, fields in rules.FIELDS.items():  # a VARCHAR holds what the rules let through
        for name, rule in fields.items():
            column = model._meta.fields[name]
            if isinstance(rule, rules.Line) and hasattr(column, "max_length"):
                assert rule.limit <= column.max_length, (model, name)
            if isinstance(rule, rules.Choice) and hasattr(column, "max_length"):
                assert max(map(len, rule.values)) <= column.max_length, (model, name)


def test_a_record_from_a_bundle_is_read_by_the_same_rules():
    from piratebox.sync.records import LOCAL_FIELDS

    record = {"id": "a" * 26, "origin": "b" * 26, "version": 3, "deleted": False,
              "created_at": 1.0, "updated_at": 2.0, "kind": "offer", "mode": "give",
              "title": "Vélo\u202e\r", "category": "bikes", "place": "elsewhere",
              "status": "available", "answers": None}
    clean = rules.read_record(Item, record, LOCAL_FIELDS)
    assert clean["title"] == "Vélo" and clean["place"] == "elsewhere"
    for field, value in (("version", 2**53 + 1), ("version", True), ("version", 1.0),
                         ("created_at", float("inf")), ("answers", "x" * 27),
                         ("title", 5), ("deleted", 0), ("category", ["bikes"])):
        with pytest.raises(rules.Unusable):
            rules.read_record(Item, {**record, field: value}, LOCAL_FIELDS)
    with pytest.raises(rules.Unusable) as newer:
        rules.read_record(Item, {**record, "category": "seeds"}, LOCAL_FIELDS)
    assert newer.value.newer  # a newer sender's value: kept for later, not refused


@pytest.fixture
def generous(make_app):
    return make_app(POSTS_PER_HOUR=10**6, MESSAGES_PER_HOUR=10**6, PAGE_CACHE_SECONDS=0)


def test_an_object_elsewhere_and_a_forged_answers_field_store_what_the_hub_accepts(generous):
    client = generous.test_client()
    assert offer(client, place="elsewhere", answers="x" * 40).status_code == 302
    item = only_item()
    assert item.place == "elsewhere" and item.answers is None
    assert not rules.read(Item, {name: getattr(item, name) for name in rules.FIELDS[Item]})[1]


CONTROL = "Vél\u202eo\rrouge\x07\u2028 gpj.exe\x1b[31m"  # NUL: refused outright (security.py)


def test_every_form_stores_text_without_control_characters(generous, admin_password):
    client = generous.test_client()
    assert offer(client, title=CONTROL, description=f"ligne 1\r{CONTROL}\u2029ligne 3",
                 pseudonym=CONTROL, contact=CONTROL, place_detail=CONTROL).status_code == 302
    item = only_item()
    post(client, f"/items/{item.id}/report", f"/items/{item.id}", reason=CONTROL)
    post(client, "/board/", "/board/", text=f"{CONTROL}\r\nfin", pseudonym=CONTROL)
    post(client, "/events/new", "/events/new", title=CONTROL, kind="swap", day="2026-12-05",
         start="14:00", place=CONTROL, description=CONTROL, proposed_by=CONTROL)
    page = client.get("/admin/").get_data(as_text=True)
    client.post("/admin/login", data={"csrf_token": csrf_from(page), "password": admin_password})
    post(client, "/admin/tally", "/admin/tally", week_of="2026-11-18", deposited="3",
         taken="1", note=CONTROL)
    post(client, "/admin/settings", "/admin/settings", box_name=CONTROL, wifi_ssid="CoCoTe",
         wifi_password="", site_url="http://boite.lan", welcome_text=CONTROL)
    with db.connection_context():
        texts = [item.title, item.description, item.pseudonym, item.contact,
                 Report.get().reason, Message.get().text, Message.get().pseudonym,
                 *[getattr(Event.get(), name) for name in ("title", "place", "description",
                                                          "proposed_by")],
                 Tally.get().note, Setting.get_value("box_name"),
                 Setting.get_value("welcome_text")]
    assert len(texts) == 14
    for text in texts:
        assert not UNSAFE.search(text.replace("\n", "")) and "\r" not in text, repr(text)
    assert item.title == "Vélo rouge gpj.exe[31m"
    assert item.description == "ligne 1\nVélo\nrouge\n gpj.exe[31m\nligne 3"  # CR, U+2028


def test_a_calendar_file_never_carries_a_raw_control_character(client, data_dir):
    from piratebox.box import Actor

    with db.connection_context():  # as an older version may have stored it
        event = Actor("a" * 26, 1.79e9, role="hub").save(Event(
            title="Repair café", kind="repair_cafe", starts_at=1.8e9, status="published"))
        Event.update(title=CONTROL, place="salle\u2028des fêtes",
                     description="un\rdeux\x0btrois").where(Event.id == event.id).execute()
    body = client.get(f"/events/{event.id}.ics").get_data(as_text=True)
    for line in body.split("\r\n"):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]", line), repr(line)
    import icalendar

    [parsed] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(parsed["DESCRIPTION"]) == "un\ndeux\ntrois"
    assert str(parsed["SUMMARY"]) == "Vélo rouge gpj.exe[31m"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=typed, description=typed)
def test_what_a_form_stores_is_what_the_rules_would_read_back(generous, title, description):
    client = generous.test_client()
    response = offer(client, title=f"Vélo {title}", description=description)
    assert response.status_code in (302, 400)
    if response.status_code == 400:  # too long: the form says so beside the field
        assert len(clean_line(title)) > 114 or len(clean_block(description)) > 2000
        return
    item = Item.get_by_id(response.headers["Location"].split("/")[-2])
    values = {name: getattr(item, name) for name in rules.FIELDS[Item]}
    assert rules.read(Item, values) == (values, {})
