"""The rules of the map of initiatives: what a mediator records, what every box shows.

An initiative is a replicated record: it travels to the hub, and the hub sends every box
the whole network's (see docs/sync-format.md). Only the box where it was recorded
changes it (Actor.save), as for every record.
"""

from models import Initiative, Peer, fold
from piratebox import rules, villages
from piratebox.initiatives import THEMES, communes, drawing

LIMITS = rules.limits(Initiative)
TEXT_FIELDS = ("name", "commune", "place", "hours", "contact", "description")


def read_initiative(form):
    """Clean values from the mediator's form, or errors by field (what was typed is kept
    to be shown again)."""
    typed = {name: form.get(name, "") for name in ("latitude", "longitude")}
    pasted = rules.typed_point(typed["latitude"])
    if pasted and not typed["longitude"].strip():  # "45,4240, 4,0671" from a map app
        typed = dict(zip(("latitude", "longitude"), pasted, strict=True))
    values, errors = rules.read(Initiative, {
        **{name: form.get(name, "") for name in TEXT_FIELDS},
        "kind": form.get("kind", ""), "theme": form.get("theme", ""),
        **{name: rules.typed_decimal(text) for name, text in typed.items()}})
    for name in typed:
        if name in errors:
            values[name] = typed[name]
    if "commune" not in errors:
        values["commune"] = communes.named(values["commune"])
    return values, errors


def form_values(initiative):
    """An initiative's fields as its form shows them (a point with a decimal comma)."""
    values = dict(initiative.__data__)
    for name in ("latitude", "longitude"):
        if values.get(name) is not None:
            values[name] = f"{values[name]:.5f}".rstrip("0").rstrip(".").replace(".", ",")
    return values


def save(values, actor, initiative=None):
    initiative = initiative or Initiative()
    for name, value in values.items():
        setattr(initiative, name, value)
    return actor.save(initiative)


def shown(theme="", commune=""):
    """The network's initiatives, by commune then name; filtered by theme and commune."""
    query = Initiative.live().where(Initiative.hidden == False)  # noqa: E712
    if theme in THEMES:
        query = query.where(Initiative.theme == theme)
    found = sorted(query, key=lambda i: (communes.key(i.commune), fold(i.name)))
    if commune:
        found = [i for i in found if communes.key(i.commune) == communes.key(commune)]
    return found


def commune_names():
    """The communes that have an initiative, once each (as the table names them, else as
    first typed), in alphabetical order."""
    names = {}
    for (name,) in (Initiative.live().select(Initiative.commune)
                    .where(Initiative.hidden == False).tuples()):  # noqa: E712
        names.setdefault(communes.key(name), communes.named(name))
    return [names[key] for key in sorted(names)]


def hidden_here():
    """The initiatives hidden on this box, for its mediator to show again."""
    return list(Initiative.live().where(Initiative.hidden == True)  # noqa: E712
                .order_by(Initiative.name))


def recorded_by(initiative, actor):
    """Who recorded an initiative, as its page says it: ("here", None), ("hub", None), or
    ("village", its name, None when this box was never told it)."""
    if actor.may_change(initiative):
        return "here", None
    hubs = {peer.id for peer in Peer.select(Peer.id).where(Peer.role == "hub")}
    if initiative.origin in hubs:
        return "hub", None
    return "village", villages.names().get(initiative.origin)


def by_commune(initiatives):
    """[(commune, [(theme, [initiatives])])], in the order `initiatives` come (shown())."""
    grouped = {}
    for initiative in initiatives:
        commune = grouped.setdefault(communes.key(initiative.commune),
                                     (communes.named(initiative.commune), {}))
        commune[1].setdefault(initiative.theme, []).append(initiative)
    return [(name, [(theme, themes[theme]) for theme in THEMES if theme in themes])
            for name, themes in grouped.values()]


def numbered(initiatives):
    """{initiative id: its number on the map and in the list}, 1 and up."""
    return {initiative.id: number for number, initiative in enumerate(initiatives, 1)}


def map_svg(initiatives, numbers, title):
    """The map of `initiatives`, numbered as `numbers` says, over every commune known."""
    everyone = list(Initiative.live().select(Initiative.commune, Initiative.latitude,
                                             Initiative.longitude))
    known = communes.known(everyone)
    markers, named = [], set()
    for initiative in initiatives:
        point = communes.point_of(initiative, known)
        if point is not None:
            markers.append((numbers[initiative.id], *point, initiative.theme,
                            f"{numbers[initiative.id]}. {initiative.name}"))
            named.add(communes.key(initiative.commune))
    dots = [(name, lat, lon, key in named) for key, (name, lat, lon) in known.items()]
    (south, north), (west, east) = rules.MAP_AREA.values()
    return (drawing.draw(markers, dots, title, (south, west, north, east)),
            len(initiatives) - len(markers))
