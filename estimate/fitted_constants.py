"""Constants fitted to validation data (written by `python -m flopwatt.estimate.validation.fit_constants --write`).

Fitted on the vTrain single-node rows whose index is even (720 rows, `validation.fit_mask`);
everything else (odd single-node rows, all multi-node rows, the Selene table) is held out and
reported by `flopwatt validate`. Objective: mean |log(predicted/measured)|, Nelder-Mead.
The vTrain rows are evaluated as measured: full activation recomputation, DP all-reduce not
overlapped, 12.5 GB/s/GPU scale-out (validation.VTRAIN). The large-GEMM ceiling is not fitted: it
is the published mamf-finder rate (constants.GEMM_MAX_FRACTION_OF_PEAK_BY_HARDWARE).
"""

# GEMM efficiency per dimension x is x / (x + this) (elements).
GEMM_HALF_EFFICIENCY_DIMENSION = 199.48
# Host (CPU) time per kernel launched by an eager PyTorch framework (seconds).
HOST_SECONDS_PER_KERNEL = 3.711e-05
# Fixed host work per optimizer step (seconds).
STEP_OVERHEAD_SECONDS = 0.0014
FIT_PROVENANCE = "fitted 2026-11-23 by service/model/fit.py on vTrain single-node even rows (720); megatron-selene MAPE 2.63 %, vtrain-single (held-out) MAPE 7.84 %, vtrain-single (fit) MAPE 7.89 %, vtrain-single MAPE 7.86 %, vtrain-multi MAPE 7.53 %"
