"""The box's idea of "now": never backwards across restarts, correctable from a trusted source.

A box has no real-time clock. After a power cut the system may say 1970, or the day the
image was built. The box keeps a floor (the latest time it has known, saved now and then)
and, once the mediator's browser or the hub has told it the time, that correction.

A correction is tied to the system it was measured on: it is kept as "the true time at
this moment of the monotonic clock, in this boot" (Linux's boot id), so it holds across
restarts of the program and whatever the system clock does meanwhile, and is dropped at
the next boot, where the monotonic clock starts again. Then the box is at least its floor
and at least the system time, never an old correction applied to a system clock that no
longer needs it (fake-hwclock, a new card, a restore).
"""

import time
from pathlib import Path

from models import Setting, db

SAVE_EVERY_SECONDS = 60  # flash wears out: the floor is written at most once a minute
# No phone or hub that knows the time says a date outside these (September 2020 - 2100).
PLAUSIBLE = (1_600_000_000, 4_102_444_800)
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def plausible(timestamp):
    return PLAUSIBLE[0] <= timestamp < PLAUSIBLE[1]


def boot_id():
    """This boot's id (Linux), or None where the system does not say: then a correction
    lasts only as long as the process that made or read it."""
    try:
        return BOOT_ID.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


HUB_CORRECTION_THRESHOLD = 120  # seconds behind the hub before we trust its clock
# A box more than this ahead of a trusted clock is wrong, not early: the mediator's phone
# may set it back, and so may the hub's bundle when it proves the box was ahead (see
# piratebox/sync/engine.py), whatever the floor says.
FAR_AHEAD_SECONDS = 24 * 3600
# How often a running server looks whether another process (`piratebox sync` taking the
# hub's clock) corrected the time: one small query a minute.
FOLLOW_EVERY_SECONDS = 60
KEYS = ("clock_floor", "clock_anchor", "clock_boot", "clock_corrected_at",
        "clock_corrected_by", "clock_correction")


class Clock:
    def __init__(self, floor=0.0, anchor=None, anchor_boot=None, last_correction=None,
                 system_time=time.time, monotonic=time.monotonic, boot=boot_id):
        self.floor = floor
        self.saved_floor = floor
        self.last_correction = last_correction
        self._system_time = system_time
        self._monotonic = monotonic
        self.boot = boot()
        # the true time at monotonic zero of the boot the correction was made in
        self.anchor = anchor if anchor_boot is not None and anchor_boot == self.boot else None
        self._started = monotonic()
        self.follow_every = FOLLOW_EVERY_SECONDS
        self._followed_at = self._started
        self._boot_source = boot

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
        anchor = values.get("clock_anchor")
        return cls(
            floor=float(values.get("clock_floor", 0)),
            anchor=float(anchor) if anchor else None,
            anchor_boot=values.get("clock_boot") or None,
            last_correction=correction,
            **kwargs,
        )

    def follow(self, at_once=False):
        """Take a correction another process saved (at most once a minute, unless
        `at_once`)."""
        if not at_once and self._monotonic() - self._followed_at < self.follow_every:
            return False
        self._followed_at = self._monotonic()
        saved = Clock.load(system_time=self._system_time, monotonic=self._monotonic,
                           boot=lambda: self.boot)
        if saved.last_correction is None or saved.last_correction == self.last_correction:
            return False
        self.anchor = saved.anchor
        self.last_correction = saved.last_correction
        self._restart_floor(saved.floor)
        return True

    def _base(self):
        """The time before the floor is taken into account: this boot's correction, or the
        system's time."""
        if self.anchor is not None:
            return self.anchor + self._monotonic()
        return self._system_time()

    def now(self):
        earliest = self.floor + (self._monotonic() - self._started)
        return max(self._base(), earliest)

    def is_doubtful(self):
        """True when the system clock is behind what the box already knew (e.g. after a cut)."""
        return self._base() < self.floor

    def ahead_of_system(self):
        """Seconds the box is ahead of a system clock that looks right, when it is far
        ahead and no correction was made in this boot (a floor a wrong correction left);
        0 otherwise."""
        system = self._system_time()
        ahead = self.now() - system
        if self.anchor is None and plausible(system) and ahead > FAR_AHEAD_SECONDS:
            return ahead
        return 0.0

    def remember(self, force=False):
        """Save the floor, so the next start never goes back before this moment. A
        correction another process saved since this clock last looked (the sync command
        run by the stick's hotplug, the hub's time) is taken first: its floor, written
        over with this clock's older time, would send the next boot back before it."""
        now = self.now()
        if force or now - self.saved_floor >= SAVE_EVERY_SECONDS:
            if self.follow(at_once=True):
                now = self.now()
            Setting.put("clock_floor", repr(now))
            self.saved_floor = now
        return now

    def correct(self, true_time, source, only_forward=False):
        """Set the box's time from a trusted source; returns the change in seconds (0 if none).

        The mediator's browser may move the clock either way (they can see a wrong date),
        back past the floor too; the hub only forward, and only when the box is clearly
        behind (the engine calls it without `only_forward` when the box was proven ahead).
        """
        if not plausible(float(true_time)):
            return 0.0  # a damaged or absurd source is never believed
        delta = float(true_time) - self.now()
        if only_forward and delta < HUB_CORRECTION_THRESHOLD:
            return 0.0
        self.boot = self._boot_source()
        self.anchor = float(true_time) - self._monotonic()
        self._restart_floor(float(true_time))
        self.last_correction = {"at": float(true_time), "by": source, "delta": delta}
        with db.atomic():
            Setting.put("clock_anchor", repr(self.anchor) if self.boot else "")
            Setting.put("clock_boot", self.boot or "")
            Setting.put("clock_floor", repr(self.floor))
            Setting.put("clock_corrected_at", repr(float(true_time)))
            Setting.put("clock_corrected_by", source)
            Setting.put("clock_correction", repr(delta))
        return delta

    def _restart_floor(self, at):
        self.floor = at
        self.saved_floor = at
        self._started = self._monotonic()
