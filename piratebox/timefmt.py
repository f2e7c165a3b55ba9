"""Showing wall-clock times in the village's time zone, even where tzdata is missing.

OpenWrt images often ship without /usr/share/zoneinfo; for Europe/Paris (the default)
the EU summer-time rule is built in, and any other zone falls back to UTC.
"""

from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache


def _last_sunday(year, month):
    day = datetime(year, month + 1, 1) - timedelta(days=1) if month < 12 else datetime(year, 12, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


class CentralEuropean(tzinfo):
    """CET/CEST: summer time from the last Sunday of March to that of October, 01:00 UTC."""

    def _is_summer(self, utc_naive):
        start = _last_sunday(utc_naive.year, 3).replace(hour=1)
        end = _last_sunday(utc_naive.year, 10).replace(hour=1)
        return start <= utc_naive < end

    def utcoffset(self, dt):
        guess = dt.replace(tzinfo=None) - timedelta(hours=1)
        return timedelta(hours=2 if self._is_summer(guess) else 1)

    def dst(self, dt):
        return self.utcoffset(dt) - timedelta(hours=1)

    def tzname(self, dt):
        return "CEST" if self.dst(dt) else "CET"

    def fromutc(self, dt):
        summer = self._is_summer(dt.replace(tzinfo=None))
        return dt + timedelta(hours=2 if summer else 1)


@lru_cache(maxsize=8)
def display_zone(name):
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except (ImportError, KeyError, ValueError, OSError):
        return CentralEuropean() if name == "Europe/Paris" else UTC


def local_datetime(timestamp, zone_name):
    return datetime.fromtimestamp(float(timestamp), tz=display_zone(zone_name))
