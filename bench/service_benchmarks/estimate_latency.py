"""Measures in-process estimate latency (DESIGN §7: ≤ 1 ms for a fixed plan; ≤ 50 ms planned).

Run:  python bench/service_benchmarks/estimate_latency.py [--repeats 200]
Times the full API functions (validation, conversion, model, response) with perf_counter and
prints median/p90/p99 in milliseconds, plus the vectorised core's scenarios per second.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.inference import estimate_inference
from flopwatt.service.api.training import compute_training_estimate as estimate_training  # the work, not the cache
from flopwatt.v1 import common_pb2, estimator_pb2


def _requests():
    planned = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-405b"),
        training_tokens=15_600_000_000_000,
        sequence_length=8192,
        hardware_id="h100-sxm",
        accelerator_count=16384,
        parallelism=common_pb2.Parallelism(global_batch_size=2048),
    )
    fixed = estimator_pb2.EstimateTrainingRequest()
    fixed.CopyFrom(planned)
    fixed.parallelism.CopyFrom(
        common_pb2.Parallelism(
            tensor_parallel_size=8,
            pipeline_parallel_size=16,
            data_parallel_size=128,
            expert_parallel_size=1,
            pipeline_interleaving=4,
            micro_batch_size=1,
            global_batch_size=2048,
            zero_stage=1,
            # Meta's published plan with a quarter of each stage's layers recomputed: the plan the
            # whole-run check fits in memory (with no recompute it needs 136 GiB of 76 usable)
            activation_recompute=common_pb2.ACTIVATION_RECOMPUTE_FULL,
            activation_recompute_layer_fraction=0.25,
            sequence_parallel=True,
        )
    )
    inference = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        accelerator_count=8,
        input_tokens=1024,
        output_tokens=512,
    )
    inference_fixed = estimator_pb2.EstimateInferenceRequest()
    inference_fixed.CopyFrom(inference)
    inference_fixed.batch_size = 64
    free_batch = estimator_pb2.EstimateTrainingRequest()
    free_batch.CopyFrom(planned)
    free_batch.ClearField("parallelism")  # the planner also chooses the global batch
    return {
        "training, fixed plan": (estimate_training, fixed),
        "training, planner": (estimate_training, planned),
        "training, planner + batch": (estimate_training, free_batch),
        "inference, fixed batch": (estimate_inference, inference_fixed),
        "inference, batch search": (estimate_inference, inference),
    }


def _time(function, request, repeats: int) -> list[float]:
    deps = ApiDependencies()
    function(request, deps)  # warm-up (imports, catalog load)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(request, deps)
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def _vectorised_throughput() -> float:
    from flopwatt.estimate.catalog import get_hardware, get_model_preset
    from flopwatt.estimate.constants import DEFAULT_PUE
    from flopwatt.estimate.hardware import datasheet_hardware_model
    from flopwatt.estimate.parallel_plan import ParallelPlan
    from flopwatt.estimate.run_cost import FacilityInputs
    from flopwatt.estimate.training import TrainingScenario, estimate_training_run

    count = 100_000
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    dp = np.random.default_rng(0).choice([16, 32, 64, 128, 256], count)
    plan = ParallelPlan(8, 16, dp, 1, 1, 1, dp * 16, 1, 0, True)
    facility = FacilityInputs(DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0, capex_usd_per_accelerator=45000.0)
    scenario = TrainingScenario(
        get_model_preset("llama-3.1-405b").architecture, np.full(count, 15.6e12), 8192, hw, plan, facility
    )
    start = time.perf_counter()
    estimate_training_run(scenario)
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"{'case':<26} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8}")
    for name, (function, request) in _requests().items():
        samples = sorted(_time(function, request, args.repeats))
        p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
        print(f"{name:<26} {statistics.median(samples):>10.3f} {p(0.9):>8.3f} {p(0.99):>8.3f}")
    print(f"vectorised core: {_vectorised_throughput():,.0f} training scenarios per second (fixed plans, one call)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
