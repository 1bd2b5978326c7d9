"""The workload suite through the live API and the CLI on the CPU (issue 13 item 1): a tiny
preset-derived model, measured into a stored schema-2 profile with its operator table; bad
workloads are INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import json

import grpc
import pytest

from flopwatt.service.cli import main
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc, common_pb2
from tests.conftest import WORKLOAD_OPERATOR_KINDS, field_violations

State = benchmark_pb2.BenchmarkRun.State
KINDS = WORKLOAD_OPERATOR_KINDS
# llama-3.1-8b's layout (GQA, SwiGLU, untied) shrunk to seconds of CPU work
TINY_MODEL = dict(
    preset_id="llama-3.1-8b",
    layer_count=2,
    hidden_size=64,
    attention_head_count=4,
    kv_head_count=2,
    ffn_hidden_size=176,
    vocab_size=512,
    head_dim=16,
)


def _workload(**change) -> benchmark_pb2.BenchmarkWorkload:
    fields = dict(
        model=common_pb2.ModelSpec(**TINY_MODEL),
        sequence_length=64,
        precision=common_pb2.PRECISION_FP32,
        decode_batch_sizes=[2],
        context_lengths=[32],
    )
    fields.update(change)
    return benchmark_pb2.BenchmarkWorkload(**fields)


@pytest.mark.slow
def test_a_workload_run_measures_the_operator_table_and_streams_the_operator(server):
    with server.channel() as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        run = stub.CreateBenchmarkRun(
            benchmark_pb2.CreateBenchmarkRunRequest(suite="workload", device="cpu", workload=_workload()), timeout=30
        ).benchmark_run
        assert run.suite == "workload" and run.workload.model.hidden_size == 64
        assert run.workload.precision == common_pb2.PRECISION_FP32 and list(run.workload.decode_batch_sizes) == [2]
        updates = list(stub.WatchBenchmarkRun(benchmark_pb2.WatchBenchmarkRunRequest(name=run.name), timeout=300))
        final = updates[-1].benchmark_run
        assert final.state == State.STATE_SUCCEEDED, final.error
        # mid-run, the stream names the operator being measured (or just measured)
        messages = [
            u.benchmark_run.progress_message
            for u in updates
            if u.benchmark_run.state == State.STATE_RUNNING and 0 < u.benchmark_run.progress < 1
        ]
        operators = [m for m in messages if m != "warm-up"]
        assert operators and all(any(kind in m for kind in KINDS) for m in operators), messages
        assert any(m.startswith("measuring ") for m in operators), messages
        profile = stub.GetProfile(benchmark_pb2.GetProfileRequest(name=final.profile_name), timeout=10).profile
    document = json.loads(profile.profile_json)
    assert profile.schema_version == 2 and profile.suite == "workload"
    assert document["workload"]["model_id"] == "llama-3.1-8b" and document["workload"]["kv_head_count"] == 2
    assert {row["kind"] for row in document["operators"]} == set(KINDS)
    assert all(row["verified"] and row["seconds"]["median"] > 0 for row in document["operators"])


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"suite": "workload"}, "workload"),
        ({"suite": "quick", "workload": _workload()}, "workload"),
        ({"suite": "workload", "workload": _workload(model=None)}, "workload.model"),
        ({"suite": "workload", "workload": _workload(tensor_parallel_size=3)}, "workload.tensor_parallel_size"),
        ({"suite": "workload", "workload": _workload(decode_batch_sizes=[0])}, "workload.decode_batch_sizes[0]"),
        ({"suite": "workload", "workload": _workload(precision=common_pb2.PRECISION_TF32)}, "workload.precision"),
        (
            {"suite": "workload", "workload": _workload(sequence_length=0, decode_batch_sizes=[], context_lengths=[])},
            "workload.sequence_length",
        ),
        (
            {"suite": "workload", "workload": _workload(model=common_pb2.ModelSpec(preset_id="mixtral-8x7b"))},
            "workload.model",
        ),
    ],
)
def test_a_bad_workload_is_invalid_argument_naming_the_field(server, request_fields, field):
    with server.channel() as channel, pytest.raises(grpc.RpcError) as raised:
        benchmark_pb2_grpc.BenchmarkServiceStub(channel).CreateBenchmarkRun(
            benchmark_pb2.CreateBenchmarkRunRequest(device="cpu", **request_fields), timeout=10
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == [field]


def test_an_unknown_preset_is_not_found(server):
    with server.channel() as channel, pytest.raises(grpc.RpcError) as raised:
        benchmark_pb2_grpc.BenchmarkServiceStub(channel).CreateBenchmarkRun(
            benchmark_pb2.CreateBenchmarkRunRequest(
                suite="workload", workload=_workload(model=common_pb2.ModelSpec(preset_id="no-such-model"))
            ),
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


CLI_FLAGS = [
    "--model=llama-3.1-8b",
    "--layer-count=2",
    "--hidden-size=64",
    "--attention-head-count=4",
    "--kv-head-count=2",
    "--ffn-hidden-size=176",
    "--vocab-size=512",
    "--head-dim=16",
    "--sequence-length=64",
    "--precision=fp32",
    "--decode-batch-sizes=1,2",
    "--context-lengths=32",
]


@pytest.mark.slow
def test_flopwatt_bench_suite_workload_stores_the_operator_table(tmp_path, capsys):
    code = main(["bench", "--suite", "workload", "--device", "cpu", "--data-dir", str(tmp_path), "--json", *CLI_FLAGS])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    document = printed["profile"]
    assert printed["profile_id"] and document["suite"] == "workload" and document["schema_version"] == 2
    decode_gemms = {
        row["shape"]["m"] for row in document["operators"] if row["kind"] == "gemm" and row["phase"] == "decode"
    }
    assert decode_gemms == {1, 2}
    assert main(["bench", "list", "--data-dir", str(tmp_path)]) == 0
    assert "workload" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--suite", "quick", "--model=llama-3.1-8b"], "--suite workload"),
        (["--suite", "workload"], "name a model"),
        (["--suite", "workload", *CLI_FLAGS, "--tensor-parallel-size=3"], "--tensor-parallel-size"),
        (["--suite", "workload", *CLI_FLAGS, "--decode-batch-sizes=a"], "--decode-batch-sizes"),
        (["--suite", "workload", "--model=no-such-model"], "--model"),
    ],
)
def test_bad_workload_flags_are_refused_naming_the_flag(tmp_path, capsys, flags, message):
    assert main(["bench", "--device", "cpu", "--no-store", *flags]) != 0
    assert message in capsys.readouterr().err
