"""The partner API's rate limits, counted by Flask-Limiter (crm/ratelimits.py) in the configured
storage: with Redis, one count for all workers and hosts (a key gets ``rate`` per second in
total, not per worker).

Two limits:
- per API key, once the key is known: ``PARTNER_API_RATE`` = (rate per second, burst), e.g.
  (20, 40): 40 calls in any 2 seconds. It stops a runaway client; it is not billing.
- per client address, for calls with a missing or wrong key (``PARTNER_BAD_KEY_LIMIT``): a
  key guesser is stopped, and over the limit every call from the address answers 429, a
  right key too (or the answer would tell which guess hit).
"""

from __future__ import annotations

import math

from flask import current_app

from crm import ratelimits

DEFAULT_RATE = (20.0, 40)  # per key: 20 requests/s sustained, bursts of 40


def key_limit() -> str:
    """The per-key limit as Flask-Limiter writes it: ``burst`` per ``burst / rate`` seconds."""
    rate, burst = current_app.config.get("PARTNER_API_RATE", DEFAULT_RATE)
    burst = max(1, int(burst))
    seconds = max(1, math.ceil(burst / float(rate)))
    return f"{burst} per {seconds} seconds"


def address_refused() -> int:
    """Seconds the client's address must wait before its calls are looked at again (0: go on)."""
    return ratelimits.over(current_app.config["PARTNER_BAD_KEY_LIMIT"], "partner-bad-key", ratelimits.client_address())


def count_bad_key() -> int:
    """Count a call with a missing or wrong key against its address; seconds to wait, or 0."""
    return ratelimits.hit(current_app.config["PARTNER_BAD_KEY_LIMIT"], "partner-bad-key", ratelimits.client_address())


def take(key_id: int) -> int:
    """Count a call of the key ``key_id``: 0 when allowed, else seconds to wait."""
    return ratelimits.hit(key_limit(), "partner-key", str(key_id))
