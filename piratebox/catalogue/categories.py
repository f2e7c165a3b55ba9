"""The fixed lists of the catalogue: categories (with a typical mass), modes, places, conditions.

Categories follow CoCoTe's themes (se nourrir, se déplacer, bidouiller, se loger,
travailler, échanger) and the object families reuse centres weigh. The typical mass is
what counts as "kilos kept in use" for an object of that category; see
shared reference figures (Ecobalyse, WRAP, Base Carbone) in docs/impact.md.

Help and skills ("je répare les vélos", "cours de tricot") are categories too, marked as
services: offered and asked for like objects, they weigh nothing, are never lent and are
never in the café's box, and an offer is rendered again and again (piratebox/catalogue/logic.py).
"""

from dataclasses import dataclass

from piratebox.i18n import N_


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    theme: str
    mass_kg: float
    service: bool = False


THEMES = {
    "food": N_("Food"),  # se nourrir
    "move": N_("Getting around"),  # se déplacer
    "tinker": N_("Tinkering"),  # bidouiller
    "home": N_("Housing"),  # se loger
    "work": N_("Working"),  # travailler
    "exchange": N_("Exchanging"),  # échanger
}

CATEGORIES = [
    Category("clothes", N_("Clothes"), "exchange", 0.5),
    Category("shoes", N_("Shoes"), "exchange", 0.8),
    Category("books", N_("Books, music, films"), "exchange", 0.4),
    Category("toys", N_("Toys and games"), "exchange", 0.8),
    Category("childcare", N_("Childcare"), "exchange", 3.0),
    Category("kitchen", N_("Kitchen and tableware"), "food", 1.5),
    Category("food", N_("Food and garden produce"), "food", 1.0),
    Category("furniture_small", N_("Small furniture"), "home", 5.0),
    Category("furniture_large", N_("Large furniture"), "home", 25.0),
    Category("household", N_("Household and decoration"), "home", 1.0),
    Category("appliances", N_("Household appliances"), "home", 5.0),
    Category("garden", N_("Garden"), "home", 3.0),
    Category("tools", N_("Tools and DIY"), "tinker", 2.0),
    Category("electronics", N_("Electronics and computers"), "tinker", 1.5),
    Category("bikes", N_("Bikes and mobility"), "move", 15.0),
    Category("sport", N_("Sport and leisure"), "move", 2.0),
    Category("office", N_("Office and school"), "work", 0.5),
    Category("other", N_("Other"), "exchange", 1.0),
    Category("repairs", N_("Service: repairs"), "tinker", 0.0, service=True),
    Category("help", N_("Service: a helping hand"), "home", 0.0, service=True),
    Category("lessons", N_("Service: lessons and know-how"), "work", 0.0, service=True),
    # a ride is a service too: never lent, never in the box (piratebox/catalogue/rides.py)
    Category("rides", N_("Rides: car-sharing"), "move", 0.0, service=True),
]
RIDES = "rides"
BY_CODE = {category.code: category for category in CATEGORIES}
SERVICES = frozenset(category.code for category in CATEGORIES if category.service)
OBJECT_CATEGORIES = [category for category in CATEGORIES if not category.service]

KINDS = {"offer": N_("Offer"), "request": N_("Request")}
MODES = {"give": N_("To give"), "lend": N_("To lend"), "swap": N_("To swap")}
# A service is given (free) or swapped (for another service), never lent.
SERVICE_MODES = {"give": N_("Free"), "swap": N_("For another service")}
PLACES = {
    "box": N_("In the café's give box"),
    "home": N_("At home"),
    "elsewhere": N_("Elsewhere"),
}
CONDITIONS = {
    "": N_("Not stated"),
    "new": N_("New"),
    "good": N_("Good condition"),
    "fair": N_("Used"),
    "parts": N_("For repair or parts"),
}
STATUSES = {
    "available": N_("Available"),
    "reserved": N_("Reserved"),
    "given": N_("Given"),
    "taken": N_("Taken"),
    "lent": N_("Lent"),
    "withdrawn": N_("Withdrawn"),
    "expired": N_("Expired"),
    "fulfilled": N_("Found"),
    "done": N_("Done"),
}
# A request is not "available": it is still looked for.
REQUEST_STATUSES = {**STATUSES, "available": N_("Still looked for")}


def mass_of(code):
    return BY_CODE.get(code, BY_CODE["other"]).mass_kg


def is_service(code):
    return code in SERVICES


def is_ride(code):
    return code == RIDES


def mode_label(code, mode):
    """How a mode reads for an object, or for a service, of this category."""
    return (SERVICE_MODES if is_service(code) else MODES).get(mode) or MODES.get(mode, "")


# What an object's exchange events record (piratebox/catalogue/logic.py appends them).
ACTIONS = ("deposited", "offered", "requested", "released", "given", "taken", "lent",
           "returned", "withdrawn", "fulfilled", "expired", "rendered")
# Those in which an object changes hands, or a service is rendered: each one exchange
# (piratebox/impact/logic.py), where a purchase may be avoided.
CHANGED_HANDS = ("taken", "given", "lent", "rendered")
