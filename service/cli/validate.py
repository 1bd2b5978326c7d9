"""`flopwatt validate`: the model against published measured iteration times, offline."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="compare the estimator with published measurements")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--rows", action="store_true", help="print every row, not only the Selene table and summaries")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from flopwatt.service.model import fitted
    from flopwatt.service.model.validation import CLUSTERS, run_all

    results = run_all()
    if args.json:
        print(json.dumps({
            "fit": fitted.FIT_PROVENANCE,
            "clusters": {name: {"description": c.description, "source": c.source} for name, c in CLUSTERS.items()},
            "datasets": [{
                "name": r.name, "rows": len(r.labels),
                "mean_absolute_percentage_error": r.mean_absolute_percentage_error,
                "max_absolute_percentage_error": r.max_absolute_percentage_error,
                "median_signed_percentage_error": float(np.median(r.relative_errors) * 100),
                "rows_detail": [{"label": l, "measured_seconds": float(m), "predicted_seconds": float(p)}
                                for l, m, p in zip(r.labels, r.measured_seconds, r.predicted_seconds)],
            } for r in results],
        }, indent=2))
        return 0
    for r in results:
        if r.name == "megatron-selene" or args.rows:
            print(f"\n{r.name}")
            print(f"{'configuration':<48} {'measured s':>11} {'predicted s':>12} {'error':>8}")
            for label, measured, predicted, error in zip(r.labels, r.measured_seconds, r.predicted_seconds, r.relative_errors):
                print(f"{label:<48} {measured:>11.3f} {predicted:>12.3f} {error:>+8.1%}")
    print(f"\n{'data set':<28} {'rows':>5} {'MAPE':>7} {'max':>7} {'median signed':>14}")
    for r in results:
        print(f"{r.name:<28} {len(r.labels):>5} {r.mean_absolute_percentage_error:>6.2f}% {r.max_absolute_percentage_error:>6.1f}% "
              f"{np.median(r.relative_errors) * 100:>+13.1f}%")
    print(f"\nfitted constants: {fitted.FIT_PROVENANCE}")
    for name, cluster in CLUSTERS.items():
        print(f"{name}: {cluster.description} ({cluster.source})")
    return 0
