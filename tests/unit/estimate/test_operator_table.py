"""Step times from a workload profile's operator table (issue 13 item 2): exact rows are used as
measured, near shapes are interpolated in log-shape space, others fall back to the hardware
model, and the coverage says how many of each and their share of the step."""

from __future__ import annotations

import math

import pytest

from flopwatt.bench.workload_suite import WorkloadShape, enumerate_operators
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.measured_profile import OperatorTiming, read_profile
from flopwatt.estimate.operator_table import (
    MAX_LOG_DISTANCE,
    OperatorTable,
    decode_operator_step,
    training_operator_step,
)
from tests.profile_documents import minimal_profile

ARCH = ModelArchitecture(
    layer_count=3,
    hidden_size=128,
    attention_head_count=4,
    kv_head_count=2,
    ffn_hidden_size=352,
    vocab_size=1000,
    head_dim=32,
    dropout=False,
)
SHAPE = WorkloadShape(
    layer_count=3,
    hidden_size=128,
    attention_head_count=4,
    kv_head_count=2,
    ffn_hidden_size=352,
    vocab_size=1000,
    head_dim=32,
    sequence_length=64,
    micro_batch_size=2,
    precision="fp32",
    decode_batch_sizes=(4,),
    context_lengths=(256,),
)
FALLBACK_SECONDS = 1.0  # a fallback sticks out: every measured row below is far smaller


def _row(kind, pass_name, shape, seconds, dtype="fp32"):
    return OperatorTiming(kind, pass_name, dtype, tuple(sorted((k, float(v)) for k, v in shape.items())), seconds)


def _synthetic_table():
    """Every operator the workload suite enumerates for SHAPE, timed 1 µs per 10^6 units of work
    (a rate the interpolation must reproduce), so sums are known exactly."""
    rows = []
    for case in enumerate_operators(SHAPE, "cpu")[0]:
        rows.append(_row(case.kind, case.pass_name, case.shape, _seconds(case.kind, case.shape), case.dtype))
    return rows


def _seconds(kind, shape):
    from flopwatt.estimate.operator_table import _work

    return _work(kind, {k: float(v) for k, v in shape.items()}) * 1e-12


def _fallback(kind, pass_name, shape):
    return FALLBACK_SECONDS


def test_every_operator_of_the_suites_own_workload_is_found_measured():
    table = OperatorTable(_synthetic_table())
    step = training_operator_step(ARCH, 64, 2, 5, 1, "fp32", table, _fallback)
    assert step.counts["fallback"] == 0 and step.counts["interpolated"] == 0 and step.counts["measured"] > 20
    assert step.seconds < FALLBACK_SECONDS and step.shares["measured"] == pytest.approx(1.0)
    decode = decode_operator_step(ARCH, 4, 256, 1, "fp32", table, _fallback)
    assert decode.counts == {"measured": decode.counts["measured"], "interpolated": 0, "fallback": 0}


def test_micro_batches_and_layers_scale_the_step_and_the_optimizer_is_once_per_step():
    table = OperatorTable(_synthetic_table())
    one = training_operator_step(ARCH, 64, 2, 1, 1, "fp32", table, _fallback)
    four = training_operator_step(ARCH, 64, 2, 4, 1, "fp32", table, _fallback)
    layer_parameters = 128 * 256 + 128 * 128 + 704 * 128 + 128 * 352 + 2 * 128
    params = 3 * layer_parameters + 2 * 1000 * 128 + 128
    adamw = _seconds("adamw", {"parameters": layer_parameters, "tensors": 6}) * params / layer_parameters
    assert four.seconds - adamw == pytest.approx(4 * (one.seconds - adamw))


def test_a_near_shape_is_interpolated_at_the_neighbours_rate_and_a_far_one_falls_back():
    rows = [
        _row("gemm", "forward", {"m": 128, "n": 256, "k": 128}, 2e-5),
        _row("gemm", "forward", {"m": 256, "n": 256, "k": 128}, 4e-5),
    ]
    table = OperatorTable(rows)
    exact = table.lookup("gemm", "backward_weight", "fp32", {"m": 128, "n": 256, "k": 128})
    assert exact.source == "measured" and exact.seconds == 2e-5  # a GEMM is a GEMM whatever its pass
    near = table.lookup("gemm", "forward", "fp32", {"m": 192, "n": 256, "k": 128})
    assert near.source == "interpolated"
    rate = 128 * 256 * 128 / 2e-5  # both rows run at the same rate
    assert near.seconds == pytest.approx(192 * 256 * 128 / rate)
    # 8x from the nearest row is the radius: 7x interpolates, 16x falls back
    assert math.log(16 * 256 / 256) > MAX_LOG_DISTANCE > math.log(7 * 256 / 256)
    assert table.lookup("gemm", "forward", "fp32", {"m": 7 * 256, "n": 256, "k": 128}).source == "interpolated"
    assert table.lookup("gemm", "forward", "fp32", {"m": 256 * 16, "n": 256, "k": 128}) is None
    assert table.lookup("gemm", "forward", "bf16", {"m": 128, "n": 256, "k": 128}) is None  # another dtype
    assert table.lookup("rmsnorm", "forward", "fp32", {"tokens": 128, "hidden": 128}) is None


def test_coverage_counts_and_shares_add_up():
    rows = [r for r in _synthetic_table() if r.kind != "swiglu"]  # swiglu falls back
    step = training_operator_step(ARCH, 64, 2, 1, 1, "fp32", OperatorTable(rows), _fallback)
    assert step.counts["fallback"] == 2  # forward and backward
    assert sum(step.shares.values()) == pytest.approx(1.0)
    assert step.shares["fallback"] == pytest.approx(2 * 3 * FALLBACK_SECONDS / step.seconds)
    report = step.plus(0.5).as_dict()
    assert report["operators_fallback"] == 2 and report["analytic_seconds"] == 0.5


def test_unsupported_architectures_keep_the_analytic_path():
    moe = ModelArchitecture(8, 128, 4, 4, 256, 1000, expert_count=8, experts_per_token=2)
    assert training_operator_step(moe, 64, 1, 1, 1, "fp32", OperatorTable([]), _fallback) is None


def test_the_profile_reader_keeps_verified_operator_rows_only():
    document = {
        **minimal_profile(),
        "schema_version": 2,
        "operators": [
            {
                "kind": "gemm",
                "pass": "forward",
                "dtype": "fp32",
                "shape": {"m": 2, "n": 2, "k": 2},
                "seconds": {"median": 1e-6},
                "verified": True,
            },
            {
                "kind": "gemm",
                "pass": "forward",
                "dtype": "fp32",
                "shape": {"m": 4, "n": 2, "k": 2},
                "seconds": {"median": 1e-6},
                "verified": False,
            },
            {
                "kind": "all_reduce",
                "pass": "forward",
                "dtype": "fp32",
                "shape": {"bytes": 64, "group_size": 2},
                "seconds": {"mean": 1e-5},
                "verified": True,
            },
        ],
    }
    operators = read_profile(document).operators
    assert [(o.kind, o.seconds, o.group_size) for o in operators] == [("gemm", 1e-6, 1), ("all_reduce", 1e-5, 2)]
    assert operators[1].dimensions == {"bytes": 64.0}
    assert read_profile(minimal_profile()).operators == ()


def test_the_per_kind_split_survives_scaling_and_added_terms():
    """Scaling by the layer count or micro-batches and adding analytic seconds keep the per-kind
    split (the training breakdown's GEMM/attention/elementwise terms and the closed-loop chart
    read it): it adds up to the operator seconds."""
    table = OperatorTable(_synthetic_table())
    step = training_operator_step(ARCH, 64, 2, 3, 1, "fp32", table, _fallback)
    assert sum(step.seconds_by_kind.values()) == pytest.approx(step.seconds)
    assert step.kind_seconds("gemm") > 0 and step.kind_seconds("attention") > 0
    assert step.plus(0.25).seconds_by_kind == step.seconds_by_kind
    decode = decode_operator_step(ARCH, 4, 256, 1, "fp32", table, _fallback)
    assert sum(decode.seconds_by_kind.values()) == pytest.approx(decode.seconds)


def test_the_optimizer_comes_from_the_whole_model_row_when_the_table_has_it():
    """The suite's AdamW row over all parameters is used as measured; the one-layer row scaled
    by the parameter count only without it."""
    rows = _synthetic_table()
    layer = next(r for r in rows if r.kind == "adamw" and dict(r.shape)["tensors"] == 6)
    whole = next(r for r in rows if r.kind == "adamw" and dict(r.shape)["tensors"] != 6)
    slow = [r if r is not whole else _row("adamw", "step", whole.dimensions, 7.0) for r in rows]
    step = training_operator_step(ARCH, 64, 2, 1, 1, "fp32", OperatorTable(slow), _fallback)
    assert step.kind_seconds("adamw") == 7.0 and step.counts["fallback"] == 0
    without = training_operator_step(
        ARCH, 64, 2, 1, 1, "fp32", OperatorTable([r for r in rows if r is not whole]), _fallback
    )
    params = dict(whole.shape)["parameters"]
    assert without.kind_seconds("adamw") == pytest.approx(layer.seconds * params / dict(layer.shape)["parameters"])


def test_the_decode_step_writes_the_kv_cache_per_layer_and_looks_up_the_embedding_once():
    """A decode step writes each layer's new keys and values into the cache and looks up the new
    tokens' embeddings; a greedy loop also takes the argmax of the logits (the real closed-loop
    step runs all three: bench/closed_loop_model.py). Each at the shape the loop runs."""
    table = OperatorTable(_synthetic_table())
    plain = decode_operator_step(ARCH, 4, 256, 1, "fp32", table, _fallback)
    greedy = decode_operator_step(ARCH, 4, 256, 1, "fp32", table, _fallback, greedy_sampling=True)
    write = {"batch": 4, "kv_heads": 2, "context": 256, "head_dim": 32}
    assert plain.seconds_by_kind["kv_cache_write"] == pytest.approx(
        ARCH.layer_count * _seconds("kv_cache_write", write)
    )
    assert plain.seconds_by_kind["embedding"] == pytest.approx(_seconds("embedding", {"tokens": 4, "hidden": 128}))
    assert "argmax" not in plain.seconds_by_kind  # a serving engine's sampler is the analytic term
    argmax = _seconds("argmax", {"batch": 4, "vocab": 1000})
    assert greedy.seconds_by_kind["argmax"] == pytest.approx(argmax)
    assert greedy.seconds == pytest.approx(plain.seconds + argmax)
    assert greedy.counts["fallback"] == 0


def test_a_kv_cache_write_scales_with_the_new_position_not_the_context():
    """Writing one position costs the same whatever the cache holds: interpolating between
    contexts keeps the time (the context only places the write)."""
    rows = [_row("kv_cache_write", "forward", {"batch": 4, "kv_heads": 2, "context": 256, "head_dim": 32}, 1e-5)]
    found = OperatorTable(rows).lookup(
        "kv_cache_write", "forward", "fp32", {"batch": 4, "kv_heads": 2, "context": 1024, "head_dim": 32}
    )
    assert found.source == "interpolated" and found.seconds == pytest.approx(1e-5)


def test_the_training_step_counts_the_embedding_once_per_micro_batch_and_four_adds_per_layer():
    """Beside the layers, a micro-batch looks up the embedding and its backward writes the
    table's dense gradient (the rank's vocabulary × hidden, whatever the tokens); each layer has
    two residual adds forward and the two gradient sums they cause in the backward."""
    table = OperatorTable(_synthetic_table())
    two = training_operator_step(ARCH, 64, 2, 2, 1, "fp32", table, _fallback)
    forward = _seconds("embedding", {"tokens": 128, "hidden": 128})
    backward = _seconds("embedding", {"tokens": 128, "hidden": 128, "vocab": 1000})
    assert two.seconds_by_kind["embedding"] == pytest.approx(2 * (forward + backward))
    add = _seconds("residual_add", {"tokens": 128, "hidden": 128})
    assert two.seconds_by_kind["residual_add"] == pytest.approx(2 * 3 * 4 * add)


def test_the_embedding_backward_falls_back_to_the_tables_gradient_bytes():
    from flopwatt.estimate.catalog import get_hardware
    from flopwatt.estimate.hardware import datasheet_hardware_model
    from flopwatt.estimate.operator_table import hardware_fallback

    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    seconds = hardware_fallback(hw, 2.0)
    rows = 2.0 * 512 * 4096 * 2
    table_gradient = 128256 * 4096 * 2
    backward = seconds("embedding", "backward", {"tokens": 512, "hidden": 4096, "vocab": 128256})
    assert backward == pytest.approx(float(hw.memory_seconds(rows + table_gradient)))
    assert seconds("embedding", "forward", {"tokens": 512, "hidden": 4096}) == pytest.approx(
        float(hw.memory_seconds(rows))
    )
