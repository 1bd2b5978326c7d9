"""MoE token dispatch per stack (issue 11 item 2, follow-up): per-expert copies through the NIC
(Megatron-Core's alltoall), or one copy per destination node fanned out over NVLink (DeepEP /
DeepSeek-V3 §3.2.2) capped by node-limited routing, FP8 dispatch, and DualPipe's overlap."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.expert_dispatch import (
    FP8_DISPATCH_BYTES_PER_ELEMENT,
    dispatch_bytes_per_element,
    expected_distinct_nodes,
    expert_dispatch_forward_seconds,
    per_node_all_to_all_seconds,
)
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.parallel_plan import ParallelPlan
from flopwatt.estimate.step_time import framework_step_options, training_step_time

DEEPSEEK = get_model_preset("deepseek-v3").architecture


@pytest.fixture(scope="module")
def h800():
    return datasheet_hardware_model(get_hardware("h800"), "fp8")


def test_expected_distinct_nodes():
    assert expected_distinct_nodes(8, 8) == pytest.approx(8 * (1 - (7 / 8) ** 8))  # 5.25
    assert expected_distinct_nodes(8, 4) == pytest.approx(4 * (1 - 0.75**8))  # 3.6
    assert expected_distinct_nodes(8, 1) == 1.0 and expected_distinct_nodes(1, 8) == pytest.approx(1.0)
    many = np.asarray(expected_distinct_nodes(np.array([1.0, 2.0, 8.0]), 16.0))
    assert np.all(np.diff(many) > 0) and many[-1] < 8.0  # more experts reach more nodes, never more than k


def test_per_node_dispatch_moves_fewer_off_node_bytes_and_routing_limits_them(h800):
    tokens, h, b = 4096.0, DEEPSEEK.hidden_size, 2.0
    per_expert = h800.all_to_all_seconds(tokens * DEEPSEEK.experts_per_token * h * b, 64, 1)
    unlimited = per_node_all_to_all_seconds(h800, tokens, h, b, replace(DEEPSEEK, max_routed_nodes_per_token=0), 64, 1)
    limited = per_node_all_to_all_seconds(h800, tokens, h, b, DEEPSEEK, 64, 1)
    assert limited < unlimited < per_expert
    # The NIC share alone (scale-up links made free, no latency): 8 · 56/64 copies per expert vs
    # 3.6 · 7/8 distinct other nodes per token.
    nic_only = replace(h800, intra_node_bus_bandwidth_bytes_per_second=1e30)
    latency = nic_only.collective_latency(64.0, 1)
    nic_per_expert = nic_only.all_to_all_seconds(tokens * DEEPSEEK.experts_per_token * h * b, 64, 1) - latency
    nic_per_node = per_node_all_to_all_seconds(nic_only, tokens, h, b, DEEPSEEK, 64, 1) - latency
    assert nic_per_node / nic_per_expert == pytest.approx(expected_distinct_nodes(8, 4) * 7 / 8 / (8 * 56 / 64))


def test_inside_one_node_both_dispatchers_agree(h800):
    tokens, h, b = 4096.0, DEEPSEEK.hidden_size, 2.0
    per_expert = h800.all_to_all_seconds(tokens * DEEPSEEK.experts_per_token * h * b, 8, 1)
    per_node = per_node_all_to_all_seconds(h800, tokens, h, b, DEEPSEEK, 8, 1)
    assert per_node == pytest.approx(per_expert)
    assert per_node_all_to_all_seconds(h800, tokens, h, b, DEEPSEEK, 1, 1) == 0.0


def test_fp8_dispatch_only_for_fp8_runs():
    assert dispatch_bytes_per_element(2.0, 1.0, True) == FP8_DISPATCH_BYTES_PER_ELEMENT
    assert dispatch_bytes_per_element(2.0, 2.0, True) == 2.0  # a bf16 run dispatches bf16
    assert dispatch_bytes_per_element(2.0, 1.0, False) == 2.0


def test_the_generic_stack_keeps_the_per_expert_all_to_all(h800):
    """Megatron-Core's default: dispatch + combine, one copy per routed expert, activation width."""
    tokens = 4096.0
    per_expert = 2.0 * h800.all_to_all_seconds(tokens * DEEPSEEK.experts_per_token * DEEPSEEK.hidden_size * 2.0, 64, 1)
    generic = framework_step_options("")
    seconds = expert_dispatch_forward_seconds(
        h800, tokens, DEEPSEEK, 64, 1, 2.0, generic.expert_dispatch_per_node, generic.expert_dispatch_fp8
    )
    assert seconds == pytest.approx(per_expert)


def _deepseek_plan() -> ParallelPlan:
    return ParallelPlan(
        tensor_parallel_size=1,
        pipeline_parallel_size=16,
        data_parallel_size=128,
        expert_parallel_size=64,
        pipeline_interleaving=1,
        micro_batch_size=1,
        global_batch_size=15360,
        zero_stage=1,
        activation_recompute=0,
    )


def test_overlap_hides_at_most_the_compute_beside_it(h800):
    plan = _deepseek_plan()
    generic = framework_step_options("")
    exposed = training_step_time(DEEPSEEK, 4096.0, plan, h800, generic)
    hidden = training_step_time(DEEPSEEK, 4096.0, plan, h800, replace(generic, expert_parallel_overlap_fraction=1.0))
    compute = exposed.gemm + exposed.attention + exposed.elementwise + exposed.recompute
    assert hidden.expert_parallel_communication == pytest.approx(
        max(exposed.expert_parallel_communication - compute, 0.0), rel=1e-9, abs=1e-9
    )
    assert hidden.total < exposed.total


def test_reserved_compute_units_slow_the_device_work(h800):
    plan = _deepseek_plan()
    generic = framework_step_options("")
    full = training_step_time(DEEPSEEK, 4096.0, plan, h800, generic)
    reserved = training_step_time(
        DEEPSEEK, 4096.0, plan, h800, replace(generic, compute_share_beside_communication=112 / 132)
    )
    assert reserved.gemm == pytest.approx(full.gemm * 132 / 112)
    assert reserved.expert_parallel_communication == pytest.approx(full.expert_parallel_communication)


def test_hai_llm_at_deepseeks_published_plan_is_not_communication_bound(h800):
    """At EP64 over 8 nodes the per-expert all-to-all exceeds the GEMM time (what Megatron-Core's
    default dispatcher would do); DeepSeek's documented dispatch and DualPipe hide it."""
    plan = _deepseek_plan()
    generic = training_step_time(DEEPSEEK, 4096.0, plan, h800, framework_step_options(""))
    hai = training_step_time(DEEPSEEK, 4096.0, plan, h800, framework_step_options("hai-llm"))
    assert generic.expert_parallel_communication > generic.gemm
    assert hai.expert_parallel_communication < 0.05 * hai.total
    assert hai.total < generic.total
