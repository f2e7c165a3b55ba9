"""The rate limits' memory: what still counts, in little room (piratebox/ratelimit.py)."""

import tracemalloc

from piratebox.ratelimit import MAX_TRACKED, RateLimiter
from piratebox.units import MB

HOUR = 3600
DAY = 24 * HOUR


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_attempts_count_within_their_window_and_no_longer():
    clock = Clock()
    limiter = RateLimiter(clock)
    assert [limiter.hit("posts", "10.0.0.7", 3, HOUR) for _ in range(3)] == [0, 0, 0]
    clock.now += 600
    assert limiter.hit("posts", "10.0.0.7", 3, HOUR) == HOUR - 600
    assert limiter.hit("posts", "10.0.0.8", 3, HOUR) == 0  # another phone's own count
    clock.now += HOUR - 600
    assert limiter.hit("posts", "10.0.0.7", 3, HOUR) == 0


def test_a_key_whose_attempts_left_their_window_is_forgotten_at_its_next_look():
    clock = Clock()
    limiter = RateLimiter(clock)
    limiter.hit("download:abc", "10.0.0.7", 1, DAY)
    limiter.record("changes", "10.0.0.7", HOUR)
    clock.now += DAY
    assert limiter.retry_after("download:abc", "10.0.0.7", 1, DAY) == 0
    assert limiter.backoff("changes", "10.0.0.7", 1, HOUR, 60) == 0
    assert len(limiter) == 0


def test_a_look_at_a_key_never_seen_keeps_nothing():
    limiter = RateLimiter(Clock())
    assert limiter.retry_after("files", "10.0.0.7", 30, HOUR) == 0
    assert limiter.backoff("login-box", 1, 5, HOUR, 3600) == 0
    assert len(limiter) == 0


def test_a_full_table_of_a_days_downloads_holds_a_few_megabytes():
    """A file share's downloads count once a day for each phone and file: on a busy box
    the table fills to its bound, and a router has 128 MB for everything."""
    limiter = RateLimiter(Clock())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(MAX_TRACKED):
            limiter.hit(f"download:{number:026d}", f"10.0.{number // 250}.{number % 250}",
                        1, DAY)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(limiter) == MAX_TRACKED
    assert held < 4 * MB  # 9 MB when each key's attempts were a deque


def test_a_full_table_makes_room_by_forgetting_the_stalest_keys():
    clock = Clock()
    limiter = RateLimiter(clock)
    for number in range(MAX_TRACKED):
        clock.now += 1
        limiter.record("download:a", number, DAY)
    limiter.record("download:a", "newcomer", DAY)
    assert len(limiter) == MAX_TRACKED - MAX_TRACKED // 10 + 1
    assert limiter.retry_after("download:a", 0, 1, DAY) == 0  # the stalest: forgotten
    assert limiter.retry_after("download:a", MAX_TRACKED - 1, 1, DAY) > 0
    assert limiter.retry_after("download:a", "newcomer", 1, DAY) > 0
