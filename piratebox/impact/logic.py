"""The impact figures, computed from the exchange events: counts, never who.

- exchanges: objects that changed hands (taken from the café's box, given, lent);
- purchases avoided: takers and borrowers who answered "yes" to "would you otherwise have
  bought it new?" (when they reserved it, or took it) — the answer, never an assumed
  share, counted once, with the exchange in which the object changed hands;
- kilos kept in use: the typical mass of each object taken or given (a loan comes back);
- CO2e avoided: for each purchase avoided, the manufacturing footprint of a new object of
  its category (piratebox/data/impact-factors.csv, each figure with its source). A
  category without a published figure counts zero: the total is a floor, not a guess.
"""

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from peewee import fn

from models import Exchange, Tally
from piratebox.catalogue.categories import CHANGED_HANDS
from piratebox.timefmt import display_zone

FACTORS_FILE = Path(__file__).parent.parent / "data" / "impact-factors.csv"
KEPT_IN_USE = ("taken", "given")
WEEKS = 12
# The figures, in the order a spreadsheet and the network's sums list them.
CSV_COLUMNS = ("deposited", "offered", "requested", "exchanges", "taken", "given", "lent",
               "returned", "fulfilled", "answered", "purchases_avoided", "kg_kept_in_use",
               "kg_co2e_avoided", "tallied_deposited", "tallied_taken")


@lru_cache(maxsize=4)
def load_factors(path=FACTORS_FILE):
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["category"]: row for row in csv.DictReader(handle)}


def factor_rows(lang):
    """The table of factors as the impact page shows it, sources in the page's language:
    [(category code, kg CO2e, decimals as published, source, basis, licence)]."""
    suffix = "fr" if lang == "fr" else "en"
    rows = []
    for code, row in load_factors().items():
        figure = row["kg_co2e_per_object"]
        decimals = len(figure.partition(".")[2])
        rows.append((code, float(figure), decimals, row[f"source_{suffix}"],
                     row[f"basis_{suffix}"], row["licence"]))
    return rows


@dataclass
class Figures:
    deposited: int = 0  # put in the café's box (recorded online, plus the mediator's tally)
    offered: int = 0  # offered from home or elsewhere
    requested: int = 0
    exchanges: int = 0
    taken: int = 0
    given: int = 0
    lent: int = 0
    returned: int = 0
    fulfilled: int = 0
    answered: int = 0  # takers who answered the question
    purchases_avoided: int = 0
    kg_kept_in_use: float = 0.0
    kg_co2e_avoided: float = 0.0
    tallied_deposited: int = 0  # of which counted by the mediator, not recorded online
    tallied_taken: int = 0
    weeks: list = field(default_factory=list)  # [(monday as date, exchanges that week)]
    by_category: dict = field(default_factory=dict)  # code -> exchanges

    def __add__(self, other):
        """The figures of two boxes together (the same weeks: computed at the same time)."""
        total = Figures(**{name: getattr(self, name) + getattr(other, name)
                           for name in CSV_COLUMNS})
        total.weeks = [(monday, count + other_count) for (monday, count), (_same, other_count)
                       in zip(self.weeks, other.weeks, strict=True)]
        total.by_category = dict(self.by_category)
        for code, count in other.by_category.items():
            total.by_category[code] = total.by_category.get(code, 0) + count
        return total


def week_start(timestamp, zone):
    day = datetime.fromtimestamp(timestamp, zone).date()
    return day - timedelta(days=day.weekday())


COUNTED_ACTIONS = ("deposited", "offered", "requested", "taken", "given", "lent", "returned",
                   "fulfilled")


def compute(events, now, factors, zone_name="Europe/Paris", tallies=()):
    """Figures from exchange events (objects with action, category, mass_kg,
    avoided_purchase, happened_at) and the mediator's weekly tallies (week_of, deposited,
    taken). A tally has no category and no answer: it adds to the counts only, never to
    kilos, purchases avoided or CO2e."""
    groups, changed_at = {}, []
    for event in events:
        key = (event.action, event.category, event.avoided_purchase)
        count, mass = groups.get(key, (0, 0.0))
        groups[key] = (count + 1, mass + event.mass_kg)
        if event.action in CHANGED_HANDS:
            changed_at.append(event.happened_at)
    return from_groups([(*key, count, mass) for key, (count, mass) in groups.items()],
                       changed_at, now, factors, zone_name, tallies)


def from_groups(groups, changed_at, now, factors, zone_name="Europe/Paris", tallies=()):
    """The same figures from events counted by (action, category, answer): the database
    adds them up (rows of action, category, avoided_purchase, count, total mass), and only
    the times of recent exchanges are read one by one, for the weekly chart."""
    mondays = chart_weeks(now, zone_name)
    zone = display_zone(zone_name)
    per_week = dict.fromkeys(mondays, 0)
    figures = Figures()
    for action, category, avoided, count, mass in groups:
        if action in COUNTED_ACTIONS:
            setattr(figures, action, getattr(figures, action) + count)
        if action not in CHANGED_HANDS:
            continue
        figures.exchanges += count
        figures.by_category[category] = figures.by_category.get(category, 0) + count
        if action in KEPT_IN_USE:
            figures.kg_kept_in_use += mass or 0.0
        if avoided is not None:
            figures.answered += count
        if avoided:
            figures.purchases_avoided += count
            factor = factors.get(category)
            figures.kg_co2e_avoided += float(factor["kg_co2e_per_object"]) * count \
                if factor else 0
    for stamp in changed_at:
        monday = week_start(stamp, zone)
        if monday in per_week:
            per_week[monday] += 1
    for tally in tallies:
        figures.tallied_deposited += tally.deposited
        figures.tallied_taken += tally.taken
        monday = date.fromisoformat(tally.week_of)
        if monday in per_week:
            per_week[monday] += tally.taken
    figures.deposited += figures.tallied_deposited
    figures.taken += figures.tallied_taken
    figures.exchanges += figures.tallied_taken
    figures.weeks = list(per_week.items())
    return figures


def chart_weeks(now, zone_name):
    """The Mondays of the weekly chart, oldest first."""
    this_week = week_start(now, display_zone(zone_name))
    return [this_week - timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]


def _chart_start(now, zone_name):
    """A time safely before the chart's first Monday (a day early: any time zone)."""
    first = chart_weeks(now, zone_name)[0]
    return datetime(first.year, first.month, first.day).timestamp() - 86400


GROUP_COLUMNS = (Exchange.action, Exchange.category, Exchange.avoided_purchase,
                 fn.COUNT(Exchange.id), fn.SUM(Exchange.mass_kg))


def figures_now(now, zone_name):
    """This box's figures from its database: every exchange event and the mediator's tallies."""
    groups = (Exchange.live().select(*GROUP_COLUMNS)
              .group_by(Exchange.action, Exchange.category, Exchange.avoided_purchase).tuples())
    recent = (Exchange.live().select(Exchange.happened_at)
              .where(Exchange.action.in_(CHANGED_HANDS)
                     & (Exchange.happened_at >= _chart_start(now, zone_name))).tuples())
    return from_groups(list(groups), [stamp for (stamp,) in recent.iterator()], now,
                       load_factors(), zone_name, tallies=Tally.live())


@dataclass
class NetworkFigures:
    """At a hub: the figures of each box, of each commune and of the whole network."""

    boxes: list  # [(box name, commune, Figures)]
    communes: list  # [(commune, number of boxes, Figures)]
    total: Figures


def network_figures(now, zone_name):
    """From the events the boxes synced, added up by the database per box."""
    from models import Peer

    factors = load_factors()
    peers = {peer.box_id: peer for peer in Peer.select().where(
        (Peer.role == "box") & Peer.box_id.is_null(False))}
    tallies = {}
    for tally in Tally.live():
        tallies.setdefault(tally.origin, []).append(tally)
    groups, changed_at = {}, {}
    for origin, *group in (Exchange.live().select(Exchange.origin, *GROUP_COLUMNS)
                           .group_by(Exchange.origin, Exchange.action, Exchange.category,
                                     Exchange.avoided_purchase).tuples().iterator()):
        groups.setdefault(origin, []).append(group)
    for origin, stamp in (Exchange.live().select(Exchange.origin, Exchange.happened_at)
                          .where(Exchange.action.in_(CHANGED_HANDS)
                                 & (Exchange.happened_at >= _chart_start(now, zone_name)))
                          .tuples().iterator()):
        changed_at.setdefault(origin, []).append(stamp)
    by_origin = {
        origin: from_groups(groups.get(origin, []), changed_at.get(origin, []), now, factors,
                            zone_name, tallies=tallies.get(origin, ()))
        for origin in set(groups) | set(tallies)}
    empty = compute((), now, factors, zone_name)
    boxes, communes = [], {}
    for box_id, peer in sorted(peers.items(), key=lambda pair: pair[1].name.casefold()):
        figures = by_origin.get(box_id, empty)
        commune = peer.commune or peer.name
        boxes.append((peer.name, commune, figures))
        count, so_far = communes.get(commune, (0, empty))
        communes[commune] = (count + 1, so_far + figures)
    # the total is the sum of the rows: what no enrolled box recorded is no box's figure
    total = sum((figures for _name, _commune, figures in boxes), empty)
    return NetworkFigures(
        boxes=boxes,
        communes=[(name, count, figures) for name, (count, figures)
                  in sorted(communes.items(), key=lambda pair: pair[0].casefold())],
        total=total)
