"""What rides add to the figures: rides shared, passengers, kilometres shared, CO2e avoided.

A ride counts once it has left (not withdrawn, not deleted), with its passengers: those
the driver confirmed after it, or, until the driver says, the seats taken on the box. The
kilometres shared are passenger-kilometres: each passenger times the ride's distance,
the one its driver gave or, when both communes are in the table of communes
(piratebox/initiatives/communes.py), the great-circle distance between them times
ROAD_FACTOR. A ride with neither distance counts its passengers but no kilometres. The
CO2e avoided is the kilometres shared times the factor of a car-km
(piratebox/data/impact-factors.csv, row "rides"): each passenger's own car trip that
did not happen. docs/impact.md says what this leaves out.
"""

import math
from dataclasses import dataclass

from peewee import fn

from models import Initiative, Item, Prepared, WaitingEntry, slot
from piratebox.catalogue.categories import RIDES
from piratebox.initiatives import communes

# Roads are longer than the straight line between two communes. No published ratio for
# the Loire was found: this is the project's own stated assumption, shown on the page.
ROAD_FACTOR = 1.3  # "lengthened by a third" in the method's words (impact/report.py)
EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


@dataclass
class RideFigures:
    rides: int = 0  # rides that left with at least one passenger
    passengers: int = 0
    km_shared: float = 0.0  # passenger-kilometres
    kg_co2e: float = 0.0
    km_estimated: int = 0  # rides whose distance comes from their communes
    km_unknown: int = 0  # rides with passengers but no distance: no kilometres counted


def great_circle_km(first, second):
    """The distance between two (latitude, longitude) points on the Earth, in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*first, *second))
    half = (math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(half))


def estimated_km(start, end, known):
    """The road distance between two places when both are communes `known` names
    (communes.known(): {communes.key(name): (name, latitude, longitude)}), else None: "St
    Just en Chevalet" is the table's Saint-Just-en-Chevalet as the map's list takes it."""
    ends = [known.get(communes.key(name)) for name in (start, end)]
    if None in ends:
        return None
    return great_circle_km(ends[0][1:], ends[1][1:]) * ROAD_FACTOR


def _passengers():
    """A ride's passengers, in SQL: as its driver confirmed, else the seats taken."""
    taken = (WaitingEntry.select(fn.COUNT(WaitingEntry.id))
             .where((WaitingEntry.item_id == Item.id) & (WaitingEntry.deleted == False)))  # noqa: E712
    return fn.COALESCE(Item.riders, taken)


def _counted(windowed, one_origin):
    """The rides that count, and their passengers, as SQL with slots: before `now`,
    within `start` and `end` when `windowed`, of the box `origin` only when `one_origin`."""
    passengers = _passengers()
    counted = Item.live().where(
        (Item.category == RIDES) & (Item.kind == "offer") & (Item.status != "withdrawn")
        & Item.ride_at.is_null(False) & (Item.ride_at < slot("now")) & (passengers > 0))
    if windowed:
        counted = counted.where((Item.ride_at >= slot("start")) & (Item.ride_at < slot("end")))
    if one_origin:
        counted = counted.where(Item.origin == slot("origin"))
    return counted, passengers


def _with_their_km(*shape):
    counted, passengers = _counted(*shape)
    return (counted.select(Item.origin, fn.COUNT(Item.id), fn.SUM(passengers),
                           fn.SUM(passengers * Item.km))
            .where(Item.km.is_null(False)).group_by(Item.origin))


def _per_pair_of_places(*shape):
    counted, passengers = _counted(*shape)
    return (counted.select(Item.origin, Item.ride_from, Item.ride_to, fn.COUNT(Item.id),
                           fn.SUM(passengers))
            .where(Item.km.is_null()).group_by(Item.origin, Item.ride_from, Item.ride_to))


# Built once: peewee's SQL of these took 40 % of the figures page's rendering.
WITH_THEIR_KM = Prepared(_with_their_km)
PER_PAIR_OF_PLACES = Prepared(_per_pair_of_places)


def per_origin(now, factor, window=None, origin=None):
    """{box id: RideFigures} of the rides that left before `now` (and within `window`, a
    quarter's start and end, when given); of the box `origin` only, when given.

    Added up by the database: the rides with the driver's distance per box, those
    without per box and pair of places (a village drives the same few roads), whose
    distance is then estimated once per pair. Nothing comes into Python ride by ride."""
    shape = (bool(window), origin is not None)
    values = {"now": now, "origin": origin}
    if window:
        values.update(start=window.start, end=window.end)
    found = {}
    for box_id, rides, riders, km in WITH_THEIR_KM.tuples(*shape, **values):
        found[box_id] = RideFigures(rides=rides, passengers=int(riders), km_shared=float(km))
    known = None
    for box_id, start, end, rides, riders in PER_PAIR_OF_PLACES.tuples(*shape, **values):
        if known is None:
            known = communes.known(Initiative.live())
        figures = found.setdefault(box_id, RideFigures())
        figures.rides += rides
        figures.passengers += int(riders)
        km = estimated_km(start, end, known)
        if km is None:
            figures.km_unknown += rides
        else:
            figures.km_estimated += rides
            figures.km_shared += int(riders) * km
    for figures in found.values():
        figures.kg_co2e = figures.km_shared * factor
    return found
