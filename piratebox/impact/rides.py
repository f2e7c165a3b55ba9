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

from models import Initiative, Item, WaitingEntry, fold
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


def distance_of(ride, known):
    """(km, how): the driver's distance ("driver"), the communes' ("communes"), or (None,
    None). `known` is communes.known(): {folded name: (name, latitude, longitude)}."""
    if ride.km is not None:
        return ride.km, "driver"
    ends = [known.get(fold(name)) for name in (ride.ride_from, ride.ride_to)]
    if None in ends:
        return None, None
    return great_circle_km(ends[0][1:], ends[1][1:]) * ROAD_FACTOR, "communes"


def per_origin(now, factor, window=None, origin=None):
    """{box id: RideFigures} of the rides that left before `now` (and within `window`, a
    quarter's start and end, when given); of the box `origin` only, when given."""
    query = Item.live().where((Item.category == RIDES) & (Item.kind == "offer")
                              & (Item.status != "withdrawn") & Item.ride_at.is_null(False)
                              & (Item.ride_at < now))
    if window:
        query = query.where((Item.ride_at >= window.start) & (Item.ride_at < window.end))
    if origin is not None:
        query = query.where(Item.origin == origin)
    rides = list(query)
    if not rides:
        return {}
    taken = dict(WaitingEntry.live().select(WaitingEntry.item_id, fn.COUNT(WaitingEntry.id))
                 .where(WaitingEntry.item_id.in_([ride.id for ride in rides]))
                 .group_by(WaitingEntry.item_id).tuples())
    known = communes.known(Initiative.live())
    found = {}
    for ride in rides:
        passengers = ride.riders if ride.riders is not None else taken.get(ride.id, 0)
        if not passengers:
            continue
        figures = found.setdefault(ride.origin, RideFigures())
        km, how = distance_of(ride, known)
        figures.rides += 1
        figures.passengers += passengers
        if km is None:
            figures.km_unknown += 1
            continue
        figures.km_estimated += how == "communes"
        figures.km_shared += passengers * km
    for figures in found.values():
        figures.kg_co2e = figures.km_shared * factor
    return found
