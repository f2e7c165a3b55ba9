"""Numbers, units, dates and time ranges as each language writes them: the one place for it.

French: a decimal comma, a narrow no-break space (U+202F) between thousands, a no-break
space between a number and its unit, "samedi 5 décembre, 14 h – 17 h 30". English keeps
its own: "1,234.5", "Saturday 5 December, 14:00 – 17:30". Names of days and months are
written here rather than taken from the system's locales, which a router does not have.
Templates reach these through filters (piratebox/web.py); the CLI and the CSV call them.
"""

from piratebox.timefmt import local_datetime

NARROW_NBSP = "\u202f"  # between groups of thousands, before ; : ! ? in French
NBSP = "\u00a0"  # between a number and its unit
RANGE_DASH = "\u2009\u2013\u2009"  # a thin space each side of an en dash

WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}
SHORT_MONTHS = {
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
           "nov.", "déc."),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
SIZE_UNITS = {"fr": ("o", "Ko", "Mo", "Go", "To"), "en": ("B", "KB", "MB", "GB", "TB")}


def language_of(lang):
    """English writes its own way; French, and any other language the box is given (its
    French fallback), the French way."""
    return "en" if lang == "en" else "fr"


def number(value, lang, decimals=0, grouping=True):
    """A number as the language writes it: number(1234.5, "fr", 1) == "1 234,5"."""
    text = f"{value:,.{decimals}f}" if grouping else f"{value:.{decimals}f}"
    if text in ("-0", "-0." + "0" * decimals):
        text = text[1:]
    if language_of(lang) == "fr":
        return text.replace(",", NARROW_NBSP).replace(".", ",")
    return text


def exact(value, lang):
    """A stored number written back into a form: every decimal it has, none it lacks,
    no grouping ("98,25", "1200", "12")."""
    text = repr(float(value))
    text = text[:-2] if text.endswith(".0") else text
    return text.replace(".", ",") if language_of(lang) == "fr" else text


def quantity(value, unit, lang, decimals=0):
    """A number and its unit that never part at the end of a line: "12 kg"."""
    return f"{number(value, lang, decimals)}{NBSP}{unit}"


def filesize(size, lang):
    """Bytes as a person reads them: "2,7 Ko", "340 Mo"; "2.7 KB" in English."""
    units = SIZE_UNITS[language_of(lang)]
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            break
        value /= 1024
    decimals = 0 if unit == units[0] or value >= 100 else 1
    return quantity(value, unit, lang, decimals)


def clock_time(moment, lang):
    """14 h, 17 h 30 in French; 14:00, 17:30 in English."""
    if language_of(lang) == "fr":
        hours = f"{moment.hour}{NBSP}h"
        return hours if not moment.minute else f"{hours}{NBSP}{moment.minute:02d}"
    return f"{moment.hour:02d}:{moment.minute:02d}"


def day(moment, lang, this_year=None):
    """samedi 5 décembre (the year only when it is not the current one)."""
    lang = language_of(lang)
    weekday, month = WEEKDAYS[lang][moment.weekday()], MONTHS[lang][moment.month - 1]
    number_of_day = "1er" if lang == "fr" and moment.day == 1 else str(moment.day)
    text = f"{weekday} {number_of_day} {month}"
    if this_year is not None and moment.year != this_year:
        text += f" {moment.year}"
    return text


def date(timestamp, zone_name, lang, now=None):
    """A day on its own: "samedi 5 décembre"."""
    this_year = local_datetime(now, zone_name).year if now is not None else None
    return day(local_datetime(timestamp, zone_name), lang, this_year)


def date_time(timestamp, zone_name, lang, now=None):
    """A moment: "samedi 5 décembre, 14 h"."""
    moment = local_datetime(timestamp, zone_name)
    this_year = local_datetime(now, zone_name).year if now is not None else None
    return f"{day(moment, lang, this_year)}, {clock_time(moment, lang)}"


def time_range(start, end, zone_name, lang, now=None):
    """From start to end, the day written once when it is the same:
    "samedi 5 décembre, 14 h – 17 h 30"; over two days, both in full."""
    if end is None:
        return date_time(start, zone_name, lang, now)
    first, last = local_datetime(start, zone_name), local_datetime(end, zone_name)
    if first.date() == last.date():
        return date_time(start, zone_name, lang, now) + RANGE_DASH + clock_time(last, lang)
    return date_time(start, zone_name, lang, now) + RANGE_DASH + date_time(end, zone_name,
                                                                           lang, now)


def short_day(day_value, lang):
    """A day on a chart's axis: "5 déc." / "5 Dec"."""
    return f"{day_value.day}{NBSP}{SHORT_MONTHS[language_of(lang)][day_value.month - 1]}"
