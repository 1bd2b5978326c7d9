"""Holds the validation errors at the level reached (plus a small margin): regressions fail.

Reached on 2026-11-23 (datasheet mode, fitted constants of fitted.py): Selene 11.3 % mean error
(target 5 %, not met), vTrain single-node held-out 7.8 % (target 8 %, met), vTrain multi-node
21.8 % (target 14 %, not met). See docs/estimation.md for why.
"""

import numpy as np

from flopwatt.service.model.validation import run_all

LIMITS_PERCENT = {
    "megatron-selene": 12.0,
    "vtrain-single (held-out)": 8.3,
    "vtrain-single": 8.3,
    "vtrain-multi": 23.0,
}


def test_errors_stay_within_the_reached_levels():
    results = {r.name: r for r in run_all()}
    for name, limit in LIMITS_PERCENT.items():
        assert results[name].mean_absolute_percentage_error <= limit, (name, results[name].mean_absolute_percentage_error)
        assert np.all(np.isfinite(results[name].predicted_seconds))


def test_held_out_rows_do_not_overlap_the_fit_rows():
    results = {r.name: r for r in run_all()}
    assert len(results["vtrain-single (held-out)"].labels) == 720
    assert len(results["vtrain-single (fit)"].labels) == 720
    assert len(results["vtrain-multi"].labels) == 109
