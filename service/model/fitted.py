"""Constants fitted to validation data (written by `python -m flopwatt.service.model.fit --write`).

Fitted on the vTrain single-node rows whose index is even (720 rows, `validation.fit_mask`);
everything else (odd single-node rows, all multi-node rows, the Selene table) is held out and
reported by `flopwatt validate`. Objective: mean |log(predicted/measured)|, Nelder-Mead.
"""

# Sustained large-GEMM rate as a fraction of the datasheet dense peak (ratio).
GEMM_MAX_FRACTION_OF_PEAK = 0.8457
# GEMM efficiency per dimension x is x / (x + this) (elements).
GEMM_HALF_EFFICIENCY_DIMENSION = 346.94
# Host (CPU) time per kernel launched by an eager PyTorch framework (seconds).
HOST_SECONDS_PER_KERNEL = 4.913e-05
# Fixed host work per optimizer step (seconds).
STEP_OVERHEAD_SECONDS = 0.0015
FIT_PROVENANCE = "fitted 2026-11-23 by service/model/fit.py on vTrain single-node even rows (720); megatron-selene MAPE 11.30 %, vtrain-single (held-out) MAPE 7.79 %, vtrain-single (fit) MAPE 7.72 %, vtrain-single MAPE 7.76 %, vtrain-multi MAPE 21.78 %"
