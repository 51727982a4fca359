"""What the model page shows of a stored frequency model, from its record's JSON columns
alone (a record's model itself is never loaded to be shown: it may be an older version's
pickle)."""

from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l

from crm.models import RiskModelRecord
from crm.tiers.models_store import unreadable
from crm.ui import LABELS

INPUT_LABELS = {
    "product_type": _l("Product type"),
    "age_band": _l("Age band"),
    "gender": _l("Gender"),
    "city": _l("City"),
    "tenure_band": _l("Tenure (years)"),
    "premium_band": _l("Annual premium in force"),
    "prior_claims": _l("Claims in the 3 years before"),
    "n_products": _l("Product types in force"),
}
_LEVELS = {"product_type": LABELS["product"], "gender": {"M": _l("Male"), "F": _l("Female")}}


def input_label(name: str):
    return INPUT_LABELS.get(name, name)


def _level_label(name: str, level: str):
    if level == "other":
        return _l("other")
    return _LEVELS.get(name, {}).get(level, level)


def calibration(deciles: list[dict]) -> list[dict]:
    """Per decile of predicted frequency: exposure, predicted and actual claims, both as a
    frequency (claims per policy-year), and actual / predicted."""
    rows = []
    for d in deciles:
        exposure = d.get("exposure") or 0.0
        predicted, actual = d.get("predicted_claims") or 0.0, d.get("actual_claims") or 0.0
        rows.append(
            {
                "decile": d.get("decile"),
                "exposure": exposure,
                "predicted": predicted,
                "actual": actual,
                "predicted_rate": predicted / exposure if exposure else 0.0,
                "actual_rate": actual / exposure if exposure else 0.0,
                "ratio": actual / predicted if predicted else None,
            }
        )
    return rows


def describe(record: RiskModelRecord) -> dict:
    """The page's figures of a stored model (see the module docstring)."""
    metrics = json.loads(record.metrics or "{}")
    rows = calibration(metrics.get("deciles", []))
    chart = {
        "labels": [str(r["decile"]) for r in rows],
        "predicted": [round(r["predicted_rate"], 5) for r in rows],
        "actual": [round(r["actual_rate"], 5) for r in rows],
    }
    relativities = [
        {
            "input": r["input"],
            "label": input_label(r["input"]),
            "levels": [{**lv, "label": _level_label(r["input"], str(lv["level"]))} for lv in r["levels"]],
        }
        for r in metrics.get("relativities", [])
    ]
    baseline, model = metrics.get("deviance_baseline"), metrics.get("deviance_model")
    return {
        "metrics": metrics,
        "window": json.loads(record.data_window or "{}"),
        "legacy": unreadable(record),
        "calibration": rows,
        "chart": json.dumps(chart),
        "relativities": relativities,
        "explained": 1 - model / baseline if baseline and model is not None else None,
        "selection": [
            {**s, "label": input_label(s["added"]) if s.get("added") else None} for s in metrics.get("selection", [])
        ],
    }
