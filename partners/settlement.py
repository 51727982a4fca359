"""The settlement report: what a partner redeemed in a period, what was voided, and the face
value the insurer owes, straight from the redemption rows (no manual step), with a CSV."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import csvout
from partners.models import Coupon, Partner, Redemption

CSV_COLUMNS = ("redemption_id", "code", "store_id", "redeemed_at", "face_value", "amount", "voided_at", "status")


@dataclass(frozen=True)
class Line:
    redemption_id: int
    code: str
    store_id: str | None
    redeemed_at: dt.datetime
    face_value: Decimal
    amount: Decimal
    voided_at: dt.datetime | None

    @property
    def status(self) -> str:
        return "voided" if self.voided_at else "redeemed"


@dataclass(frozen=True)
class Settlement:
    partner: Partner
    start: dt.date
    end: dt.date
    lines: list[Line]

    @property
    def standing(self) -> list[Line]:
        return [line for line in self.lines if line.voided_at is None]

    @property
    def redemptions(self) -> int:
        return len(self.lines)

    @property
    def voids(self) -> int:
        return len(self.lines) - len(self.standing)

    @property
    def face_value(self) -> Decimal:
        """What the insurer owes: the face value of the redemptions that stand."""
        return sum((line.face_value for line in self.standing), Decimal("0.00"))

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.standing), Decimal("0.00"))


def period_bounds(start: dt.date, end: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, the day after end 00:00) in the insurer's zone, as UTC instants."""
    tz = ZoneInfo(zone)
    return (
        dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC),
    )


def settlement(session: Session, partner: Partner, start: dt.date, end: dt.date, zone: str) -> Settlement:
    """Every redemption the partner made from ``start`` to ``end`` (inclusive, local dates).

    A redemption belongs to the period it was made in; one voided since is listed as voided
    and owes nothing. Raises ValueError when ``end`` is before ``start``.
    """
    if end < start:
        raise ValueError("the period ends before it starts")
    lo, hi = period_bounds(start, end, zone)
    rows = session.execute(
        select(
            Redemption.id,
            Coupon.code,
            Redemption.store_id,
            Redemption.redeemed_at,
            Coupon.value,
            Redemption.amount,
            Redemption.voided_at,
        )
        .join(Coupon, Coupon.id == Redemption.coupon_id)
        .where(Redemption.partner_id == partner.id, Redemption.redeemed_at >= lo, Redemption.redeemed_at < hi)
        .order_by(Redemption.redeemed_at, Redemption.id)
    )
    return Settlement(partner, start, end, [Line(*row) for row in rows])


def write_csv(report: Settlement, out, zone: str) -> None:
    """The report's lines as CSV (times in the insurer's zone), then a total line."""
    tz = ZoneInfo(zone)
    writer = csvout.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in report.lines:
        writer.writerow(
            [
                line.redemption_id,
                line.code,
                line.store_id or "",
                line.redeemed_at.astimezone(tz).isoformat(timespec="seconds"),
                csvout.two_decimals(line.face_value),
                csvout.two_decimals(line.amount),
                line.voided_at.astimezone(tz).isoformat(timespec="seconds") if line.voided_at else "",
                line.status,
            ]
        )
    writer.writerow(
        [
            "total",
            "",
            "",
            "",
            csvout.two_decimals(report.face_value),
            csvout.two_decimals(report.amount),
            "",
            f"{report.redemptions} redemptions, {report.voids} voided",
        ]
    )
