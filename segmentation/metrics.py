"""Goodness-of-fit measures of a claim-frequency model, on exposure-weighted rates."""

from __future__ import annotations

import numpy as np


def poisson_deviance(rate: np.ndarray, predicted: np.ndarray, exposure: np.ndarray) -> float:
    """Mean Poisson deviance of predicted rates, weighted by exposure (lower is better)."""
    from sklearn.metrics import mean_poisson_deviance  # here, not at import: see risk_model._hgb

    return float(mean_poisson_deviance(rate, np.maximum(predicted, 1e-9), sample_weight=exposure))


def _gini(rate: np.ndarray, score: np.ndarray, exposure: np.ndarray) -> float:
    """Gini of the Lorenz curve of claims against exposure, ordered by score ascending."""
    order = np.argsort(score, kind="stable")
    claims = (rate * exposure)[order]
    x = np.concatenate([[0.0], np.cumsum(exposure[order]) / exposure.sum()])
    y = np.concatenate([[0.0], np.cumsum(claims) / max(claims.sum(), 1e-12)])
    area = np.trapezoid(y, x)
    return float(1.0 - 2.0 * area)


def normalised_gini(rate: np.ndarray, predicted: np.ndarray, exposure: np.ndarray) -> float:
    """Gini of the model divided by the Gini of the oracle ordering (1 = perfect ranking)."""
    oracle = _gini(rate, rate, exposure)
    return float(_gini(rate, predicted, exposure) / oracle) if oracle != 0 else 0.0


def decile_table(rate: np.ndarray, predicted: np.ndarray, exposure: np.ndarray) -> list[dict]:
    """Predicted vs actual claims by decile of predicted rate (deciles of exposure)."""
    order = np.argsort(predicted, kind="stable")
    cum = np.cumsum(exposure[order]) / exposure.sum()
    decile = np.minimum((cum * 10 - 1e-12).astype(int), 9)
    e, r, p = exposure[order], rate[order], predicted[order]
    rows = []
    for k in range(10):
        sel = decile == k
        rows.append(
            {
                "decile": k + 1,
                "exposure": float(e[sel].sum()),
                "predicted_claims": float((p[sel] * e[sel]).sum()),
                "actual_claims": float((r[sel] * e[sel]).sum()),
            }
        )
    return rows
