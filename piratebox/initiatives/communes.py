"""The communes the network knows, as points: a commune is a name and its coordinates.

Two sources, in this order: the shipped table of the Loire's communes (data/
communes-loire.csv, from the GeoNames gazetteer, CC BY 4.0: see its header), then the
initiatives themselves (the mean of the points given for a commune the table lacks, a
hamlet of 300 people say). Names match as a person types them: case and accents aside.
"""

import csv
from functools import lru_cache
from pathlib import Path

from models import fold

TABLE = Path(__file__).resolve().parent.parent / "data" / "communes-loire.csv"


@lru_cache(maxsize=2)
def reference(path=TABLE):
    """{folded name: (name, latitude, longitude)} of the shipped table."""
    with open(path, encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        return {fold(row["commune"]): (row["commune"], float(row["latitude"]),
                                       float(row["longitude"]))
                for row in csv.DictReader(lines)}


def known(initiatives):
    """{folded name: (name, latitude, longitude)}: the shipped table's communes, and those
    of `initiatives` with a point where the table has none."""
    communes = dict(reference())
    points = {}
    for initiative in initiatives:
        key = fold(initiative.commune)
        if key not in communes and initiative.latitude is not None:
            points.setdefault(key, (initiative.commune, []))[1].append(
                (initiative.latitude, initiative.longitude))
    for key, (name, found) in points.items():
        communes[key] = (name, sum(lat for lat, _lon in found) / len(found),
                         sum(lon for _lat, lon in found) / len(found))
    return communes


def point_of(initiative, communes):
    """Where an initiative goes on the map: its own point, else its commune's; None when
    neither is known (it is listed, not drawn)."""
    if initiative.latitude is not None:
        return initiative.latitude, initiative.longitude
    commune = communes.get(fold(initiative.commune))
    return None if commune is None else commune[1:]
