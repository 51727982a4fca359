"""Row parsers for the three CSV kinds of the contract.

Each parser turns one CSV row (a dict of text) into the values to store, or collects every
problem as ``(column, message)``. Checks that need other rows (uniqueness within the file,
references to existing records) are made by the importer, which sees the whole file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import validators as v

Problems = list[tuple[str, str]]


def _field(row: dict, problems: Problems, column: str, parse: Callable, *args, optional: bool = False):
    raw = row.get(column)
    if raw is None:
        if not optional:
            problems.append((column, _("a value is required")))
        return None
    code = v.control_character(raw)
    if code is not None:  # never echo the value: it may be an ID number or a phone
        problems.append((column, _("contains a control character (%(code)s)", code=code)))
        return None
    if raw.strip() == "":
        if not optional:
            problems.append((column, _("a value is required")))
        return None
    try:
        return parse(raw, *args)
    except ValueError as exc:
        problems.append((column, str(exc)))
        return None


def _text(raw: str, max_len: int) -> str:
    text = raw.strip()
    if len(text) > max_len:
        raise ValueError(_("longer than %(n)s characters", n=max_len))
    return text


def _key(raw: str) -> str:
    text = raw.strip()
    if len(text) > 40 or not text.isprintable() or " " in text:
        raise ValueError(_("must be at most 40 characters with no spaces"))
    return text


def parse_customer(row: dict) -> tuple[dict, Problems]:
    p: Problems = []
    ident = _field(row, p, "id_number", v.parse_id_number)
    values = {
        "customer_ref": _field(row, p, "customer_ref", _key),
        "name": _field(row, p, "name", _text, 100),
        "id_number": ident.number if ident else None,
        "birth_date": ident.birth_date if ident else None,
        "gender": ident.gender if ident else None,
        "phone": _field(row, p, "phone", v.parse_phone),
        "city": _field(row, p, "city", _text, 50),
        "source": _field(row, p, "source", v.parse_enum, v.SOURCES),
        "referred_by": _field(row, p, "referred_by", _key, optional=True),
        "account_manager": _field(row, p, "account_manager", _text, 254, optional=True),
    }
    if values["referred_by"] and values["referred_by"] == values["customer_ref"]:
        p.append(("referred_by", _("a customer cannot refer themselves")))
    if values["account_manager"]:
        values["account_manager"] = values["account_manager"].lower()
    return values, p


def parse_policy(row: dict) -> tuple[dict, Problems]:
    p: Problems = []
    values = {
        "policy_no": _field(row, p, "policy_no", _key),
        "customer_ref": _field(row, p, "customer_ref", _key),
        "product_code": _field(row, p, "product_code", _key),
        "product_type": _field(row, p, "product_type", v.parse_enum, v.PRODUCT_TYPES),
        "start_date": _field(row, p, "start_date", v.parse_date),
        "end_date": _field(row, p, "end_date", v.parse_date),
        "term_years": _field(row, p, "term_years", v.parse_int, 0, 100),
        "payment_mode": _field(row, p, "payment_mode", v.parse_enum, v.PAYMENT_MODES),
        "annual_premium": _field(row, p, "annual_premium", v.parse_money),
        "status": _field(row, p, "status", v.parse_enum, v.POLICY_STATUSES),
    }
    if values["start_date"] and values["end_date"] and values["end_date"] <= values["start_date"]:
        p.append(("end_date", _("must be after start_date %(date)s", date=values["start_date"])))
    return values, p


def parse_claim(row: dict) -> tuple[dict, Problems]:
    p: Problems = []
    values = {
        "claim_no": _field(row, p, "claim_no", _key),
        "policy_no": _field(row, p, "policy_no", _key),
        "loss_date": _field(row, p, "loss_date", v.parse_date),
        "report_date": _field(row, p, "report_date", v.parse_date),
        "status": _field(row, p, "status", v.parse_enum, v.CLAIM_STATUSES),
        "claimed_amount": _field(row, p, "claimed_amount", v.parse_money),
        "reserve_amount": _field(row, p, "reserve_amount", v.parse_money),
        "paid_amount": _field(row, p, "paid_amount", v.parse_money),
        "fraud_suspected": _field(row, p, "fraud_suspected", v.parse_bool01),
    }
    if values["loss_date"] and values["report_date"] and values["report_date"] < values["loss_date"]:
        p.append(("report_date", _("must not be before loss_date %(date)s", date=values["loss_date"])))
    if values["status"] == "paid" and values["reserve_amount"]:
        p.append(("reserve_amount", _("a paid claim has no reserve left: must be 0.00")))
    return values, p


def claim_dates_fit(values: dict, start: dt.date, end: dt.date, today: dt.date) -> Problems:
    """The rules on a claim's dates that need its policy and the day: the loss within the cover
    (start_date ≤ loss_date < end_date), and neither date after today."""
    p: Problems = []
    loss = values.get("loss_date")
    if loss and not start <= loss < end:
        p.append(
            (
                "loss_date",
                _("must lie within the policy's cover, %(start)s up to %(end)s (not included)", start=start, end=end),
            )
        )
    for column in ("loss_date", "report_date"):
        if values.get(column) and values[column] > today:
            p.append((column, _("must not be after today (%(today)s)", today=today)))
    return p


@dataclass(frozen=True)
class Column:
    """One column of a CSV kind as the upload page documents it."""

    name: str
    required: bool
    format: object  # a lazy string: what a cell holds
    allowed: tuple[str, ...] = ()  # the codes a cell may hold (an enumeration), else empty
    allowed_group: str = ""  # their labels' group in crm.labels


@dataclass(frozen=True)
class Kind:
    """What the importer needs to know about one CSV kind."""

    name: str
    spec: tuple[Column, ...]
    key: str
    parse: Callable[[dict], tuple[dict, Problems]]
    reference: str | None  # the column that must name an existing record
    reference_kind: str | None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.spec)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.spec if c.required)


_KEY = _l("text up to 40 characters, no spaces")
_DATE = _l("date YYYY-MM-DD")
_MONEY = _l("amount in CNY, at most 2 decimals, no thousands separators (1234.56)")

CUSTOMER_SPEC = (
    Column("customer_ref", True, _l("the customer's reference, unique (%(format)s)", format=_KEY)),
    Column("name", True, _l("text up to 100 characters")),
    Column("id_number", True, _l("18-character PRC resident ID number, check character verified")),
    Column("phone", True, _l("mainland mobile number, 11 digits (a +86 prefix is accepted)")),
    Column("city", True, _l("text up to 50 characters")),
    Column("source", True, _l("how the customer came to us"), v.SOURCES, "source"),
    Column("referred_by", False, _l("the customer_ref of the customer who referred them")),
    Column("account_manager", False, _l("the e-mail of an account manager or admin of this CRM")),
)
POLICY_SPEC = (
    Column("policy_no", True, _l("the policy number, unique (%(format)s)", format=_KEY)),
    Column("customer_ref", True, _l("the policyholder's customer_ref (an imported customer)")),
    Column("product_code", True, _KEY),
    Column("product_type", True, _l("the product type"), v.PRODUCT_TYPES, "product"),
    Column("start_date", True, _DATE),
    Column("end_date", True, _l("date YYYY-MM-DD: the first day without cover, after start_date")),
    Column("term_years", True, _l("whole number of years, 0 to 100")),
    Column("payment_mode", True, _l("how the premium is paid"), v.PAYMENT_MODES, "payment"),
    Column("annual_premium", True, _MONEY),
    Column("status", True, _l("the policy's status"), v.POLICY_STATUSES, "policy_status"),
)
CLAIM_SPEC = (
    Column("claim_no", True, _l("the claim number, unique (%(format)s)", format=_KEY)),
    Column("policy_no", True, _l("the policy_no of an imported policy")),
    Column("loss_date", True, _l("date YYYY-MM-DD, within the policy's cover, not after today")),
    Column("report_date", True, _l("date YYYY-MM-DD, on or after loss_date, not after today")),
    Column("status", True, _l("the claim's status"), v.CLAIM_STATUSES, "claim_status"),
    Column("claimed_amount", True, _MONEY),
    Column("reserve_amount", True, _l("%(format)s; 0.00 for a paid claim", format=_MONEY)),
    Column("paid_amount", True, _MONEY),
    Column("fraud_suspected", True, _l("1 if fraud is suspected, else 0"), ("0", "1"), "flag"),
)

# The contract's columns of each file, in the order the demo data and templates write them.
POLICY_COLUMNS = tuple(c.name for c in POLICY_SPEC)
CLAIM_COLUMNS = tuple(c.name for c in CLAIM_SPEC)

KINDS = {
    "customers": Kind("customers", CUSTOMER_SPEC, "customer_ref", parse_customer, "referred_by", "customers"),
    "policies": Kind("policies", POLICY_SPEC, "policy_no", parse_policy, "customer_ref", "customers"),
    "claims": Kind("claims", CLAIM_SPEC, "claim_no", parse_claim, "policy_no", "policies"),
}
