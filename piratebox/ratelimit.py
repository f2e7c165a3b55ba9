"""Sliding-window rate limits kept in memory.

Memory, not the database: counting every attempt on flash would wear it out, and a
restart forgetting the counts is harmless. The table is bounded so that a flood of
addresses cannot grow it without end.
"""

import threading
import time
from collections import deque

MAX_TRACKED = 10_000


class RateLimiter:
    def __init__(self, monotonic=time.monotonic):
        self._hits = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def retry_after(self, bucket, key, limit, window):
        """Seconds to wait before one more is allowed under `limit` per `window`; 0 if now."""
        with self._lock:
            hits = self._fresh(bucket, key, window)
            if len(hits) < limit:
                return 0
            return window - (self._monotonic() - hits[0])

    def backoff(self, bucket, key, free, window, longest):
        """Seconds to wait before one more: none while fewer than `free` were recorded in
        `window`, then one second after the last, doubling with each one beyond, at most
        `longest`."""
        with self._lock:
            hits = self._fresh(bucket, key, window)
            beyond = len(hits) - free
            if beyond < 0:
                return 0
            delay = min(longest, 2 ** min(beyond, 32))
            return max(0, hits[-1] + delay - self._monotonic())

    def record(self, bucket, key, window):
        with self._lock:
            if len(self._hits) >= MAX_TRACKED:
                self._forget_oldest()
            self._fresh(bucket, key, window).append(self._monotonic())

    def hit(self, bucket, key, limit, window):
        """Count one attempt if allowed; return the seconds to wait, 0 when it was counted."""
        wait = self.retry_after(bucket, key, limit, window)
        if not wait:
            self.record(bucket, key, window)
        return wait

    def reset(self, bucket, key):
        with self._lock:
            self._hits.pop((bucket, key), None)

    def _fresh(self, bucket, key, window):
        hits = self._hits.setdefault((bucket, key), deque())
        horizon = self._monotonic() - window
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits

    def _forget_oldest(self):
        emptiest = sorted(self._hits, key=lambda k: self._hits[k][-1] if self._hits[k] else 0)
        for key in emptiest[: MAX_TRACKED // 10]:
            del self._hits[key]
