"""Footfall without tracking: how many distinct phones came to the box, per day and week.

A phone is told apart by its address on the box's wifi, hashed with a random salt that
lives in this process's memory only: the day's salt is drawn anew each day, the week's each
Monday, and neither is ever written anywhere. Only the number of distinct hashes reaches
the database, at most every FLUSH_SECONDS (the flash wears) and when a day ends.

What it costs, said in docs/impact.md: a restart draws new salts, so a phone seen before
and after it on the same day counts twice that day (and that week); a power cut loses the
phones seen since the last save; a phone that gets a new address from the wifi counts again.
"""

import hashlib
import secrets
import threading
from datetime import date, datetime, timedelta

from models import Footfall, Prepared, db, slot
from piratebox.timefmt import display_zone

FLUSH_SECONDS = 300
# A visitor in range could make up addresses (IPv6 has plenty): past this many a day, the
# count stops growing rather than the memory. A village sees a few hundred phones.
MAX_PHONES = 20_000
CHART_DAYS = 14


class Period:
    """The phones of one day or one week: a salt, the hashes seen, the count saved before."""

    def __init__(self, span, starts, saved):
        self.span = span
        self.starts = starts
        self.salt = secrets.token_bytes(16)
        self.seen = set()
        self.saved = saved  # counted by an earlier process for this period (see above)

    def add(self, address):
        """Count the phone at `address`; True when it is new to this period."""
        if len(self.seen) >= MAX_PHONES:
            return False
        hashed = hashlib.blake2b(address.encode(), key=self.salt, digest_size=8).digest()
        new = hashed not in self.seen
        self.seen.add(hashed)
        return new

    @property
    def phones(self):
        return self.saved + len(self.seen)


class Counter:
    """One per process. `saw(address, now)` is on every request's path: a hash, a set and
    a comparison; the database is touched once in FLUSH_SECONDS at most, and when a day
    begins."""

    def __init__(self, zone_name, flush_seconds=FLUSH_SECONDS):
        self.zone = display_zone(zone_name)
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._day = self._week = None
        self._day_ends = float("-inf")
        self._flush_at = float("inf")
        self._dirty = False

    def saw(self, address, now):
        """Count the phone at `address`; True when that changed today's or this week's
        count (a phone new today, or a new day)."""
        due = []
        with self._lock:
            changed = now >= self._day_ends
            if changed:
                self._open_day(now)
            changed |= self._day.add(address) | self._week.add(address)  # both counted
            self._dirty = True
            if now >= self._flush_at:
                due = self._take_counts(now)
        save(due)
        return changed

    def current(self, now):
        """{(span, starts): phones} of today and this week as counted so far, what is not
        saved yet included (the figures page shows it at once)."""
        with self._lock:
            if self._day is None or now >= self._day_ends:
                return {}
            return {(period.span, period.starts): period.phones
                    for period in (self._day, self._week)}

    def flush(self, now):
        """Save what this process counted and has not saved yet (when the server stops)."""
        with self._lock:
            due = self._take_counts(now) if self._day else []
        save(due)

    def _take_counts(self, now):
        self._flush_at = now + self.flush_seconds
        if not self._dirty:
            return []
        self._dirty = False
        return [(period.span, period.starts, period.phones) for period in (self._day, self._week)]

    def _open_day(self, now):
        """Close the day (and the week on a Monday) and open the next with new salts. Once
        a day, so the lock may wait for the database here."""
        if self._day:
            save(self._take_counts(now))
        today = datetime.fromtimestamp(now, self.zone).date()
        monday = today - timedelta(days=today.weekday())
        midnight = datetime(today.year, today.month, today.day, tzinfo=self.zone)
        self._day_ends = (midnight + timedelta(days=1)).timestamp()
        self._day = Period("day", today.isoformat(), saved_phones("day", today))
        if self._week is None or self._week.starts != monday.isoformat():
            self._week = Period("week", monday.isoformat(), saved_phones("week", monday))
        self._flush_at = now + self.flush_seconds


def saved_phones(span, starts):
    row = Footfall.get_or_none((Footfall.span == span) & (Footfall.starts == starts.isoformat()))
    return row.phones if row else 0


def save(counts):
    if not counts:
        return
    with db.atomic():
        for span, starts, phones in counts:
            (Footfall.insert(span=span, starts=starts, phones=phones)
             .on_conflict(conflict_target=[Footfall.span, Footfall.starts],
                          update={Footfall.phones: phones}).execute())


# built once: the figures page reads it at each rendering
RECENT = Prepared(lambda: Footfall.select(Footfall.span, Footfall.starts, Footfall.phones)
                  .where(Footfall.starts >= slot("since")))


def recent(today, weeks, live=None):
    """Phones per day for the last CHART_DAYS days, and per week for the given Mondays:
    ([(day, phones)], [(monday, phones)]), oldest first, a day without count at zero.
    `live`: a Counter's current(), counted since its last save."""
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    wanted = {("day", day.isoformat()) for day in days}
    wanted |= {("week", monday.isoformat()) for monday in weeks}
    found = {(span, starts): phones for span, starts, phones in RECENT.tuples(
        since=min(days[0], weeks[0] if weeks else days[0]).isoformat())
        if (span, starts) in wanted}
    for key, phones in (live or {}).items():
        if key in wanted:
            found[key] = max(found.get(key, 0), phones)
    return ([(day, found.get(("day", day.isoformat()), 0)) for day in days],
            [(monday, found.get(("week", monday.isoformat()), 0)) for monday in weeks])


def between(first, last):
    """Every count saved from day `first` to day `last` (dates), for a report:
    ([(day, phones)], [(monday, phones)])."""
    rows = (Footfall.select().where((Footfall.starts >= first.isoformat())
                                    & (Footfall.starts <= last.isoformat()))
            .order_by(Footfall.starts))
    days, weeks = [], []
    for row in rows:
        (days if row.span == "day" else weeks).append((date.fromisoformat(row.starts),
                                                       row.phones))
    return days, weeks
