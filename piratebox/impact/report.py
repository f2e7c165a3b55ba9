"""The impact figures said for people: a spreadsheet's rows (CSV) and the command line's
lines, for a box and, at a hub, for the network."""

from piratebox import typography
from piratebox.i18n import N_, Translator
from piratebox.impact.logic import CSV_COLUMNS, figure_text


def network_csv_rows(network, decimal_comma=False):
    """One row per box, per commune and for the whole network: the report's table."""
    rows = [["level", "name", "commune", "boxes", *CSV_COLUMNS]]
    rows += [["box", name, commune, "1", *_numbers(figures, decimal_comma)]
             for name, commune, figures in network.boxes]
    rows += [["commune", name, name, str(count), *_numbers(figures, decimal_comma)]
             for name, count, figures in network.communes]
    rows.append(["total", "", "", str(len(network.boxes)),
                 *_numbers(network.total, decimal_comma)])
    return rows


def _number(value, decimal_comma):
    """A spreadsheet's cell: no thousands separator, the decimal mark it expects."""
    return typography.number(value, "fr" if decimal_comma else "en", grouping=False)


def _numbers(figures, decimal_comma):
    return [figure_text(figures, name, "fr" if decimal_comma else "en", grouping=False)
            for name in CSV_COLUMNS]


FIGURE_LABELS = {
    "deposited": N_("Deposited in the box"),
    "offered": N_("Offered from home"),
    "requested": N_("Requests"),
    "exchanges": N_("Exchanges (objects and services)"),
    "taken": N_("Taken from the box"),
    "given": N_("Given away"),
    "lent": N_("Lent out"),
    "returned": N_("Returned"),
    "fulfilled": N_("Requests found"),
    "rendered": N_("Services rendered"),
    "answered": N_("Takers who answered the question"),
    "purchases_avoided": N_("Purchases avoided"),
    "kg_kept_in_use": N_("Kilos kept in use"),
    "kg_co2e_avoided": N_("kg CO₂e avoided"),
    "tallied_deposited": N_("Deposited, counted by the mediator"),
    "tallied_taken": N_("Taken, counted by the mediator"),
    "events_counted": N_("Events counted"),
    "attendance": N_("People who came to them"),
    "kg_weighed_brought": N_("Kilos brought to free-zone days (weighed)"),
    "kg_weighed_taken": N_("Kilos taken at free-zone days (weighed)"),
    "rides": N_("Rides shared"),
    "ride_passengers": N_("Passengers of the rides"),
    "km_shared": N_("Kilometres shared (per passenger)"),
    "kg_co2e_rides": N_("kg CO₂e avoided by rides"),
    "rides_km_estimated": N_("Rides whose distance is estimated from the communes"),
    "rides_km_unknown": N_("Rides without a distance"),
}


# The columns of the hub's tables, per box and per commune (page, PDF, command line).
NETWORK_COLUMNS = (
    ("exchanges", N_("Exchanges")),
    ("purchases_avoided", N_("Purchases avoided")),
    ("kg_co2e_avoided", N_("kg CO₂e")),
    ("events_counted", N_("Events")),
    ("attendance", N_("People")),
    ("kg_weighed_brought", N_("kg brought")),
    ("kg_weighed_taken", N_("kg taken")),
)
WEIGHED_NOTE = N_("Events: those counted; people: who came to them; kg brought and taken: "
                  "weighed at free-zone days.")


# How the figures are counted, as the figures page and the quarter's report say it.
METHOD = (
    N_("An object counts once, when someone takes it or receives it: never twice."),
    N_("A purchase is avoided only when the taker answered “yes” to “Would you otherwise "
       "have bought it new?”. No share is assumed."),
    N_("A service (help, a repair, a lesson) counts one exchange each time its owner marks "
       "it rendered, at most once a day: no kilos, and no CO₂e, for want of a published "
       "figure per service."),
    N_("Kilos kept in use: the typical mass of each object taken or given."),
    N_("Rides: a ride counts once it has left, with the passengers its driver confirmed (or, "
       "until then, the seats taken on the box). Kilometres shared: each passenger times the "
       "ride's distance, given by the driver or, between two known communes, the straight "
       "line lengthened by a third for the roads (the project's own assumption). CO₂e "
       "avoided by rides: those kilometres times the footprint of a car-kilometre, as if "
       "each passenger had driven alone; a passenger who would not have travelled at all, or "
       "a detour to fetch one, makes it less. Never added to the CO₂e of objects."),
    N_("Weighed kilos: what the scales showed at the door of a free-zone day, brought and "
       "taken. They are facts, not estimates, so they are shown apart and never added to the "
       "kilos kept in use."),
    N_("CO₂e avoided: for each purchase avoided, the footprint of making and delivering a "
       "new object of that category (table below). Categories without a published figure "
       "count zero, so the total is a floor."),
    N_("Footfall: the distinct phones on the box's wifi. A phone is told apart by its "
       "address mixed with a random key that changes every day (every week for the week's "
       "count); the key stays in memory, is never written, and only the numbers are kept. "
       "A restart of the box draws a new key: a phone seen before and after it counts twice "
       "that day. A phone with its wifi off is not counted."),
    N_("The week's differences: the box compares the mediator's photo of the give box with "
       "the week before's and counts the areas that changed. A photo taken from another "
       "spot counts more than changed."),
    N_("Nobody is tracked: the box counts exchanges, never who made them."),
)


def text_lines(figures, gettext, lang):
    """The figures as a person reads them in a terminal, in their language."""
    width = max(len(gettext(label)) for label in FIGURE_LABELS.values()) + 2
    lines = []
    for name, label in FIGURE_LABELS.items():
        lines.append(f"{gettext(label):<{width}}{figure_text(figures, name, lang)}")
    for monday, count in figures.weeks:
        week = gettext("Week of {day}").format(day=typography.short_day(monday, lang))
        lines.append(f"{week:<{width}}{typography.number(count, lang)}")
    return lines


def network_text_lines(network, gettext, lang):
    """At a hub: one line per box, per commune and in total."""
    widths = [max(len(gettext(label)), 9) + 2 for _name, label in NETWORK_COLUMNS]
    lines = [f"{gettext('Name'):<30}" + "".join(
        f"{gettext(label):>{width}}" for (_name, label), width in zip(NETWORK_COLUMNS, widths,
                                                                       strict=True))]
    rows = [(name, figures) for name, _commune, figures in network.boxes]
    rows += [(f"{name} ({count})", figures) for name, count, figures in network.communes]
    rows.append((gettext("Total"), network.total))
    for name, figures in rows:
        lines.append(f"{name[:29]:<30}" + "".join(
            f"{figure_text(figures, field, lang):>{width}}"
            for (field, _label), width in zip(NETWORK_COLUMNS, widths, strict=True)))
    lines.append(gettext(WEIGHED_NOTE))
    return lines


EXCHANGES_WEEK = N_("exchanges week of {day}")
PHONES_DAY = N_("phones day of {day}")
PHONES_WEEK = N_("phones week of {day}")
DIFFERENCES_WEEK = N_("photo differences week of {day}")


def _dated(decimal_comma):
    """A dated row's label: in French with the day as a French spreadsheet reads it
    (16/11/2026) in the French CSV (decimal comma), else in English with the ISO day."""
    if decimal_comma:
        gettext = Translator("fr").gettext
        return lambda label, day: gettext(label).format(day=day.strftime("%d/%m/%Y"))
    return lambda label, day: label.format(day=day.isoformat())


def csv_rows(figures, decimal_comma=False):
    """Rows for a spreadsheet: the totals, then exchanges per week."""
    dated = _dated(decimal_comma)
    rows = [["figure", "value"]]
    rows += [list(pair) for pair in zip(CSV_COLUMNS, _numbers(figures, decimal_comma),
                                        strict=True)]
    rows += [[dated(EXCHANGES_WEEK, monday), _number(count, decimal_comma)]
             for monday, count in figures.weeks]
    return rows


def weekly_csv_rows(days, weeks, differences, decimal_comma=False):
    """Under the figures: distinct phones per day and per week (piratebox/footfall.py), and
    the differences between a week's photo of the box and the week before's
    (weekly_photo.py)."""
    dated = _dated(decimal_comma)
    rows = [[dated(PHONES_DAY, day), _number(phones, decimal_comma)] for day, phones in days]
    rows += [[dated(PHONES_WEEK, monday), _number(phones, decimal_comma)]
             for monday, phones in weeks]
    rows += [[dated(DIFFERENCES_WEEK, monday), _number(count, decimal_comma)]
             for monday, count in differences]
    return rows
