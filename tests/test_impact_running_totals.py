"""The exchange totals the figures page keeps between two renderings (impact/exchanges.py)
are exactly what adding every exchange up again gives, however the exchanges came: a
villager's form, a village's bundle, a tombstone from either, a moderator's deletion."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Exchange, Item, db
from piratebox import box
from piratebox.blobs import BlobStore
from piratebox.box import Actor
from piratebox.catalogue import logic as catalogue
from piratebox.database import open_existing
from piratebox.impact import logic as impact
from tests.test_catalogue import post
from tests.test_impact_page_cache import FOR_GOOD
from tests.test_sync import ITEM, enrolled_pair, ok

ZONE = "Europe/Paris"
STEPS = st.lists(st.tuples(
    st.sampled_from(("form", "bundle", "village removes", "hub removes", "hub changes")),
    st.integers(1, 3), st.booleans()), min_size=1, max_size=5)


def offered(data_dir, count):
    """`count` new objects of the box at `data_dir`, as its villagers offer them."""
    open_existing(data_dir)
    with db.connection_context():
        actor = Actor(box.identity()["id"], 1_790_000_000.0, BlobStore(data_dir))
        return [catalogue.create({**ITEM, "category": category, "place": "box"}, [], actor)[0].id
                for category in ("sport", "books", "kitchen")[:count]]


def taken_at(data_dir, item_ids, answer):
    """Each object taken at the box of `data_dir`, its taker answering `answer`."""
    open_existing(data_dir)
    with db.connection_context():
        actor = Actor(box.identity()["id"], 1_790_000_100.0, BlobStore(data_dir))
        for item_id in item_ids:
            catalogue.record(catalogue.find(item_id), "taken", actor, avoided_purchase=answer)


def tombstoned(data_dir, count, moderating=False):
    """The box at `data_dir` deletes its `count` newest exchanges (at a hub, a moderator
    deletes any)."""
    open_existing(data_dir)
    with db.connection_context():
        me = box.identity()
        actor = Actor(me["id"], 1_790_000_200.0, BlobStore(data_dir), role=me["role"])
        for exchange in Exchange.live().order_by(Exchange.seq.desc()).limit(count):
            actor.delete(exchange, moderating=moderating)


def headline(page):
    return dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page))


NO_RATE_LIMITS = {f"{name}_PER_HOUR": 10**6 for name in ("POSTS", "CHANGES", "CLAIMS")}


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """A hub and a village enrolled with it, each with its app (pages kept until a write),
    made once: each example's steps add to what the ones before wrote."""
    import app as application
    from tests.conftest import TEST_CONFIG

    folder = tmp_path_factory.mktemp("network")
    stick = folder / "stick"
    (stick / "cocote").mkdir(parents=True)
    hub, village = enrolled_pair(folder, stick)
    apps = {data_dir: application.create_app({
        "DATA_DIR": str(data_dir.path), **TEST_CONFIG, **NO_RATE_LIMITS,
        "PAGE_CACHE_SECONDS": FOR_GOOD}) for data_dir in (hub, village)}
    return hub, village, stick, apps, offered(village, 3)


def compared(data_dir, app, hub):
    """The figures the box at `data_dir` shows (its API, its page) are those it adds up
    from every exchange again."""
    open_existing(data_dir)
    app.extensions["page_cache"].changed()  # whatever wrote: rendered again
    visitor = app.test_client()
    shown = visitor.get("/api/v1/stats").get_json()
    page = visitor.get("/stats/").get_data(as_text=True)
    with app.app_context(), db.connection_context():
        now = app.extensions["box"].clock.now()
        everything = impact.figures_now(now, ZONE)
        on_page = impact.network_figures(now, ZONE).total if data_dir is hub else everything
        counted_again = impact.compute(list(Exchange.live()), now, impact.load_factors(), ZONE)
    for name in impact.CSV_COLUMNS:
        assert shown[name] == getattr(everything, name), name
    assert [week["exchanges"] for week in shown["weeks"]] == [
        count for _monday, count in everything.weeks]
    assert shown["by_category"] == everything.by_category
    assert shown["exchanges"] == counted_again.exchanges
    assert shown["kg_kept_in_use"] == pytest.approx(counted_again.kg_kept_in_use)
    for label, name in (("Échanges (objets et services)", "exchanges"),
                        ("Achats évités", "purchases_avoided"),
                        ("Kilos gardés en usage", "kg_kept_in_use")):
        assert headline(page)[label] == impact.figure_text(on_page, name, "fr")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_the_kept_totals_are_what_adding_every_exchange_up_again_gives(network, steps):
    hub, village, stick, apps, village_items = network
    taker = apps[village].test_client()
    for data_dir in (village, hub):
        compared(data_dir, apps[data_dir], hub)
    for action, count, answer in steps:
        if action == "form":  # the village's villagers take its objects
            open_existing(village)
            with db.connection_context():
                available = [item_id for item_id in village_items
                             if Item.get_by_id(item_id).status == "available"][:count]
            for item_id in available:
                assert post(taker, f"/items/{item_id}/take", f"/items/{item_id}",
                            avoided_purchase="yes" if answer else "no").status_code == 302
            village_items.extend(offered(village, count))
        elif action == "bundle":  # the village's exchanges come in its bundle
            open_existing(village)
            with db.connection_context():
                available = [item_id for item_id in village_items
                             if Item.get_by_id(item_id).status == "available"][:count]
            taken_at(village, available, answer)
            village_items.extend(offered(village, count))
            ok(village, "sync", str(stick))
            ok(hub, "sync", str(stick))
        elif action == "village removes":  # its tombstones travel too
            tombstoned(village, count)
            ok(village, "sync", str(stick))
            ok(hub, "sync", str(stick))
        elif action == "hub removes":
            tombstoned(hub, count, moderating=True)
        else:  # an exchange's row changed by hand: the kept totals must not be trusted
            open_existing(hub)
            with db.connection_context():
                newest = Exchange.select().order_by(Exchange.seq.desc()).first()
                if newest:
                    Exchange.update(category="books", mass_kg=newest.mass_kg + count).where(
                        Exchange.id == newest.id).execute()
        for data_dir in (village, hub):
            compared(data_dir, apps[data_dir], hub)


def test_an_exchange_is_added_to_the_kept_totals_rather_than_every_total_read_again(
        make_app, data_dir, monkeypatch):
    from piratebox.impact import exchanges
    from tests.test_catalogue import offer, only_item

    kept = make_app(PAGE_CACHE_SECONDS=FOR_GOOD)
    visitor = kept.test_client()
    offer(kept.test_client(), place="box", category="books")
    item = only_item()
    assert visitor.get("/api/v1/stats").get_json()["deposited"] == 1
    read_in_full = []
    monkeypatch.setattr(exchanges.TOTALS, "tuples", lambda: read_in_full.append(1) or [])
    assert post(kept.test_client(), f"/items/{item.id}/take", f"/items/{item.id}",
                avoided_purchase="yes").status_code == 302
    shown = visitor.get("/api/v1/stats").get_json()
    assert (shown["taken"], shown["purchases_avoided"], shown["deposited"]) == (1, 1, 1)
    assert "Achats évités</dt><dd>1<" in visitor.get("/stats/").get_data(as_text=True)
    assert read_in_full == [], "the new exchange taken in, the totals not read again"


def test_the_figures_find_the_rides_without_reading_every_object(app):
    from piratebox.impact import rides
    from tests.conftest import plan_of

    with app.app_context():
        plan = plan_of(rides.WITH_THEIR_KM, (False, True), {"now": 1e10, "origin": "o"})
    assert "item_ride_time" in plan, plan
