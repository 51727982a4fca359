"""What the model page shows of a stored frequency model, from its record's JSON columns
alone (a record's model itself is never loaded to be shown: it may be an older version's
pickle)."""

from __future__ import annotations

import json
import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext

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
MODEL_KINDS = {
    "poisson_glm": _l("Poisson GLM"),
    "hgb_poisson": _l("Boosted trees (Poisson)"),
    "credibility_fallback": _l("Credibility weighting"),
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


# A record's note is written by the model fit in English (segmentation.risk_model,
# crm.tiers.models_store.LEGACY_NOTE); the page says the same in the user's language, from
# the note's figures and the record's metrics.
_LEGACY = re.compile(
    r"Refitted: the model stored before \((?P<version>[^)]*)\) was written by an older version.*?upgrades\)\.\s*"
)
_FALLBACK = re.compile(
    r"credibility fallback: (?P<n>\d+) policies with cover in the window \(< (?P<min>\d+)\) or too few claims: "
    r".*portfolio rate (?P<rate>[\d.]+), Z = exposure / \(exposure \+ (?P<k>[^)]+)\)\."
)


def model_note(record: RiskModelRecord, metrics: dict, window: dict) -> str:
    """The record's note in the user's language; a note of another form is shown as it is."""
    note, parts = record.note or "", []
    legacy = _LEGACY.match(note)
    if legacy:
        parts.append(
            _(
                "Refitted: the model stored before (%(version)s) was written by an older version of the app as a "
                "pickle, which is never loaded (it could run code, and breaks across library upgrades).",
                version=legacy["version"],
            )
        )
        note = note[legacy.end() :]
    fallback = _FALLBACK.fullmatch(note)
    if fallback:
        parts.append(
            _(
                "Credibility weighting: %(n)s policies had cover in the window (a model needs %(min)s), or there "
                "were too few claims. Predicted frequency = Z × the customer's own 3-year frequency + (1 − Z) × "
                "the portfolio frequency %(rate)s, where Z = exposure ÷ (exposure + %(k)s).",
                **fallback.groupdict(),
            )
        )
    elif record.kind in ("poisson_glm", "hgb_poisson") and metrics:
        inputs = [str(input_label(name)) for name in metrics.get("glm_inputs", [])]
        parts.append(
            _(
                "Fitted on %(rows)s rows (customer × product type × year) over %(periods)s years; the GLM's "
                "inputs, chosen on the held-out deviance: %(inputs)s.",
                rows=f"{record.n_rows:,}",
                periods=window.get("periods", "?"),
                inputs=pgettext("list separator", ", ").join(inputs) if inputs else _("none (constant rate)"),
            )
        )
    elif note:
        parts.append(note)
    return " ".join(parts)


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
    window = json.loads(record.data_window or "{}")
    return {
        "metrics": metrics,
        "window": window,
        "kind": MODEL_KINDS.get(record.kind, record.kind),
        "note": model_note(record, metrics, window),
        "legacy": unreadable(record),
        "calibration": rows,
        "chart": json.dumps(chart),
        "relativities": relativities,
        "explained": 1 - model / baseline if baseline and model is not None else None,
        "selection": [
            {**s, "label": input_label(s["added"]) if s.get("added") else None} for s in metrics.get("selection", [])
        ],
    }
