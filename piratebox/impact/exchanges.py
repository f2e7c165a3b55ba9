"""The exchange events added up per box: by kind and category (what ExchangeTotal keeps),
and per week of the chart. Read from the database, or kept between two renderings of
the figures page and brought up to date from the exchanges written since
(RunningTotals): rendered again after an exchange, the page reads that exchange, not
every box's totals and every exchange of the chart's twelve weeks again.

What is kept is exactly what reading gives. The database counts the exchange rows
inserted and those changed or removed (migration 23's triggers: a page, a bundle,
another process, whoever writes). When the only writes since the totals were read are
insertions, each with a change number (`seq`) above every one read then, the rows above
it are those insertions, and they are added up in the order of their numbers: the order
the database's own totals took them in, so the same sums to the last bit. Anything else
(an exchange changed or removed, one a bundle brought with no number of this box, more
than CATCH_UP_AT_MOST new ones, the chart's weeks moved on, or back with the clock) is
read again in full.
"""

from bisect import bisect_right
from collections import namedtuple

from peewee import JOIN, SQL, Case, Select, fn

from models import Counter, Exchange, ExchangeTotal, Prepared, slot
from piratebox.catalogue.categories import CHANGED_HANDS

# Past this many new exchanges since the last reading, reading them all again costs less.
CATCH_UP_AT_MOST = 200
# A box keeps a few dozen rows of totals; a hub a few dozen per village. Past this many,
# about 1 MB, they are read at each rendering rather than kept.
KEEP_AT_MOST = 5_000

TOTALS = Prepared(lambda: ExchangeTotal.select(
    ExchangeTotal.origin, ExchangeTotal.action, ExchangeTotal.category, ExchangeTotal.events,
    ExchangeTotal.mass_kg, ExchangeTotal.answered, ExchangeTotal.avoided))


def _week_of_chart(weeks):
    bound = [slot(f"week{number}") for number in range(weeks + 1)]
    return Case(None, [(Exchange.happened_at < bound[number + 1], number)
                       for number in range(weeks - 1)], weeks - 1)


# the chart's recent exchanges counted from a narrow index (exchange_recent)
PER_WEEK = Prepared(lambda weeks: Exchange.live()
                    .select(Exchange.origin, _week_of_chart(weeks), fn.COUNT(SQL("*")))
                    .where(Exchange.action.in_(CHANGED_HANDS)
                           & (Exchange.happened_at >= slot("week0"))
                           & (Exchange.happened_at < slot(f"week{weeks}")))
                    .group_by(Exchange.origin, _week_of_chart(weeks)))

# Where the exchanges stand (the newest change number among them, and how many rows were
# inserted and changed or removed so far: never back, but by a restored backup) and, in
# the same statement, so of the same moment, the exchanges numbered after `seq`.
Marks = namedtuple("Marks", "seq added changed")


def _since():
    marks = Select(columns=[
        fn.COALESCE(Exchange.select(fn.MAX(Exchange.seq)), -1).alias("newest"),
        *(Counter.select(Counter.value).where(Counter.name == name).alias(name)
          for name in ("exchanges_added", "exchanges_changed"))]).alias("marks")
    since = (Exchange.select(Exchange.seq, Exchange.origin, Exchange.action, Exchange.category,
                             Exchange.mass_kg, Exchange.avoided_purchase,
                             Exchange.happened_at, Exchange.deleted)
             .where(Exchange.seq > slot("seq")).order_by(Exchange.seq).limit(slot("count"))
             .alias("since"))
    return (Select(from_list=[marks], columns=[
        marks.c.newest, marks.c.exchanges_added, marks.c.exchanges_changed,
        *(getattr(since.c, name) for name in ("seq", "origin", "action", "category", "mass_kg",
                                      "avoided_purchase", "happened_at", "deleted"))])
            .join(since, JOIN.LEFT_OUTER, on=SQL("TRUE")).order_by(since.c.seq))


SINCE = Prepared(_since)


def marks_and_since(seq, count):
    """(Marks now, [the first `count` exchanges numbered after `seq`, as SINCE reads them])."""
    rows = SINCE.tuples(seq=seq, count=count)
    return Marks(*rows[0][:3]), [row[3:] for row in rows if row[3] is not None]


def totals_by_origin():
    """{origin: [(action, category, events, mass, answered, avoided)]}"""
    found = {}
    for origin, *total in TOTALS.tuples():
        found.setdefault(origin, []).append(total)
    return found


def weeks_by_origin(bounds):
    """{origin: [the exchanges of each week of the chart, oldest first]}, the weeks being
    from each of `bounds` to the next (timestamps)."""
    weeks = len(bounds) - 1
    found = {}
    for origin, week, count in PER_WEEK.tuples(
            weeks, **{f"week{n}": bound for n, bound in enumerate(bounds)}):
        found.setdefault(origin, [0] * weeks)[week] += count
    return found


class Kept:
    """The totals as read at `marks`: {origin: {(action, category): (events, mass,
    answered, avoided)}} in the database's order, and weeks_by_origin(bounds)."""

    __slots__ = ("bounds", "marks", "totals", "weeks", "read")

    def __init__(self, bounds, marks, totals, weeks):
        self.bounds, self.marks, self.totals, self.weeks = bounds, marks, totals, weeks
        # (totals_by_origin(), weeks_by_origin(bounds)) as they were then
        self.read = ({origin: [(*key, *total) for key, total in rows.items()]
                      for origin, rows in totals.items()}, weeks)

    def with_exchanges(self, rows, marks):
        """These totals with the exchanges `rows` (SINCE's, in their order) added."""
        totals, weeks = dict(self.totals), dict(self.weeks)
        copied = set()
        for _seq, origin, action, category, mass, avoided, happened_at, deleted in rows:
            if deleted:  # a tombstone counts nothing (see models.EXCHANGE_TOTAL_TRIGGERS)
                continue
            if origin not in copied:
                totals[origin] = dict(totals.get(origin, {}))
                weeks[origin] = list(weeks.get(origin, [0] * (len(self.bounds) - 1)))
                copied.add(origin)
            answered, said_yes = avoided is not None, bool(avoided)
            known = totals[origin].get((action, category))
            totals[origin][(action, category)] = (1, mass, int(answered), int(said_yes)) \
                if known is None else (known[0] + 1, known[1] + mass, known[2] + answered,
                                       known[3] + said_yes)
            if action in CHANGED_HANDS and self.bounds[0] <= happened_at < self.bounds[-1]:
                weeks[origin][bisect_right(self.bounds, happened_at) - 1] += 1
        return Kept(self.bounds, marks, totals, {origin: counts for origin, counts
                                                 in weeks.items() if any(counts)})

    def size(self):
        return sum(len(rows) for rows in self.totals.values()) + len(self.weeks)


class RunningTotals:
    """The exchange totals of one database, kept by the process that renders its figures
    (one for its life: app.extensions)."""

    def __init__(self):
        self._kept = None  # a Kept, replaced whole: read by any thread without a lock

    def read(self, bounds):
        """(totals_by_origin(), weeks_by_origin(bounds)) now."""
        kept = self._kept
        if kept is None or kept.bounds != bounds:
            return self._read_all(bounds)
        marks, rows = marks_and_since(kept.marks.seq, CATCH_UP_AT_MOST + 1)
        if marks == kept.marks:
            return kept.read
        if marks.changed == kept.marks.changed and len(rows) == marks.added - kept.marks.added:
            return self._keep(kept.with_exchanges(rows, marks)).read
        # some changed, or came with no newer number, or too many to catch up with
        return self._read_all(bounds)

    def _read_all(self, bounds):
        marks = read_marks()
        totals = {}
        for origin, *total in TOTALS.tuples():
            totals.setdefault(origin, {})[tuple(total[:2])] = tuple(total[2:])
        kept = Kept(bounds, marks, totals, weeks_by_origin(bounds))
        if read_marks() == marks:  # nothing written while they were read: all of a moment
            self._keep(kept)
        return kept.read

    def _keep(self, kept):
        # the last one read is kept: a restored backup's counters may be behind
        self._kept = kept if kept.size() <= KEEP_AT_MOST else None
        return kept


def read_marks():
    return marks_and_since(0, 0)[0]
