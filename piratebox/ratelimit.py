"""Sliding-window rate limits kept in memory.

Memory, not the database: counting every attempt on flash would wear it out, and a
restart forgetting the counts is harmless. The table is bounded so that a flood of
addresses cannot grow it without end, and it holds only what still counts: a key whose
attempts have all left their window is forgotten the next time it is looked at, and a
look at a key never seen adds nothing. Each key's attempts are a plain list, not a
deque: a key holds one attempt (a download counted once a day) to a few dozen, and a
deque's first block of 64 slots made each key cost 1 KB rather than 0.4 (MAX_TRACKED
of them: 10 MB, on a router of 128).
"""

import bisect
import threading
import time

MAX_TRACKED = 10_000


class RateLimiter:
    def __init__(self, monotonic=time.monotonic):
        self._hits = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def __len__(self):
        """How many keys are kept."""
        return len(self._hits)

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
            hits = self._fresh(bucket, key, window)
            if not hits:
                if len(self._hits) >= MAX_TRACKED:
                    self._forget_oldest()
                hits = self._hits[(bucket, key)] = []
            hits.append(self._monotonic())

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
        """The key's attempts still within `window`, oldest first (empty: none kept)."""
        hits = self._hits.get((bucket, key))
        if hits is None:
            return ()
        horizon = self._monotonic() - window
        if hits[0] <= horizon:
            del hits[:bisect.bisect_right(hits, horizon)]
            if not hits:
                del self._hits[(bucket, key)]
        return hits

    def _forget_oldest(self):
        stalest = sorted(self._hits, key=lambda k: self._hits[k][-1])
        for key in stalest[: MAX_TRACKED // 10]:
            del self._hits[key]
