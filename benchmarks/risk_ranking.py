"""How well the published risk score ranks customers by their true claim rate.

On a portfolio whose true rates are known (segmentation.truth: age band, gender, city and
product type, with interactions), the engine's model is fitted as a run fits it and every
customer scored; a plain exposure-weighted Poisson GLM (one-hot age band, gender, city,
product type) is fitted on the same three years of claims. Printed: each one's Spearman
correlation with the true rate, overall and among single-product customers, the engine's
share of the GLM's (the target is at least 0.90), the model chosen with its inputs, its
held-out deviance against the constant rate, its normalised Gini, and the time taken.

    .venv/bin/python benchmarks/risk_ranking.py [--customers 100000] [--seeds 1,2] [--model-sample N]

--model-sample fits the model on N of the customers, as a run does on a bigger portfolio
(crm.jobs.recalc.RunRequest.model_sample), and scores everyone with it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--model-sample", type=int, help="customers the model is fitted on (default: all)")
    args = parser.parse_args()
    from segmentation.truth import ranking_report

    for seed in (int(s) for s in args.seeds.split(",")):
        t = time.perf_counter()
        r = ranking_report(args.customers, seed, model_sample=args.model_sample)
        seconds = time.perf_counter() - t
        m = r["metrics"]
        print(
            f"[{args.customers:,} customers, seed {seed}"
            + (f", fitted on {args.model_sample:,}" if args.model_sample else "")
            + f"] {seconds:.1f}s | model {r['model']} on {', '.join(r['inputs'])}"
        )
        for part in ("overall", "single_product"):
            print(
                f"  Spearman with the true rate, {part:>14}: risk score {r['engine'][part]:.4f} | "
                f"plain GLM {r['plain_glm'][part]:.4f} | ratio {r['ratio'][part]:.3f} (target >= 0.90)"
            )
        print(
            f"  held-out deviance {m['deviance_model']:.4f} against {m['deviance_baseline']:.4f} for the constant "
            f"rate; normalised Gini {m['gini_normalised']:.3f}; boosted trees' gain {m['boosted_gain']:+.1%}"
        )


if __name__ == "__main__":
    main()
