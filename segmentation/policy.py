"""The tier policy: every threshold of the tier rules, as one immutable, versioned value.

The defaults are the policy a fresh install computes with (see TIER_RULES.md); an admin may
edit them, and the app records `to_dict()` with each recalculation run so that a run can be
explained and repeated later.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TierPolicy:
    """Thresholds and windows of the tier rules (defaults = the default tier policy)."""

    # Windows, in calendar days ending with the as-of date D (D itself included).
    window_days: int = 1095
    last_year_days: int = 365
    recent_days: int = 180
    # Credibility: Z = exposure_years / (exposure_years + credibility_k).
    credibility_k: float = 3.0
    # Claim statuses that never count (a fraud suspicion counts whatever the status).
    excluded_claim_statuses: tuple[str, ...] = ("rejected", "withdrawn")
    # A "long-term regular-premium" policy: term >= long_term_min_years, not single premium.
    long_term_min_years: int = 10
    # Watchlist triggers.
    w_loss_min_claims: int = 2
    w_loss_ratio: float = 1.20
    w_freq_claims_12m: int = 4
    # VIP triggers.
    v_premium: float = 50000.0
    v_longterm_premium: float = 20000.0
    v_longterm_min_policies: int = 1
    v_longterm_tenure_years: float = 3.0
    # Hysteresis: what keeps a previous VIP a VIP ...
    retain_vip_premium: float = 40000.0
    retain_vip_longterm_premium: float = 16000.0
    retain_vip_longterm_min_policies: int = 1
    # ... and what keeps a previous watchlist customer on the watchlist.
    retain_watch_recent_claims: int = 1
    retain_watch_min_claims: int = 2
    retain_watch_ratio: float = 1.00
    # Risk model: below this many policies the frequency model falls back to credibility.
    model_min_policies: int = 300
    # ... and the boosted model replaces the GLM only if its held-out deviance is lower by at
    # least this share of the GLM's (see risk_model).
    model_boosted_min_gain: float = 0.02
    version: str = "default-2"

    def __post_init__(self) -> None:
        # Validate on construction too, so that no invalid policy can exist at all.
        for f in fields(self):
            _check_field(f.name, f.type, getattr(self, f.name))
        if not (self.recent_days <= self.last_year_days <= self.window_days):
            raise ValueError("window_days: windows must satisfy recent <= last year <= window")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TierPolicy:
        """Build a policy from a (JSON) dict; missing keys take the defaults.

        Raises ValueError naming the field on an unknown key, a wrong type or a negative value.
        """
        if not isinstance(d, dict):
            raise ValueError("policy: expected a dict")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"{key}: unknown tier policy field")
        values = dict(d)
        if "excluded_claim_statuses" in values and isinstance(values["excluded_claim_statuses"], list):
            # JSON has no tuples; accept the list that to_dict() produced.
            values["excluded_claim_statuses"] = tuple(values["excluded_claim_statuses"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (from_dict(to_dict()) gives the same policy)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def _check_field(name: str, type_name: Any, value: Any) -> None:
    """Raise ValueError naming `name` when `value` does not fit its declared type."""
    type_name = str(type_name)
    if type_name == "str":
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name}: expected a non-empty string")
        return
    if type_name.startswith("tuple"):
        if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name}: expected a list of strings")
        return
    # bool is an int subclass in Python; a True threshold is always a mistake.
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a number, got a boolean")
    if type_name == "int":
        if not isinstance(value, int):
            raise ValueError(f"{name}: expected an integer")
    elif not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{name}: expected a number")
    if value < 0:
        raise ValueError(f"{name}: must not be negative")
    if name.endswith("_days") and value < 1:
        raise ValueError(f"{name}: must be at least one day")
