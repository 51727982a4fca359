"""The benefit catalogue: what each tier gets, how often, at what cost, and the cost policy.

The catalogue has legal weight (it is what the insurer promised its VIPs), so it is versioned
like the tier policy: every change writes a new ``benefit_catalogue_versions`` row, audited
with the catalogue before and after; rows are never edited. Until an admin saves a first
version, the defaults below apply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit
from crm.benefits.services import BenefitError
from crm.models.benefits import BenefitCatalogueVersion

KINDS = ("health_checkup", "appointment_booking", "partner_coupon", "emergency_assistance")
PERIODS = ("year", "quarter", "month")
BENEFIT_TIERS = ("vip", "standard", "watchlist")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Benefit:
    """One line of the catalogue; ``code`` names it in the ledger for ever."""

    code: str
    tier: str
    kind: str
    quota: int
    period: str
    unit_cost: Decimal  # CNY per use (a checkup costs its provider's price instead)
    face_value: Decimal | None = None  # coupons: the face value of each coupon (CNY)
    cover_limit_usd: Decimal | None = None  # assistance: cover per period

    def check(self) -> None:
        """Raises BenefitError when a field is out of range."""
        if not self.code or len(self.code) > 40 or not self.code.replace("_", "").isalnum():
            raise BenefitError(f"benefit code {self.code!r} must be 1-40 letters, digits or _")
        if self.tier not in BENEFIT_TIERS or self.kind not in KINDS or self.period not in PERIODS:
            raise BenefitError(f"benefit {self.code}: unknown tier, kind or period")
        if not 0 < self.quota <= 1000 or self.unit_cost < 0:
            raise BenefitError(f"benefit {self.code}: quota must be 1-1000 and the unit cost not negative")
        if self.kind == "partner_coupon" and not (self.face_value and self.face_value > 0):
            raise BenefitError(f"benefit {self.code}: a coupon benefit needs a face value")
        if self.kind == "emergency_assistance" and not (self.cover_limit_usd and self.cover_limit_usd > 0):
            raise BenefitError(f"benefit {self.code}: assistance needs a cover limit")


@dataclass(frozen=True)
class Catalogue:
    benefits: tuple[Benefit, ...]
    cost_ceiling_pct: Decimal = Decimal("5")  # benefit cost as a % of annual premium
    void_coupons_on_exit: bool = False
    assistance_provider: str = "环球紧急救援 Global Assistance"
    version: int = 0  # 0: the built-in defaults, never saved

    def for_tier(self, tier: str) -> tuple[Benefit, ...]:
        return tuple(b for b in self.benefits if b.tier == tier)

    def get(self, code: str) -> Benefit | None:
        return next((b for b in self.benefits if b.code == code), None)

    def of_kind(self, tier: str, kind: str) -> Benefit | None:
        return next((b for b in self.for_tier(tier) if b.kind == kind), None)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data.pop("version")
        data["benefits"] = [
            {k: (str(v.quantize(CENT)) if isinstance(v, Decimal) else v) for k, v in b.items()}
            for b in data["benefits"]
        ]
        data["cost_ceiling_pct"] = str(self.cost_ceiling_pct.quantize(CENT))
        return data

    @classmethod
    def from_dict(cls, data: dict, version: int = 0) -> Catalogue:
        def money(v):
            return None if v in (None, "") else Decimal(str(v))

        benefits = tuple(
            Benefit(
                code=b["code"],
                tier=b["tier"],
                kind=b["kind"],
                quota=int(b["quota"]),
                period=b["period"],
                unit_cost=money(b["unit_cost"]),
                face_value=money(b.get("face_value")),
                cover_limit_usd=money(b.get("cover_limit_usd")),
            )
            for b in data["benefits"]
        )
        return cls(
            benefits,
            Decimal(str(data["cost_ceiling_pct"])),
            bool(data["void_coupons_on_exit"]),
            data.get("assistance_provider") or cls.assistance_provider,
            version,
        )


DEFAULT = Catalogue(
    benefits=(
        Benefit("vip_checkup", "vip", "health_checkup", 1, "year", Decimal("1500.00")),
        Benefit("vip_coupons", "vip", "partner_coupon", 4, "quarter", Decimal("100.00"), face_value=Decimal("100.00")),
        Benefit(
            "vip_assistance",
            "vip",
            "emergency_assistance",
            1,
            "year",
            Decimal("300.00"),
            cover_limit_usd=Decimal("1000000.00"),
        ),
        Benefit("vip_appointments", "vip", "appointment_booking", 6, "year", Decimal("50.00")),
    )
)


def current_catalogue(session: Session) -> Catalogue:
    """The newest saved version, or the defaults when none was saved."""
    row = session.scalar(select(BenefitCatalogueVersion).order_by(BenefitCatalogueVersion.version.desc()).limit(1))
    if row is None:
        return DEFAULT
    return Catalogue.from_dict(json.loads(row.settings), row.version)


def save_catalogue(session: Session, actor: audit.Actor, new: Catalogue, note: str = "") -> Catalogue:
    """Store ``new`` as the next version, audited with the previous one.

    Raises BenefitError when a benefit is invalid, codes repeat, the ceiling is out of range,
    or someone saved another version at the same time (the unique version number).
    """
    for benefit in new.benefits:
        benefit.check()
    codes = [b.code for b in new.benefits]
    if len(codes) != len(set(codes)):
        raise BenefitError(_l("benefit codes must be unique"))
    if not Decimal("0") <= new.cost_ceiling_pct <= Decimal("100"):
        raise BenefitError(_l("the cost ceiling must be between 0 and 100 percent of the annual premium"))
    old = current_catalogue(session)
    version = (session.scalar(select(func.max(BenefitCatalogueVersion.version))) or 0) + 1
    row = BenefitCatalogueVersion(
        version=version, settings=json.dumps(new.to_dict(), ensure_ascii=False), note=note[:500], created_by=actor.label
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise BenefitError(_l("someone saved the catalogue at the same time; reload and try again")) from None
    audit.record(
        session,
        actor,
        audit.Change(
            "benefits.catalogue_saved",
            "benefit_catalogue",
            version,
            old.to_dict(),
            {**new.to_dict(), "note": note[:500]},
        ),
    )
    return dataclasses.replace(new, version=version)


def with_benefit(catalogue: Catalogue, benefit: Benefit) -> Catalogue:
    """The catalogue with ``benefit`` added, or replacing the one with its code."""
    others = tuple(b for b in catalogue.benefits if b.code != benefit.code)
    return dataclasses.replace(catalogue, benefits=others + (benefit,))


def without_benefit(catalogue: Catalogue, code: str) -> Catalogue:
    return dataclasses.replace(catalogue, benefits=tuple(b for b in catalogue.benefits if b.code != code))


# --- periods -------------------------------------------------------------------------


def period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The period containing ``day``: (first day, first day after)."""
    if period == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1)
    first_month = ((day.month - 1) // 3) * 3 + 1 if period == "quarter" else day.month
    start = dt.date(day.year, first_month, 1)
    months = 3 if period == "quarter" else 1
    end_month = first_month + months
    end = dt.date(day.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return start, end


def prorated(quota: int, period: str, day: dt.date) -> int:
    """The share of ``quota`` for joining on ``day``: days left (``day`` included) over the
    period's days, ROUNDED UP — a new VIP always gets at least one of each benefit.

    E.g. 4 coupons a quarter, joining on 24 Nov (38 of Q4's 92 days left): 4 × 38/92 = 1.65 → 2.
    """
    start, end = period_bounds(period, day)
    left, total = (end - day).days, (end - start).days
    return -(-quota * left // total)
