"""The impact figures, computed from the exchange events: counts, never who.

- exchanges: objects that changed hands (taken from the café's box, given, lent);
- purchases avoided: takers and borrowers who answered "yes" to "would you otherwise have
  bought it new?" (when they reserved it, or took it) — the answer, never an assumed
  share, counted once, with the exchange in which the object changed hands;
- services rendered: help and skills (categories marked as services) count one exchange
  each time their owner marks them rendered, with no mass and no CO2e (no published
  factor for a service);
- kilos kept in use: the typical mass of each object taken or given (a loan comes back);
- CO2e avoided: for each purchase avoided, the manufacturing footprint of a new object of
  its category (piratebox/data/impact-factors.csv, each figure with its source). A
  category without a published figure counts zero: the total is a floor, not a guess.
- rides: the rides that left with passengers, the passengers, the passenger-kilometres
  and the CO2e of the car trips they did not make (piratebox/impact/rides.py), on their
  own lines;
- events counted: how many came to the events a mediator counted, and the kilos weighed
  at a free-zone day (piratebox/events/counts.py), on their own lines, never added to
  the estimated kilos.
"""

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from math import fsum
from pathlib import Path

from peewee import SQL, Case, fn

from models import Exchange, Prepared, Tally, slot, this_box
from piratebox import footfall, typography
from piratebox.catalogue.categories import CHANGED_HANDS
from piratebox.events import counts
from piratebox.impact import exchanges, rides
from piratebox.timefmt import display_zone

FACTORS_FILE = Path(__file__).parent.parent / "data" / "impact-factors.csv"
KEPT_IN_USE = ("taken", "given")
WEEKS = 12
# The figures, in the order a spreadsheet and the network's sums list them.
CSV_COLUMNS = ("deposited", "offered", "requested", "exchanges", "taken", "given", "lent",
               "returned", "fulfilled", "rendered", "answered", "purchases_avoided",
               "kg_kept_in_use", "kg_co2e_avoided", "tallied_deposited", "tallied_taken",
               "events_counted", "attendance", "kg_weighed_brought", "kg_weighed_taken",
               "rides", "ride_passengers", "km_shared", "kg_co2e_rides", "rides_km_estimated",
               "rides_km_unknown")


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
    rendered: int = 0  # services rendered (help, repairs, lessons): exchanges without mass
    answered: int = 0  # takers who answered the question
    purchases_avoided: int = 0
    kg_kept_in_use: float = 0.0
    kg_co2e_avoided: float = 0.0
    tallied_deposited: int = 0  # of which counted by the mediator, not recorded online
    tallied_taken: int = 0
    events_counted: int = 0  # events whose attendance or weights the mediator noted
    attendance: int = 0
    kg_weighed_brought: float = 0.0  # weighed at free-zone days: never mixed with estimates
    kg_weighed_taken: float = 0.0
    rides: int = 0  # rides that left with passengers (piratebox/impact/rides.py)
    ride_passengers: int = 0
    km_shared: float = 0.0  # passenger-kilometres
    kg_co2e_rides: float = 0.0  # never added to kg_co2e_avoided: another method
    rides_km_estimated: int = 0  # of the rides, those whose distance comes from the communes
    rides_km_unknown: int = 0  # ... and those with no distance at all
    weeks: list = field(default_factory=list)  # [(monday as date, exchanges that week)]
    by_category: dict = field(default_factory=dict)  # code -> exchanges

    def __add__(self, other):
        """The figures of two boxes together (the same weeks: computed at the same time;
        a box's figures at a hub have no chart, and neither has their sum)."""
        total = Figures(**{name: getattr(self, name) + getattr(other, name)
                           for name in CSV_COLUMNS})
        if self.weeks and other.weeks:
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
                   "fulfilled", "rendered")


def compute(events, now, factors, zone_name="Europe/Paris", tallies=()):
    """Figures from exchange events (objects with action, category, mass_kg,
    avoided_purchase, happened_at) and the mediator's weekly tallies (week_of, deposited,
    taken). A tally has no category and no answer: it adds to the counts only, never to
    kilos, purchases avoided or CO2e."""
    totals = {}
    mondays = chart_weeks(now, zone_name)
    zone = display_zone(zone_name)
    exchanges_per_week = [0] * WEEKS
    for event in events:
        key = (event.action, event.category)
        count, mass, answered, avoided = totals.get(key, (0, 0.0, 0, 0))
        totals[key] = (count + 1, mass + event.mass_kg,
                       answered + (event.avoided_purchase is not None),
                       avoided + bool(event.avoided_purchase))
        monday = week_start(event.happened_at, zone)
        if event.action in CHANGED_HANDS and monday in mondays:
            exchanges_per_week[mondays.index(monday)] += 1
    return from_totals([(*key, *total) for key, total in totals.items()],
                       exchanges_per_week, now, factors, zone_name, tallies)


def from_totals(totals, exchanges_per_week, now, factors, zone_name="Europe/Paris",
                tallies=()):
    """The same figures from the events added up by kind and category (rows of action,
    category, events, total mass, answered, avoided purchases: what ExchangeTotal keeps)
    and the exchanges of each week of the chart, oldest first (None: no chart)."""
    figures = Figures()
    # kilos added up exactly: the same whatever order the database gives the rows in
    kept_in_use, co2e_avoided = [], []
    for action, category, count, mass, answered, avoided in totals:
        if action in COUNTED_ACTIONS:
            setattr(figures, action, getattr(figures, action) + count)
        if action not in CHANGED_HANDS or not count:
            continue
        figures.exchanges += count
        figures.by_category[category] = figures.by_category.get(category, 0) + count
        if action in KEPT_IN_USE:
            kept_in_use.append(mass)
        figures.answered += answered
        figures.purchases_avoided += avoided
        factor = factors.get(category)
        if factor:
            co2e_avoided.append(float(factor["kg_co2e_per_object"]) * avoided)
    figures.kg_kept_in_use, figures.kg_co2e_avoided = fsum(kept_in_use), fsum(co2e_avoided)
    for tally in tallies:
        figures.tallied_deposited += tally.deposited
        figures.tallied_taken += tally.taken
    figures.deposited += figures.tallied_deposited
    figures.taken += figures.tallied_taken
    figures.exchanges += figures.tallied_taken
    if exchanges_per_week is not None:
        figures.weeks = weekly_chart(exchanges_per_week, tallies, now, zone_name)
    return figures


def weekly_chart(exchanges_per_week, tallies, now, zone_name):
    """[(monday, exchanges that week)]: the events' and what the tallies counted as taken."""
    per_week = dict(zip(chart_weeks(now, zone_name), exchanges_per_week, strict=True))
    for tally in tallies:
        monday = date.fromisoformat(tally.week_of)
        if monday in per_week:
            per_week[monday] += tally.taken
    return list(per_week.items())


def chart_weeks(now, zone_name):
    """The Mondays of the weekly chart, oldest first."""
    return _mondays(week_start(now, display_zone(zone_name)))


def week_bounds(now, zone_name):
    """The chart's weeks as times: each Monday's midnight in the village's zone, and the
    end of this week (WEEKS + 1 values)."""
    return _bounds(week_start(now, display_zone(zone_name)), zone_name)


# The same for a whole week: worked out once (a time zone's rules are read for each of
# the thirteen midnights).
@lru_cache(maxsize=4)
def _mondays(this_week):
    return tuple(this_week - timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1))


@lru_cache(maxsize=4)
def _bounds(this_week, zone_name):
    zone = display_zone(zone_name)
    mondays = _mondays(this_week)
    return tuple(datetime.combine(monday, time(), tzinfo=zone).timestamp()
                 for monday in [*mondays, mondays[-1] + timedelta(weeks=1)])


def summed_weeks(weeks_by_origin, origins=None):
    """The exchanges of each week of the chart, oldest first, from weeks_by_origin (see
    exchange_totals): of every box together, or of the boxes whose ids `origins` holds."""
    counts = [0] * WEEKS
    for origin, weeks in weeks_by_origin.items():
        if origins is None or origin in origins:
            counts = [count + more for count, more in zip(counts, weeks, strict=True)]
    return counts


def exchange_totals(now, zone_name, window=None, running=None):
    """(exchanges.totals_by_origin(), exchanges.weeks_by_origin() of the chart's weeks):
    read from the database, or from `running` (an exchanges.RunningTotals) brought up to
    date; the totals of `window` only, when given."""
    bounds = week_bounds(now, zone_name)
    if window:
        return totals_within(window), exchanges.weeks_by_origin(bounds)
    if running is not None:
        return running.read(bounds)
    return exchanges.totals_by_origin(), exchanges.weeks_by_origin(bounds)


def with_event_counts(figures, counted):
    """`figures` with one box's counted events (a row of events.counts.counted())."""
    if counted:
        (figures.events_counted, figures.attendance, figures.kg_weighed_brought,
         figures.kg_weighed_taken) = counted
    return figures


def ride_factor():
    """kg CO2e of one car-kilometre (impact-factors.csv, row "rides")."""
    return float(load_factors()["rides"]["kg_co2e_per_object"])


def with_rides(figures, ride_figures):
    """`figures` with one box's rides (a rides.RideFigures, or None)."""
    if ride_figures:
        figures.rides, figures.ride_passengers = ride_figures.rides, ride_figures.passengers
        figures.km_shared, figures.kg_co2e_rides = ride_figures.km_shared, ride_figures.kg_co2e
        figures.rides_km_estimated = ride_figures.km_estimated
        figures.rides_km_unknown = ride_figures.km_unknown
    return figures


@dataclass(frozen=True)
class Window:
    """A span of time the figures are limited to (a quarter's report): exchanges and
    events from `start` to before `end` (timestamps), tallies of the weeks whose Monday
    falls from `first_day` to before `end_day` (dates)."""

    start: float
    end: float
    first_day: date
    end_day: date

    def exchanges(self):
        return (Exchange.happened_at >= self.start) & (Exchange.happened_at < self.end)


def totals_within(window):
    """totals_by_origin() for the exchanges of `window` only: added up by the database from
    the events themselves (ExchangeTotal has no time), once a quarter's report."""
    found = {}
    for origin, *total in (Exchange.live().select(
            Exchange.origin, Exchange.action, Exchange.category, fn.COUNT(SQL("*")),
            fn.SUM(Exchange.mass_kg),
            fn.SUM(Case(None, [(Exchange.avoided_purchase.is_null(), 0)], 1)),
            fn.SUM(Case(None, [(Exchange.avoided_purchase == True, 1)], 0)))  # noqa: E712
            .where(window.exchanges())
            .group_by(Exchange.origin, Exchange.action, Exchange.category).tuples()):
        found.setdefault(origin, []).append(total)
    return found


def events_counted(now, window, origin=None):
    """counts.counted() for the events begun by `now`, of `window` only when given (of the
    box `origin` only, when given)."""
    return counts.counted(now, (window.start, window.end) if window else None, origin)


def _begun_tallies(windowed):
    query = Tally.live().where(Tally.week_of <= slot("today"))
    if windowed:
        query = query.where((Tally.week_of >= slot("first_day"))
                            & (Tally.week_of < slot("end_day")))
    return query


BEGUN_TALLIES = Prepared(_begun_tallies)
HERE = Prepared(this_box)


def begun_tallies(now, zone_name, window=None):
    """The tallies the figures add up: of the weeks begun by `now` (a week ahead is a slip,
    or another box's clock; it counts once its Monday comes), of `window` only when given."""
    today = datetime.fromtimestamp(now, display_zone(zone_name)).date().isoformat()
    days = {"first_day": window.first_day.isoformat(),
            "end_day": window.end_day.isoformat()} if window else {}
    return BEGUN_TALLIES.rows(window is not None, today=today, **days)


def figures_now(now, zone_name, window=None, running=None):
    """This box's figures from its database: every exchange event, the mediator's tallies
    and the events it counted (those of `window` only, when given). `running`: the
    exchange totals kept between two readings (see exchange_totals)."""
    by_origin, weeks = exchange_totals(now, zone_name, window, running)
    totals = [total for origin_totals in by_origin.values() for total in origin_totals]
    figures = from_totals(totals, summed_weeks(weeks), now, load_factors(),
                          zone_name, tallies=begun_tallies(now, zone_name, window))
    here = HERE.scalar()
    counted = events_counted(now, window, here)
    with_rides(figures, rides.per_origin(now, ride_factor(), window, origin=here).get(here))
    return with_event_counts(figures, counted.get(here))


def footfall_at(now, zone_name, live=None):
    """Phones per day (the last footfall.CHART_DAYS) and per week (the chart's weeks);
    `live`: what the web process counted and has not saved yet (Counter.current)."""
    today = datetime.fromtimestamp(now, display_zone(zone_name)).date()
    return footfall.recent(today, chart_weeks(now, zone_name), live)


@dataclass
class NetworkFigures:
    """At a hub: the figures of each box, of each commune and of the whole network."""

    boxes: list  # [(box name, commune, Figures)]; the chart is drawn for the total only
    communes: list  # [(commune, number of boxes, Figures)]
    total: Figures


def network_figures(now, zone_name, window=None, running=None):
    """From the events the boxes synced, added up by the database per box (those of
    `window` only, when given); `running`: as figures_now's."""
    from models import Peer

    factors = load_factors()
    peers = {peer.box_id: peer for peer in Peer.select().where(
        (Peer.role == "box") & Peer.box_id.is_null(False))}
    all_tallies = list(begun_tallies(now, zone_name, window))
    tallies = {}
    for tally in all_tallies:
        tallies.setdefault(tally.origin, []).append(tally)
    sums, weeks = exchange_totals(now, zone_name, window, running)
    counted = events_counted(now, window)
    shared = rides.per_origin(now, ride_factor(), window)
    by_origin = {
        origin: with_rides(with_event_counts(
            from_totals(sums.get(origin, []), None, now, factors, zone_name,
                        tallies=tallies.get(origin, ())), counted.get(origin)), shared.get(origin))
        for origin in set(sums) | set(tallies) | set(counted) | set(shared)}
    empty = Figures()
    boxes, communes = [], {}
    for box_id, peer in sorted(peers.items(), key=lambda pair: pair[1].name.casefold()):
        figures = by_origin.get(box_id, empty)
        commune = peer.commune or peer.name
        boxes.append((peer.name, commune, figures))
        count, so_far = communes.get(commune, (0, empty))
        communes[commune] = (count + 1, so_far + figures)
    # the total is the sum of the rows: what no enrolled box recorded is no box's figure
    total = sum((figures for _name, _commune, figures in boxes), Figures())
    total.weeks = weekly_chart(summed_weeks(weeks, origins=peers),
                               [tally for tally in all_tallies if tally.origin in peers],
                               now, zone_name)
    return NetworkFigures(
        boxes=boxes,
        communes=[(name, count, figures) for name, (count, figures)
                  in sorted(communes.items(), key=lambda pair: pair[0].casefold())],
        total=total)


# The one rounding rule of the figures, wherever they are shown (the impact page, the
# command line, the CSV): kilos to a tenth, everything else counted whole.
DECIMALS = {"kg_kept_in_use": 1, "kg_co2e_avoided": 1, "kg_weighed_brought": 1,
            "kg_weighed_taken": 1, "km_shared": 1, "kg_co2e_rides": 1}


def figure_text(figures, name, lang, grouping=True):
    """One figure as the language writes it, with its decimals: "2,5" kilos."""
    return typography.number(getattr(figures, name), lang, DECIMALS.get(name, 0), grouping)
