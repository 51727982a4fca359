"""Each report as a table (columns and rows) from a snapshot's figures: for the page and the CSV."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

REPORTS = {
    "loss_ratio_tier": _l("Loss ratio by tier"),
    "loss_ratio_product": _l("Loss ratio by product"),
    "loss_ratio_city": _l("Loss ratio by city"),
    "loss_ratio_manager": _l("Loss ratio by account manager"),
    "pending_claims": _l("Pending claims"),
    "premium": _l("Premium in force, earned and unearned"),
    "benefits": _l("Benefit cost and utilisation"),
    "results_by_source": _l("Results by customer source"),
}
LOSS_COLUMNS = ("key", "policies_in_force", "earned", "claims", "incurred", "loss_ratio")


BY_MANAGER = ("pending_claims", "premium")  # the reports that can be broken down by account manager
PREMIUM_COLUMNS = ("policies_in_force", "annual_premium_in_force", "earned_premium_ytd", "unearned_premium")


def table(
    figures: dict, report: str, names: dict[str, str], by_manager: bool = False
) -> tuple[list[str], list[list], list | None]:
    """(column codes, rows, totals row or None) of one report; ``names`` labels keys (managers).

    ``by_manager`` adds the account manager as the first column (the whole portfolio's figures only).
    """
    if report.startswith("loss_ratio_"):
        by = report.removeprefix("loss_ratio_")
        rows = [
            [
                names.get(r["key"], r["key"]) if by == "manager" else r["key"],
                r["policies_in_force"],
                r["earned"],
                r["claims"],
                r["incurred"],
                r["loss_ratio"],
            ]
            for r in figures["loss_ratio"][by]
        ]
        t = figures["totals"]
        total = ["total", sum(r[1] for r in rows), t["earned"], t["claims"], t["incurred"], t["loss_ratio"]]
        return list(LOSS_COLUMNS), rows, total
    if report == "pending_claims":
        columns = ["product", "days_since_report", "count", "estimated_amount"]
        t = figures["pending_total"]
        if by_manager and "pending_by_manager" in figures:
            rows = [
                [names.get(r["manager"], r["manager"]), r["product"], r["band"], r["count"], r["reserve"]]
                for r in figures["pending_by_manager"]
            ]
            return ["manager"] + columns, rows, ["total", "", "", t["count"], t["reserve"]]
        rows = [[r["product"], r["band"], r["count"], r["reserve"]] for r in figures["pending"]]
        return columns, rows, ["total", "", t["count"], t["reserve"]]
    if report == "premium":
        premium = figures.get("premium", [])
        total = ["total"] + [round(sum(r[c] for r in premium), 2) for c in PREMIUM_COLUMNS]
        if by_manager and "premium_by_manager" in figures:
            rows = [
                [names.get(r["manager"], r["manager"]), r["product_type"]] + [r[c] for c in PREMIUM_COLUMNS]
                for r in figures["premium_by_manager"]
            ]
            return ["manager", "product", *PREMIUM_COLUMNS], rows, total[:1] + [""] + total[1:]
        rows = [[r["product_type"]] + [r[c] for c in PREMIUM_COLUMNS] for r in premium]
        return ["product", *PREMIUM_COLUMNS], rows, total
    if report == "results_by_source":
        rows = [
            [r["key"], r["customers"], r["vips"], r["new_premium"], r["earned"], r["incurred"], r["loss_ratio"]]
            for r in figures.get("by_source", [])
        ]
        return ["source", "customers", "vips", "new_premium", "earned", "incurred", "loss_ratio"], rows, None
    if report == "benefits":
        b = figures.get("benefits") or {}
        rows = [[r["key"], r["uses"], r["cost"]] for r in b.get("by_kind", [])]
        return ["benefit_kind", "uses", "cost"], rows, ["total", b.get("uses", 0), b.get("cost", 0)]
    raise KeyError(report)


COLUMN_LABELS = {
    "key": _l("Group"),
    "policies_in_force": _l("Policies in force"),
    "earned": _l("Earned premium"),
    "claims": _l("Claims"),
    "incurred": _l("Incurred claims"),
    "loss_ratio": _l("Loss ratio"),
    "product": _l("Product"),
    "days_since_report": _l("Days since report"),
    "count": _l("Count"),
    "estimated_amount": _l("Estimated amount (reserve)"),
    "earned_premium": _l("Earned premium"),
    "benefit_kind": _l("Benefit"),
    "uses": _l("Uses"),
    "cost": _l("Cost"),
    "source": _l("Customer source"),
    "customers": _l("Customers"),
    "vips": _l("VIPs"),
    "new_premium": _l("New premium this year"),
    "manager": _l("Account manager"),
    "annual_premium_in_force": _l("Annual premium in force"),
    "earned_premium_ytd": _l("Earned premium this year"),
    "unearned_premium": _l("Unearned premium reserve"),
}


def key_label(report: str, key):
    """A row's first cell in words: tier and product codes are translated, other keys shown as they are."""
    from crm.ui import LABELS

    if report == "loss_ratio_tier":
        return LABELS["tier"].get(key, _l("not scored") if key == "unscored" else key)
    if report in ("loss_ratio_product", "pending_claims", "premium"):
        return LABELS["product"].get(key, key)
    if report == "results_by_source":
        return LABELS["source"].get(key, key)
    return key
