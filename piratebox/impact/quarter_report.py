"""The quarter's report for the Conseil Général: a PDF of the figures, their charts, the
method and its limits, and the sources, in French.

A village box reports on itself; a hub reports on the whole département (a line per
commune) or on one commune (a line per box). The figures are those of the figures page
(impact/logic.py), limited to the quarter; the PDF is written by piratebox/pdf.py,
with no other library, so the mediator's button answers in a moment even on a router.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from piratebox import footfall, typography
from piratebox.catalogue.categories import BY_CODE
from piratebox.errors import BadInput
from piratebox.i18n import N_
from piratebox.impact import logic as impact
from piratebox.impact import weekly_photo
from piratebox.impact.report import FIGURE_LABELS, METHOD
from piratebox.pdf import Document, wrap
from piratebox.timefmt import display_zone

QUARTER = re.compile(r"^\s*(\d{4})-[Qq]([1-4])\s*$")
BAD_QUARTER = N_("A quarter is written as a year and its number, like 2026-Q4.")
NO_SUCH_COMMUNE = N_("No box of the hub is in the commune “{commune}”.")
GREEN, GREY, LIGHT = "#1f6f50", "#55605a", "#e4ece7"

SUMMARY = ("exchanges", "purchases_avoided", "kg_kept_in_use", "kg_co2e_avoided", "deposited",
           "offered", "lent", "returned", "fulfilled", "requested", "tallied_deposited",
           "tallied_taken", "events_counted", "attendance", "kg_weighed_brought",
           "kg_weighed_taken")
LIMITS = (
    N_("The figures count what the villagers record on the box and what the mediator counts "
       "in the café's box each week: what changes hands any other way is not counted."),
    N_("Fetching an object by car can cancel the gain; money saved may be spent on "
       "something else (rebound effect)."),
    N_("The kilos kept in use are typical masses per category, not weighings; only the "
       "free-zone days' kilos are weighed."),
    N_("Footfall counts phones, not people: a visitor without a phone, or with its wifi "
       "off, is not counted, and a restart of the box counts a phone seen before it once "
       "more that day."),
)
HUB_LIMIT = N_("Footfall stays on each village box: it does not travel to the hub and is "
               "not in this report.")


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text):
        match = QUARTER.match(text or "")
        if not match or not 2000 <= int(match.group(1)) <= 2999:
            raise BadInput(BAD_QUARTER)
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day):
        return cls(day.year, (day.month - 1) // 3 + 1)

    def previous(self):
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year,
                                                                          self.number - 1)

    def __str__(self):
        return f"{self.year}-Q{self.number}"

    @property
    def months(self):
        """The first day of each of its three months, and of the month after."""
        first = 3 * (self.number - 1) + 1
        return [date(self.year + (first + n - 1) // 12, (first + n - 1) % 12 + 1, 1)
                for n in range(4)]

    def window(self, zone_name, first=0, last=3):
        """Its months `first` to `last` (excluded) as the figures' window."""
        start, end = self.months[first], self.months[last]
        zone = display_zone(zone_name)

        def midnight(day):
            return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()

        return impact.Window(midnight(start), midnight(end), start, end)


@dataclass
class Report:
    """What the PDF says, computed first, then laid out."""

    quarter: Quarter
    title: str  # who it is about: the box, the commune or the département
    figures: impact.Figures
    months: list  # [(first day of the month, Figures)]
    rows: list = field(default_factory=list)  # hub: [(name, boxes, Figures)]
    rows_title: str = ""  # hub: a message id, as row_heading
    row_heading: str = ""
    days: list = field(default_factory=list)  # village box: [(day, phones)]
    weeks: list = field(default_factory=list)  # village box: [(monday, phones)]
    differences: list = field(default_factory=list)  # village box: [(monday, count)]
    hub: bool = False


def for_box(quarter, identity, blobs, now, zone_name):
    months = [(quarter.months[n], impact.figures_now(now, zone_name,
                                                     quarter.window(zone_name, n, n + 1)))
              for n in range(3)]
    first, end = quarter.months[0], quarter.months[3]
    days, weeks = footfall.between(first, end - timedelta(days=1))
    counted = dict(weeks)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    weeks = []
    while monday < end:  # every week the quarter holds, a week without a count at zero
        weeks.append((monday, counted.get(monday, 0)))
        monday += timedelta(weeks=1)
    differences = weekly_photo.counts(identity["id"], blobs, first.isoformat(),
                                      end.isoformat())
    return Report(quarter, identity["name"], impact.figures_now(now, zone_name,
                                                                quarter.window(zone_name)),
                  months, days=days, weeks=weeks, differences=differences)


def for_hub(quarter, now, zone_name, commune=None):
    """The département (every commune), or one commune (every box of it)."""
    network = impact.network_figures(now, zone_name, quarter.window(zone_name))
    if commune is not None:
        names = {name.casefold(): name for name, _count, _figures in network.communes}
        if commune.casefold() not in names:
            raise BadInput(NO_SUCH_COMMUNE, commune=commune)
        commune = names[commune.casefold()]

    def figures_of(network):
        if commune is None:
            return network.total
        return next(figures for name, _count, figures in network.communes if name == commune)

    months = [(quarter.months[n], figures_of(impact.network_figures(
        now, zone_name, quarter.window(zone_name, n, n + 1)))) for n in range(3)]
    if commune is None:
        rows, title, heading = network.communes, N_("Per commune"), N_("Commune")
    else:
        rows = [(name, 1, box_figures) for name, box_commune, box_figures in network.boxes
                if box_commune == commune]
        title, heading = N_("Per village box"), N_("Box")
    return Report(quarter, commune or "", figures_of(network), months, rows=rows,
                  rows_title=title, row_heading=heading, hub=True)


class Flow:
    """Lays blocks down the pages of an A4 document, top to bottom, a new page when full."""

    MARGIN = 56

    def __init__(self, document):
        self.document = document
        self.page = document.new_page()
        self.width = self.page.width - 2 * self.MARGIN
        self.y = self.MARGIN

    def room(self, height):
        if self.y + height > self.page.height - self.MARGIN:
            self.page = self.document.new_page()
            self.y = self.MARGIN

    def heading(self, text, size=14):
        self.room(size * 3)
        self.y += size * 1.2
        self.page.text(self.MARGIN, self.y, text, size, bold=True, colour=GREEN)
        self.y += size * 0.8

    def paragraph(self, text, size=10, indent=0, bullet=False, colour="#000000"):
        lines = wrap(text, size, self.width - indent - (10 if bullet else 0))
        for number, line in enumerate(lines):
            self.room(size * 1.4)
            self.y += size * 1.35
            x = self.MARGIN + indent
            if bullet and number == 0:
                self.page.text(x, self.y, "•", size)
            self.page.text(x + (10 if bullet else 0), self.y, line, size, colour=colour)
        self.y += size * 0.4

    def table(self, headings, rows, widths, size=9):
        """Columns after the first are numbers, aligned right."""
        def row(cells, bold):
            self.room(size * 1.8)
            self.y += size * 1.5
            x = self.MARGIN
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True)):
                if index == 0:
                    self.page.text(x, self.y, wrap(cell, size, width - 6, bold)[0], size, bold)
                else:
                    self.page.text(x + width - 4, self.y, cell, size, bold, align="right")
                x += width
            self.page.line(self.MARGIN, self.y + size * 0.45, self.MARGIN + sum(widths),
                           self.y + size * 0.45, colour=LIGHT)

        row(headings, True)
        for cells in rows:
            row(cells, False)
        self.y += size

    def columns_chart(self, title, bars, lang, height=120):
        """Vertical bars with their values: [(label, value)]."""
        self.room(height + 50)
        self.paragraph(title, 10, colour=GREY)
        top, base = self.y + 14, self.y + height
        highest = max([value for _label, value in bars] + [1])
        slot = self.width / max(len(bars), 1)
        every = max(1, len(bars) // 7)  # labels that would run into each other are skipped
        for index, (label, value) in enumerate(bars):
            bar = (base - top) * value / highest
            x = self.MARGIN + index * slot
            self.page.rect(x + slot * 0.15, base - bar, slot * 0.7, bar, fill=GREEN)
            if value:
                self.page.text(x + slot / 2, base - bar - 3, typography.number(value, lang), 8,
                               align="center")
            if index % every == 0:
                self.page.text(x + slot / 2, base + 11, label, 8, colour=GREY, align="center")
        self.page.line(self.MARGIN, base, self.MARGIN + self.width, base, colour=GREY)
        self.y = base + 24

    def bars_chart(self, title, bars, lang):
        """Horizontal bars, one line each: [(label, value)]."""
        self.room(30 + 16 * min(len(bars), 5))
        self.paragraph(title, 10, colour=GREY)
        label_width = 170
        highest = max([value for _label, value in bars] + [1])
        for label, value in bars:
            self.room(16)
            self.y += 16
            length = (self.width - label_width - 40) * value / highest
            self.page.text(self.MARGIN, self.y, wrap(label, 9, label_width - 6)[0], 9)
            self.page.rect(self.MARGIN + label_width, self.y - 9, length, 11, fill=GREEN)
            self.page.text(self.MARGIN + label_width + length + 4, self.y,
                           typography.number(value, lang), 9)
        self.y += 12


def render(report, gettext, lang, box_name, made_at, zone_name):
    """The PDF (a pdf.Document) of a report, its words through `gettext`."""
    quarter = report.quarter
    period = gettext("Quarter {number} of {year}").format(number=quarter.number,
                                                        year=quarter.year)
    who = report.title or gettext("The département")
    title = gettext("Impact report") + f" · {who} · {period}"
    document = Document(title, author=box_name, lang="fr-FR" if lang == "fr" else "en")
    flow = Flow(document)
    flow.page.text(flow.MARGIN, flow.y + 22, gettext("Impact report"), 22, bold=True,
                   colour=GREEN)
    flow.y += 34
    flow.paragraph(f"{who} · {period}", 14)
    last_day = quarter.months[3].toordinal() - 1
    flow.paragraph(gettext("From {first} to {last}, figures of the CoCoTe box “{box}”, "
                           "made on {made}.").format(
        first=typography.day(quarter.months[0], lang, None) + f" {quarter.year}",
        last=typography.day(date.fromordinal(last_day), lang, None) + f" {quarter.year}",
        box=box_name, made=typography.date(made_at, zone_name, lang)), 10, colour=GREY)

    figures = report.figures
    flow.heading(gettext("The quarter's figures"))
    flow.table([gettext("Figure"), gettext("Quarter")],
               [[gettext(FIGURE_LABELS[name]), impact.figure_text(figures, name, lang)]
                for name in SUMMARY], [flow.width - 120, 120])
    flow.columns_chart(gettext("Objects that changed hands, per month"),
                       [(typography.MONTHS[typography.language_of(lang)][day.month - 1],
                         month.exchanges) for day, month in report.months], lang)
    categories = sorted(((gettext(BY_CODE[code].label) if code in BY_CODE else code, count)
                         for code, count in figures.by_category.items()),
                        key=lambda pair: -pair[1])
    if categories:
        flow.bars_chart(gettext("Exchanges by category"), categories, lang)

    if report.hub:
        flow.heading(gettext(report.rows_title))
        flow.table([gettext(report.row_heading), gettext("Boxes"), gettext("Exchanges"),
                    gettext("Purchases avoided"), gettext("kg CO₂e")],
                   [[name, typography.number(count, lang),
                     typography.number(row.exchanges, lang),
                     typography.number(row.purchases_avoided, lang),
                     impact.figure_text(row, "kg_co2e_avoided", lang)]
                    for name, count, row in report.rows],
                   [flow.width - 280, 50, 70, 90, 70])
    else:
        flow.heading(gettext("Footfall"))
        if report.days:
            busiest_day, busiest = max(report.days, key=lambda pair: pair[1])
            flow.paragraph(gettext("Phones counted on {days} days; the busiest, {day}, "
                                   "saw {phones}.").format(
                days=len(report.days), day=typography.day(busiest_day, lang),
                phones=busiest))
            flow.columns_chart(gettext("Phones per week"),
                               [(typography.short_day(monday, lang), phones)
                                for monday, phones in report.weeks], lang)
        else:
            flow.paragraph(gettext("No footfall was counted this quarter."))
        if report.differences:
            flow.heading(gettext("The week's differences"))
            flow.columns_chart(gettext("Differences between the photo of the box and the "
                                       "week before's"),
                               [(typography.short_day(monday, lang), count)
                                for monday, count in report.differences], lang)

    flow.heading(gettext("How it is counted"))
    for note in METHOD:
        flow.paragraph(gettext(note), bullet=True)
    flow.paragraph(gettext("Method: CoCoTe (Zoomacom, Loire), indicators of exchanges, "
                           "purchases avoided, emissions avoided and footfall."), colour=GREY)
    flow.heading(gettext("Limits"))
    for note in (*LIMITS, HUB_LIMIT) if report.hub else LIMITS:
        flow.paragraph(gettext(note), bullet=True)
    flow.heading(gettext("Sources"))
    labels = {code: category.label for code, category in BY_CODE.items()}
    for code, kg, places, source, basis, licence in impact.factor_rows(lang):
        flow.paragraph(gettext("{category}: {kg} kg CO₂e, {source}, {basis} "
                               "({licence})").format(
            category=gettext(labels.get(code, code)), kg=typography.number(kg, lang, places),
            source=source, basis=basis, licence=licence), 9, bullet=True)

    total = len(document.pages)
    for number, page in enumerate(document.pages, start=1):
        footer = f"CoCoTe · {box_name} · {period} · {number}/{total}"
        page.text(page.width / 2, page.height - 28, footer, 8, colour=GREY, align="center")
    return document

def make(quarter, identity, blobs, now, zone_name, gettext, lang, commune=None):
    """The report a box or a hub makes for `quarter` (a Quarter), as a pdf.Document."""
    if identity["role"] == "hub":
        report = for_hub(quarter, now, zone_name, commune or None)
    else:
        report = for_box(quarter, identity, blobs, now, zone_name)
    return render(report, gettext, lang, identity["name"], now, zone_name)


def recent_quarters(now, zone_name, count=5):
    """The quarter under way and those before it, newest first: the mediator's choice."""
    quarter = Quarter.containing(datetime.fromtimestamp(now, display_zone(zone_name)).date())
    quarters = [quarter]
    for _n in range(count - 1):
        quarters.append(quarters[-1].previous())
    return quarters
