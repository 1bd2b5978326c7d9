"""The workload suite (issue 13 item 1): operator enumeration at sharded shapes, deduplication,
the operator table in a schema-2 profile (validated, stored, exported, read by the estimator),
progress naming the operator, cancellation and the workload's own validation."""

from __future__ import annotations

import json

import pytest

from flopwatt.bench.errors import BenchmarkCancelled, ProfileFormatError
from flopwatt.bench.profile import SCHEMA_VERSION, bundle, parse_profile_file, validate_profile
from flopwatt.bench.store import ProfileStore
from flopwatt.bench.suites import run_suite
from flopwatt.bench.workload_suite import (
    WorkloadShape,
    WorkloadSpecError,
    collective_cases,
    enumerate_operators,
    layer_parameter_shapes,
)
from flopwatt.estimate.measured_profile import read_profile
from flopwatt.kernels.decode_operators import DATA_MOVEMENT_KINDS
from tests.conftest import WORKLOAD_OPERATOR_KINDS
from tests.profile_documents import minimal_profile

# h = t = 128 so attention out's forward and both backward GEMMs are one shape (deduplicated)
TINY = dict(
    layer_count=2,
    hidden_size=128,
    attention_head_count=4,
    kv_head_count=2,
    ffn_hidden_size=352,
    vocab_size=1000,
    sequence_length=128,
    precision="fp32",
    decode_batch_sizes=(1, 4, 4),
    context_lengths=(64,),
)
OPERATOR_KEYS = {"kind", "pass", "phase", "uses", "shape", "dtype", "backend", "flops", "bytes", "seconds", "verified"}


def _gemms(cases, phase="training"):
    return {use: case.shape for case in cases if case.kind == "gemm" for use in case.uses if use.startswith(phase)}


def test_gemms_are_enumerated_at_their_tensor_parallel_shapes_with_both_backward_gemms():
    shape = WorkloadShape(**{**TINY, "tensor_parallel_size": 2})
    cases, notes = enumerate_operators(shape, "cpu")
    gemms = _gemms(cases)
    t, h, d = 128, 128, 32
    heads, kv, ffn, vocab = 2, 1, 176, 500  # per TP rank
    assert gemms["training.qkv.forward"] == {"m": t, "n": (heads + 2 * kv) * d, "k": h}
    assert gemms["training.qkv.backward_input"] == {"m": t, "n": h, "k": (heads + 2 * kv) * d}
    assert gemms["training.qkv.backward_weight"] == {"m": (heads + 2 * kv) * d, "n": h, "k": t}
    assert gemms["training.attention_out.forward"] == {"m": t, "n": h, "k": heads * d}
    assert gemms["training.mlp_gate_up.forward"] == {"m": t, "n": 2 * ffn, "k": h}
    assert gemms["training.mlp_down.forward"] == {"m": t, "n": h, "k": ffn}
    assert gemms["training.lm_head.forward"] == {"m": t, "n": vocab, "k": h}
    decode = [c.shape for c in cases if c.kind == "gemm" and any(u.startswith("decode.") for u in c.uses)]
    assert {g["m"] for g in decode} == {1, 4} and len(decode) == 2 * 5  # 5 projections at 2 batch sizes
    attention = [c for c in cases if c.kind == "attention"]
    assert {c.pass_name for c in attention} == {"forward", "backward"}
    assert all(c.shape == {"batch": 1, "heads": heads, "sequence_length": 128, "head_dim": d} for c in attention)
    kinds = {c.kind for c in cases}
    assert kinds == set(WORKLOAD_OPERATOR_KINDS)
    assert notes == []


def test_shapes_are_deduplicated_and_every_use_is_kept():
    cases, _ = enumerate_operators(WorkloadShape(**TINY), "cpu")
    keys = [case.key for case in cases]
    assert len(keys) == len(set(keys))
    square = [c for c in cases if c.kind == "gemm" and c.shape == {"m": 128, "n": 128, "k": 128}]
    assert len(square) == 1
    assert set(square[0].uses) >= {
        "training.attention_out.forward",
        "training.attention_out.backward_input",
        "training.attention_out.backward_weight",
    }
    # decode batch 4 listed twice: measured once
    kv_reads = [c for c in cases if c.kind == "kv_cache_read"]
    assert sorted(c.shape["batch"] for c in kv_reads) == [1, 4]


def test_the_optimizer_step_covers_one_layers_sharded_parameters():
    shape = WorkloadShape(**{**TINY, "tensor_parallel_size": 2})
    (adamw,) = [c for c in enumerate_operators(shape, "cpu")[0] if "training.optimizer.layer" in c.uses]
    expected = 128 * 128 + 128 * 64 + 352 * 128 + 128 * 176 + 2 * 128
    assert (
        adamw.shape["parameters"] == expected == sum(a * (b[0] if b else 1) for a, *b in layer_parameter_shapes(shape))
    )


def test_fp8_gemms_are_skipped_with_a_note_without_a_capable_gpu():
    cases, notes = enumerate_operators(WorkloadShape(**{**TINY, "precision": "fp8"}), "cpu")
    assert not [c for c in cases if c.kind == "gemm"]
    assert any("fp8" in note for note in notes)
    assert {c.dtype for c in cases if c.kind != "adamw"} == {"bf16"}


def test_collectives_follow_the_plans_group_sizes():
    assert collective_cases(WorkloadShape(**TINY)) == []
    cases = collective_cases(WorkloadShape(**{**TINY, "tensor_parallel_size": 2, "data_parallel_size": 4}))
    tp = [c for c in cases if c.group == "tensor_parallel"]
    dp = [c for c in cases if c.group == "data_parallel"]
    assert {c.group_size for c in tp} == {2} and {c.group_size for c in dp} == {4}
    assert {c.collective for c in dp} == {"all_reduce", "reduce_scatter", "all_gather"}
    assert 128 * 128 * 4 in {c.size_bytes for c in tp}  # one micro-batch's fp32 activations


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tensor_parallel_size": 3}, "tensor_parallel_size"),
        ({"precision": "int4"}, "precision"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"kv_head_count": 3}, "model.kv_head_count"),
        ({"decode_batch_sizes": (1, -2)}, "decode_batch_sizes[1]"),
        ({"decode_batch_sizes": (), "context_lengths": (8,)}, "decode_batch_sizes"),
        ({"sequence_length": 0, "decode_batch_sizes": (), "context_lengths": ()}, "sequence_length"),
        ({"micro_batch_size": True}, "micro_batch_size"),
    ],
)
def test_a_bad_workload_names_its_field(change, field):
    with pytest.raises(WorkloadSpecError) as raised:
        WorkloadShape(**{**TINY, **change})
    assert raised.value.field == field


@pytest.mark.slow
def test_the_cpu_workload_suite_writes_a_schema_2_operator_table(tmp_path):
    messages: list[tuple[float, str]] = []
    document = run_suite("workload", "cpu", workload=dict(TINY), progress=lambda f, m: messages.append((f, m)))
    assert document["schema_version"] == SCHEMA_VERSION == 2 and document["suite"] == "workload"
    validate_profile(document)
    assert document["workload"]["hidden_size"] == 128 and document["topology"]["nodes"] == 1
    operators = document["operators"]
    cases, _ = enumerate_operators(WorkloadShape(**TINY), "cpu")
    assert len(operators) == len(cases)  # every distinct operator measured once, nothing skipped here
    for row in operators:
        assert OPERATOR_KEYS <= set(row), row
        assert row["verified"] and row["seconds"]["median"] > 0 and row["seconds"]["n"] >= 3
        assert row["seconds"]["p10"] <= row["seconds"]["median"] <= row["seconds"]["p90"]
        assert (row["flops"] > 0 or row["kind"] in DATA_MOVEMENT_KINDS) and row["bytes"] > 0
        raw = document["results"][row["result_index"]]
        assert raw["kernel"] == row["kind"] and raw["shape"] == row["shape"]
    attention = [row for row in operators if row["kind"] == "attention"]
    assert attention and all(row["backend"].startswith("sdpa:") for row in attention)
    assert {row["backend"] for row in operators if row["kind"] == "gemm"} == {"torch.mm"}
    # the progress stream names the operator being measured, in order, ending at 1.0
    measuring = [m for _, m in messages if m.startswith("measuring ")]
    assert len(measuring) == len(operators) and any("gemm" in m for m in measuring)
    assert any("kv_cache_read" in m for m in measuring)
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # stored, exported as a bundle and imported again unchanged; the estimator reads version 2
    store = ProfileStore(tmp_path / "db.sqlite3")
    profile_id = store.save(document)
    assert store.get(profile_id)["operators"] == operators
    again = parse_profile_file(json.dumps(bundle([store.get(profile_id), minimal_profile()])), "bundle.json")
    assert [d["schema_version"] for d in again] == [2, 1]
    assert ProfileStore(tmp_path / "other.sqlite3").save_many(again)[0] == profile_id
    assert read_profile(document).schema_version == 2


def test_the_workload_suite_stops_when_cancelled():
    calls = {"n": 0}

    def should_cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 20

    with pytest.raises(BenchmarkCancelled):
        run_suite("workload", "cpu", workload=dict(TINY), should_cancel=should_cancel)


def test_run_suite_refuses_a_workload_for_other_suites_and_none_for_workload():
    with pytest.raises(WorkloadSpecError) as raised:
        run_suite("workload", "cpu")
    assert raised.value.field == "workload"
    with pytest.raises(ValueError, match="workload"):
        run_suite("quick", "cpu", workload=dict(TINY))


def _operator_row(**change) -> dict:
    row = {
        "kind": "gemm",
        "pass": "forward",
        "shape": {"m": 2, "n": 2, "k": 2},
        "dtype": "fp32",
        "backend": "torch.mm",
        "flops": 16.0,
        "bytes": 48.0,
        "seconds": {"median": 1e-6, "p10": 1e-6, "p90": 2e-6, "n": 3},
        "verified": True,
    }
    row.update(change)
    return row


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": ""}, "operators[0].kind"),
        ({"shape": {"m": -1}}, "operators[0].shape.m"),
        ({"seconds": {"p50": 1.0}}, "operators[0].seconds"),
        ({"seconds": {"median": float("nan")}}, "operators[0].seconds.median"),
        ({"flops": -1}, "operators[0].flops"),
        ({"verified": "yes"}, "operators[0].verified"),
    ],
)
def test_profile_validation_names_a_bad_operator_field(change, field):
    document = {**minimal_profile(), "schema_version": 2, "operators": [_operator_row(**change)]}
    with pytest.raises(ProfileFormatError) as raised:
        validate_profile(document)
    assert raised.value.field == field


def test_schema_1_profiles_are_still_read_but_cannot_carry_an_operator_table():
    document = minimal_profile()
    assert document["schema_version"] == 1
    validate_profile(document)
    assert read_profile(document).schema_version == 1
    with pytest.raises(ProfileFormatError) as raised:
        validate_profile({**document, "operators": [_operator_row()]})
    assert raised.value.field == "operators"
    with pytest.raises(ProfileFormatError):
        validate_profile({**document, "schema_version": 3})


@pytest.mark.parametrize("tied", [False, True])
def test_the_optimizer_step_is_also_measured_over_all_of_the_ranks_parameters(tied):
    """One layer's AdamW row scaled by the parameter count undercounts the real step (a layer's
    state partly stays in the cache; the model's does not): the suite also times AdamW over
    every parameter of the rank, as many tensors as the model has."""
    shape = WorkloadShape(**{**TINY, "tensor_parallel_size": 2, "tied_embeddings": tied})
    rows = {c.uses[0]: c for c in enumerate_operators(shape, "cpu")[0] if c.kind == "adamw"}
    assert set(rows) == {"training.optimizer.layer", "training.optimizer.model"}
    layer = 128 * 128 + 128 * 64 + 352 * 128 + 128 * 176 + 2 * 128
    embeddings = (1 if tied else 2) * 500 * 128
    assert rows["training.optimizer.model"].shape == {
        "parameters": 2 * layer + embeddings + 128,
        "tensors": 2 * 6 + (1 if tied else 2) + 1,
    }


def test_the_closed_loop_models_optimizer_row_counts_its_parameters():
    from flopwatt.bench.closed_loop import ClosedLoopModel, build_model
    from flopwatt.service.cli.validate_local import workload_shape

    config = ClosedLoopModel(layer_count=2, hidden_size=64, attention_head_count=4, ffn_hidden_size=128, vocab_size=256)
    model = build_model(config)
    shape = WorkloadShape.from_dict(workload_shape(config))
    (row,) = [c for c in enumerate_operators(shape, "cpu")[0] if "training.optimizer.model" in c.uses]
    assert row.shape == {
        "parameters": sum(p.numel() for p in model.parameters()),
        "tensors": len(list(model.parameters())),
    }


def test_adamw_runs_the_implementation_torch_picks_for_the_device():
    """A training loop that does not choose gets torch's default: the for-loop AdamW on the CPU
    (foreach is the CUDA default); the suite times that one, not foreach everywhere."""
    import torch

    from flopwatt.kernels.operators import build_adamw

    workload = build_adamw([(64, 32), (32,)], "cpu")
    assert workload.extra["backend"] == "torch.optim.AdamW(for-loop)"
    workload.verify()
    forced = build_adamw([(64, 32), (32,)], "cpu", foreach=True)
    assert forced.extra["backend"] == "torch.optim.AdamW(foreach)"
    assert not torch.optim.AdamW([torch.zeros(2, requires_grad=True)]).defaults["foreach"]


def test_decode_gemms_and_kv_reads_are_timed_cold_when_the_weights_exceed_the_cache():
    """A decode step reads every layer's weights once: when they exceed the last-level cache,
    back-to-back calls on one buffer (weights in the cache) would time the wrong memory."""
    from flopwatt.bench.workload_suite import decode_weight_bytes, times_cold

    shape = WorkloadShape(**TINY)
    weights = decode_weight_bytes(shape)
    layer = 128 * 256 + 128 * 128 + 704 * 128 + 128 * 352
    assert weights == (2 * layer + 1000 * 128) * 4
    cases = enumerate_operators(shape, "cpu")[0]
    cold = {(c.phase, c.kind) for c in cases if times_cold(c, shape, weights - 1)}
    assert cold == {("decode", "gemm")}  # the weights exceed the cache, the KV cache does not
    assert not any(times_cold(c, shape, weights) for c in cases)  # all of it fits: warm
    # the KV cache of every layer at the largest batch (4) and the context (64): 2 x 2 x 4 x 2 x 64 x 32 x 4
    kv = 2 * 2 * 4 * 2 * 64 * 32 * 4
    cold_reads = [c.shape["batch"] for c in cases if c.kind == "kv_cache_read" and times_cold(c, shape, kv - 1)]
    assert cold_reads == [4]  # batch 1's cache fits


def test_cold_rows_rotate_over_copies_holding_what_the_step_reads_and_say_so(monkeypatch):
    """A cold decode GEMM reads a weight last used a whole step's weights ago (a KV read: a whole
    step's KV cache ago): each timed call runs on the next of as many copies as hold that, never
    after a cache flush (whose dirty lines the step does not leave)."""
    from flopwatt.bench import harness, workload_suite

    monkeypatch.setattr(workload_suite, "last_level_cache_bytes", lambda device: 1)
    flushes: list[int] = []
    real = harness.Harness._before_call

    def counting(self, workload, plan):
        if plan.flush_cache:
            flushes.append(1)
        return real(self, workload, plan)

    monkeypatch.setattr(harness.Harness, "_before_call", counting)
    small = {**TINY, "decode_batch_sizes": (4,), "sequence_length": 16}
    document = run_suite("workload", "cpu", workload=small)
    caches = {(row["phase"], row["kind"], row["cache"]) for row in document["operators"] if "cache" in row}
    assert ("decode", "gemm", "cold") in caches and ("decode", "kv_cache_read", "cold") in caches
    assert ("training", "gemm", "warm") in caches and ("decode", "rmsnorm", "streamed") in caches
    weights = workload_suite.decode_weight_bytes(WorkloadShape(**small))
    for row in document["operators"]:
        if row["phase"] == "decode" and row["kind"] == "gemm":
            assert row["copies"] == -(-weights // (row["shape"]["n"] * row["shape"]["k"] * 4)), row
        if row["kind"] == "kv_cache_read":
            assert row["copies"] == TINY["layer_count"]  # one layer's cache per copy, every layer's in all
    assert flushes == []


def test_a_rotating_workload_runs_each_call_on_the_next_copy():
    from flopwatt.bench.workload_suite import _rotating
    from flopwatt.kernels.workload import Workload

    ran: list[int] = []
    built = iter(range(3))

    def build() -> Workload:
        index = next(built)
        return Workload("k", "fp32", {}, 0.0, 1.0, "cpu", lambda: ran.append(index), lambda: None, 8)

    workload = _rotating(build, 3)
    for _ in range(4):
        workload.prepare()
        workload.run()
    assert ran == [1, 2, 0, 1] and workload.working_set_bytes == 24


def test_ddp_reduces_every_gradient_so_the_suite_measures_that_all_reduce():
    shape = WorkloadShape(**{**TINY, "data_parallel_size": 2})
    (whole,) = [c for c in collective_cases(shape) if c.use == "training.dp_all_reduce.model"]
    from flopwatt.bench.workload_suite import model_parameter_shapes

    assert whole.collective == "all_reduce" and whole.group_size == 2
    assert whole.size_bytes == 4 * sum(a * (b[0] if b else 1) for a, *b in model_parameter_shapes(shape))


def _row(kind, shape, medians, index=0, phase="training"):
    return {
        "kind": kind,
        "pass": "forward",
        "phase": phase,
        "dtype": "fp32",
        "shape": shape,
        "uses": [f"{phase}.{kind}"],
        "seconds": {"median": medians, "min": medians / 2, "n": 3},
        "result_index": index,
        "verified": True,
    }


def test_rounds_merge_to_each_phases_median_round_with_its_own_samples():
    """Interleaved rounds (validate --local --repeats): each phase takes its rows from the round
    whose rows add up to the median time (median x uses; of two rounds the lesser), as the real
    steps keep their median whole-step round, not a mix of each operator's rounds; the rows keep
    that round's raw samples (the result index follows) and list every round's median."""
    from flopwatt.bench.workload_suite import median_of_rounds

    def document(gemm, norm, decode, samples):
        return {
            "suite": "workload",
            "operators": [
                _row("gemm", {"m": 2, "n": 2, "k": 2}, gemm, 0),
                _row("rmsnorm", {"t": 2}, norm, 1),
                _row("gemm", {"m": 1, "n": 2, "k": 2}, decode, 2, phase="decode"),
            ],
            "results": [{"samples_seconds": samples}] * 3,
            "duration_seconds": 1.0,
            "notes": ["a"],
        }

    # training: round 0 adds up to 4.0, round 1 to 6.0 (its GEMM alone is faster); decode: round 1
    merged = median_of_rounds([document(3.0, 1.0, 0.5, [3.0]), document(2.0, 4.0, 0.25, [2.0])])
    gemm, norm, decode = merged["operators"]
    assert merged["median_round_by_phase"] == {"training": 0, "decode": 1}
    assert gemm["seconds"]["median"] == 3.0 and norm["seconds"]["median"] == 1.0
    assert merged["results"][gemm["result_index"]]["samples_seconds"] == [3.0]
    assert decode["seconds"]["median"] == 0.25 and merged["results"][decode["result_index"]]["samples_seconds"] == [2.0]
    assert gemm["round_medians_seconds"] == [3.0, 2.0] and norm["round_medians_seconds"] == [1.0, 4.0]
    assert merged["rounds"] == 2 and merged["duration_seconds"] == 2.0 and merged["notes"] == ["a"]
    assert len(merged["results"]) == 6


def test_merged_rounds_derive_their_ceilings_from_every_rounds_results():
    """A stored profile's ceilings follow from its results (tests/unit/bench/test_committed_profiles):
    the merge kept round one's, which the H100 run of 2026-11-28 showed disagree with the results."""
    from flopwatt.bench.profile import derive_ceilings
    from flopwatt.bench.workload_suite import median_of_rounds

    def document(rate):
        result = {
            "kernel": "attention",
            "precision": "bf16",
            "verified": True,
            "shape": {"b": 1, "h": 1, "s": 2, "d": 2},
            "stats": {"median": 1.0},
            "flops_per_second": rate,
            "samples_seconds": [1.0],
        }
        return {"suite": "workload", "operators": [], "results": [result], "ceilings": derive_ceilings([result])}

    merged = median_of_rounds([document(1.0), document(3.0), document(2.0)])
    assert merged["ceilings"]["attention_flops_per_second"]["bf16"] == 3.0
    assert merged["ceilings"] == derive_ceilings(merged["results"])
    assert merged["efficiency"]["attention"]["bf16"][1]["flops_per_second"] == 3.0


def test_three_rounds_keep_the_median_round_not_an_outlier_of_either_side():
    """A fast or a slow outlier round (both seen on the idle CI VM) is dropped on both sides."""
    from flopwatt.bench.closed_loop import median_of_rounds as steps
    from flopwatt.bench.workload_suite import median_of_rounds as tables

    def document(gemm):
        return {"suite": "workload", "operators": [_row("gemm", {"m": 2, "n": 2, "k": 2}, gemm, 0)], "results": [{}]}

    merged = tables([document(5.0), document(2.0), document(3.0)])  # 2.0: a fast outlier
    assert merged["median_round_by_phase"] == {"training": 2} and merged["operators"][0]["seconds"]["median"] == 3.0
    decode = [{"decode_step": {"median_seconds": m, "samples_seconds": [m]}} for m in (0.0233, 0.0181, 0.0137)]
    assert steps(decode)["decode_step"]["median_seconds"] == 0.0181
    assert steps(decode)["decode_step"]["round_medians_seconds"] == [0.0233, 0.0181, 0.0137]


def test_closed_loop_rounds_merge_to_each_checks_median_round():
    from flopwatt.bench.closed_loop import median_of_rounds

    rounds = [
        {"training_step": {"median_seconds": 2.0, "samples_seconds": [2.0]}, "decode_step": {"median_seconds": 0.1}},
        {"training_step": {"median_seconds": 1.0, "samples_seconds": [1.0]}, "decode_step": {"median_seconds": 0.3}},
    ]
    merged = median_of_rounds(rounds)  # of two rounds, the lesser
    assert merged["training_step"]["median_seconds"] == 1.0 and merged["training_step"]["samples_seconds"] == [1.0]
    assert merged["training_step"]["round_medians_seconds"] == [2.0, 1.0]
    assert merged["decode_step"]["median_seconds"] == 0.1


def test_decode_enumerates_the_embedding_the_kv_cache_write_and_the_argmax_at_the_loops_shapes():
    """The decode step's operators around the GEMMs: the new tokens' embedding rows, each layer's
    new keys and values written into the cache (kv heads per TP rank, at every context), and the
    greedy sampler's argmax over the whole vocabulary (the logits are gathered over TP ranks)."""
    shape = WorkloadShape(**{**TINY, "tensor_parallel_size": 2})
    decode = {
        (c.kind, tuple(sorted(c.shape.items()))) for c in enumerate_operators(shape, "cpu")[0] if c.phase == "decode"
    }
    for batch in (1, 4):
        assert ("embedding", (("hidden", 128), ("tokens", batch))) in decode
        assert ("argmax", (("batch", batch), ("vocab", 1000))) in decode
        write = {"batch": batch, "kv_heads": 1, "context": 64, "head_dim": 32}
        assert ("kv_cache_write", tuple(sorted(write.items()))) in decode


def test_small_decode_operators_are_timed_right_after_a_weight_streaming_gemv():
    """A decode step runs its norms, adds, activations, embedding, KV-cache write and argmax
    between GEMVs streaming the step's weights: each is timed right after such a GEMV (the
    layer's gate/up projection at the operator's batch, over copies as large as the step's
    weights, capped at the flush size); GEMMs and KV reads keep their cold/warm rule."""
    from flopwatt.bench.workload_suite import decode_weight_bytes, preceding_gemm_shape, stream_bytes_before

    shape = WorkloadShape(**TINY)
    cases = [c for c in enumerate_operators(shape, "cpu")[0] if c.phase == "decode"]
    weights = decode_weight_bytes(shape)
    streamed = {c.kind for c in cases if stream_bytes_before(c, shape, 1 << 30) == weights}
    assert streamed == {"rmsnorm", "residual_add", "swiglu", "rotary", "embedding", "kv_cache_write", "argmax"}
    assert not any(stream_bytes_before(c, shape, 1 << 30) for c in cases if c.kind in ("gemm", "kv_cache_read"))
    assert {stream_bytes_before(c, shape, 1000) for c in cases if c.kind == "rmsnorm"} == {1000}
    gemvs = {preceding_gemm_shape(c, shape) for c in cases if c.kind in ("embedding", "argmax")}
    assert gemvs == {(1, 704, 128), (4, 704, 128)}  # the gate/up projection (2 x 352 wide) at each batch


def test_small_training_operators_are_timed_right_after_the_layers_gate_up_gemm():
    """A training step runs its norms, SwiGLU, rotary, residual adds, loss and embedding between
    its GEMMs, 2-4x slower there than back to back on the CPU (stream_bytes_before): each is timed
    after the layer's gate/up GEMM at the micro-batch's tokens over one copy of its weights;
    GEMMs, attention and the optimizer step run nothing first."""
    from flopwatt.bench.workload_suite import preceding_gemm_shape, stream_bytes_before

    shape = WorkloadShape(**{**TINY, "micro_batch_size": 2})
    cases = [c for c in enumerate_operators(shape, "cpu")[0] if c.phase == "training"]
    one_copy = 704 * 128 * 4
    after = {c.kind for c in cases if stream_bytes_before(c, shape, 1 << 30) == one_copy}
    assert after == {"rmsnorm", "swiglu", "rotary", "residual_add", "cross_entropy", "embedding"}
    assert not any(stream_bytes_before(c, shape, 1 << 30) for c in cases if c.kind in ("gemm", "attention", "adamw"))
    assert {preceding_gemm_shape(c, shape) for c in cases if c.kind != "gemm"} == {(256, 704, 128)}


def test_training_embedding_rows_carry_the_vocabulary_of_the_dense_gradient():
    shape = WorkloadShape(**{**TINY, "tensor_parallel_size": 2})
    rows = {
        c.pass_name: c for c in enumerate_operators(shape, "cpu")[0] if c.kind == "embedding" and c.phase == "training"
    }
    assert rows["forward"].shape == {"tokens": 128, "hidden": 128}
    assert rows["backward"].shape == {"tokens": 128, "hidden": 128, "vocab": 500}  # the rank's vocabulary shard
    assert rows["backward"].uses == ["training.embedding.backward"]


def test_streamed_rows_run_the_gemv_before_every_call_and_say_how_much(monkeypatch):
    from flopwatt.bench import cache, workload_suite

    calls: list[int] = []

    class CountingGemv(cache.StreamingGemv):
        def __call__(self) -> None:
            calls.append(self.size_bytes)
            super().__call__()

    monkeypatch.setattr(workload_suite, "StreamingGemv", CountingGemv)
    small = {**TINY, "decode_batch_sizes": (4,), "sequence_length": 0}
    document = run_suite("workload", "cpu", workload=small)
    weights = workload_suite.decode_weight_bytes(WorkloadShape(**small))
    streamed = [row for row in document["operators"] if row["cache"] == "streamed"]
    assert {row["kind"] for row in streamed} >= {"rmsnorm", "embedding", "kv_cache_write", "argmax"}
    assert all(row["stream_bytes"] == weights for row in streamed)
    timed_calls = sum(document["results"][row["result_index"]]["stats"]["n"] for row in streamed)
    assert len(calls) >= timed_calls and min(calls) >= weights  # whole weight copies
