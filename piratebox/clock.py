"""The box's idea of "now": never backwards across restarts, correctable from a trusted source.

A box has no real-time clock. After a power cut the system may say 1970, or the day the
image was built. The box keeps a floor (the latest time it has known, saved now and then)
and an offset (the last correction from the mediator's browser or the hub); "now" is the
corrected system time, but never earlier than the floor plus the time elapsed since start.
"""

import time

from models import Setting, db

SAVE_EVERY_SECONDS = 60  # flash wears out: the floor is written at most once a minute
# No phone or hub that knows the time says a date outside these (September 2020 - 2100).
PLAUSIBLE = (1_600_000_000, 4_102_444_800)


def plausible(timestamp):
    return PLAUSIBLE[0] <= timestamp < PLAUSIBLE[1]


HUB_CORRECTION_THRESHOLD = 120  # seconds behind the hub before we trust its clock
# How often a running server looks whether another process (`piratebox sync` taking the
# hub's clock) corrected the time: one small query a minute.
FOLLOW_EVERY_SECONDS = 60
KEYS = ("clock_floor", "clock_offset", "clock_corrected_at", "clock_corrected_by",
        "clock_correction")


class Clock:
    def __init__(self, floor=0.0, offset=0.0, last_correction=None, system_time=time.time,
                 monotonic=time.monotonic):
        self.floor = floor
        self.offset = offset
        self.saved_floor = floor
        self.last_correction = last_correction
        self._system_time = system_time
        self._monotonic = monotonic
        self._started = monotonic()
        self.follow_every = FOLLOW_EVERY_SECONDS
        self._followed_at = self._started

    @classmethod
    def load(cls, **kwargs):
        values = Setting.values(*KEYS)
        correction = None
        if "clock_corrected_at" in values:
            correction = {
                "at": float(values["clock_corrected_at"]),
                "by": values.get("clock_corrected_by", ""),
                "delta": float(values.get("clock_correction", 0)),
            }
        return cls(
            floor=float(values.get("clock_floor", 0)),
            offset=float(values.get("clock_offset", 0)),
            last_correction=correction,
            **kwargs,
        )

    def follow(self):
        """Take a correction another process saved (at most once a minute)."""
        if self._monotonic() - self._followed_at < self.follow_every:
            return False
        self._followed_at = self._monotonic()
        saved = Clock.load()
        if saved.last_correction is None or saved.last_correction == self.last_correction:
            return False
        self.offset = saved.offset
        self.last_correction = saved.last_correction
        self._restart_floor(max(saved.floor, self.now()))
        return True

    def now(self):
        corrected = self._system_time() + self.offset
        earliest = self.floor + (self._monotonic() - self._started)
        return max(corrected, earliest)

    def is_doubtful(self):
        """True when the system clock is behind what the box already knew (e.g. after a cut)."""
        return self._system_time() + self.offset < self.floor

    def remember(self, force=False):
        """Save the floor, so the next start never goes back before this moment."""
        now = self.now()
        if force or now - self.saved_floor >= SAVE_EVERY_SECONDS:
            Setting.put("clock_floor", repr(now))
            self.saved_floor = now
        return now

    def correct(self, true_time, source, only_forward=False):
        """Set the box's time from a trusted source; returns the change in seconds (0 if none).

        The mediator's browser may move the clock either way (they can see a wrong date);
        the hub only moves it forward, and only when the box is clearly behind.
        """
        if not plausible(float(true_time)):
            return 0.0  # a damaged or absurd source is never believed
        delta = float(true_time) - self.now()
        if only_forward and delta < HUB_CORRECTION_THRESHOLD:
            return 0.0
        self.offset = float(true_time) - self._system_time()
        self._restart_floor(float(true_time))
        self.last_correction = {"at": float(true_time), "by": source, "delta": delta}
        with db.atomic():
            Setting.put("clock_offset", repr(self.offset))
            Setting.put("clock_floor", repr(self.floor))
            Setting.put("clock_corrected_at", repr(float(true_time)))
            Setting.put("clock_corrected_by", source)
            Setting.put("clock_correction", repr(delta))
        return delta

    def _restart_floor(self, at):
        self.floor = at
        self.saved_floor = at
        self._started = self._monotonic()
