"""Per-key rate limit of the partner API: an in-process token bucket.

Why in-process: a shared counter in the database would be one more write on every call, and
on PostgreSQL every request of one key would queue on that counter row's lock until its
transaction commits. The price: each worker process keeps its own buckets, so under gunicorn
with N workers a key can get up to N × ``rate`` requests per second (and N × ``burst`` at
once) before it sees 429. Configure ``PARTNER_API_RATE`` = (rate per second, burst) per
worker with that in mind; its purpose is to stop a runaway client, not to meter billing.
"""
from __future__ import annotations

import math
import threading
import time

DEFAULT_RATE = (20.0, 40)  # per key and worker: 20 requests/s sustained, bursts of 40


class TokenBucket:
    """Buckets per key: ``take(key)`` returns 0 when allowed, else seconds to wait."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = float(rate), int(burst), clock
        self._lock = threading.Lock()
        self._buckets: dict[object, tuple[float, float]] = {}  # key → (tokens, last refill)

    def take(self, key) -> int:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))
