"""The communes the network knows, as points: a commune is a name and its coordinates.

Two sources, in this order: the shipped table of the Loire's communes (data/
communes-loire.csv, from the GeoNames gazetteer, CC BY 4.0: see its header), then the
initiatives themselves (the mean of the points given for a commune the table lacks, a
hamlet of 300 people say). Names match as a person types them (key): case, accents,
spaces and hyphens aside, "St" for "Saint", a postcode in brackets left out.
"""

import csv
from functools import lru_cache
from pathlib import Path

from models import fold
from piratebox import rules
from piratebox.patterns import deferred

TABLE = Path(__file__).resolve().parent.parent / "data" / "communes-loire.csv"


POSTCODE = deferred(r"\(\s*[0-9]{5}\s*\)|\b[0-9]{5}\b")
SEPARATORS = deferred(r"[\s\-‐‑–'’.]+")
SHORT = {"st": "saint", "ste": "sainte"}


@lru_cache(maxsize=1024)
def key(name):
    """A commune's name as the table and every list compare it: "St-Étienne", "SAINT
    ETIENNE" and "Saint-Étienne (42000)" are one commune."""
    words = SEPARATORS.split(fold(POSTCODE.sub(" ", name or "")))
    return " ".join(SHORT.get(word, word) for word in words if word)


@lru_cache(maxsize=2)
def reference(path=TABLE):
    """{key: (name, latitude, longitude)} of the shipped table."""
    with open(path, encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        return {key(row["commune"]): (row["commune"], float(row["latitude"]),
                                      float(row["longitude"]))
                for row in csv.DictReader(lines)}


def named(commune):
    """The table's name for a commune typed in any of the ways key() allows; one the table
    lacks is kept as typed."""
    found = reference().get(key(commune))
    return commune if found is None else found[0]


def known(initiatives):
    """{key: (name, latitude, longitude)}: the shipped table's communes, and those of
    `initiatives` with a point on the map where the table has none."""
    communes = dict(reference())
    points = {}
    for initiative in initiatives:
        found = key(initiative.commune)
        if found not in communes and on_map(initiative):
            points.setdefault(found, (initiative.commune, []))[1].append(
                (initiative.latitude, initiative.longitude))
    for found, (name, spots) in points.items():
        communes[found] = (name, sum(lat for lat, _lon in spots) / len(spots),
                           sum(lon for _lat, lon in spots) / len(spots))
    return communes


def on_map(initiative):
    """Has the initiative a point of its own that the map draws? One recorded before the
    rule (or by an older box) may have one far away: it is listed, never drawn."""
    return initiative.latitude is not None and initiative.longitude is not None and \
        rules.on_the_map(initiative.latitude, initiative.longitude)


def point_of(initiative, communes):
    """Where an initiative goes on the map: its own point, else its commune's; None when
    neither is known, or its own point is off the map (it is listed, not drawn)."""
    if initiative.latitude is not None:
        return (initiative.latitude, initiative.longitude) if on_map(initiative) else None
    commune = communes.get(key(initiative.commune))
    return None if commune is None else commune[1:]
