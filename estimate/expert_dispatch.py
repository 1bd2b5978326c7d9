"""Time of one MoE layer's token dispatch and combine over the expert-parallel group (forward).

Two dispatchers exist in practice, and they move different bytes across the network:

- **One copy per routed expert** (Megatron-Core's `alltoall` token dispatcher, the default of
  every catalog stack but one): each of a token's k routed copies goes to its expert's rank, so
  (n − r)/n of the k·h elements cross the sending GPU's own NIC (n ranks, r of them on its node):
  `HardwareModel.all_to_all_seconds`.
- **One copy per destination node** (DeepSeek-V3 §3.2.2, DeepEP): a token crosses the scale-out
  network once per node that holds any of its experts, to the GPU with the same in-node index,
  and is fanned out to that node's experts over NVLink. Its off-node bytes are the number of
  distinct other nodes its experts sit on, not k·(n − r)/n; node-limited routing (the model's
  `max_routed_nodes_per_token`, DeepSeek-V3: at most 4) caps that number further.

Expected distinct nodes: the k experts fall on m candidate nodes (all the group's nodes, or the
routing limit), uniformly, so m·(1 − (1 − 1/m)^k) of them are hit (m = 8 nodes, k = 8: 5.25;
m = 4: 3.6), and a share (N − 1)/N of those are other nodes than the sender's (N nodes in the
group). The in-node fan-out then moves the k copies over the scale-up links, (r − 1)/r of them
to another GPU. The two tiers are charged one after the other, as in `all_to_all_seconds`.

FP8 dispatch (DeepSeek-V3 §3.3.2): the dispatched activations are quantised to FP8 with one FP32
scale per 1×128 tile (1 + 4/128 bytes per element) where the run computes in FP8; the combine
stays at the activation width.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.hardware import HardwareModel, transfer_seconds
from flopwatt.estimate.numeric import as_bool, as_float, maximum, minimum, where

ArrayLike = Any

# DeepSeek-V3 §3.3.2: activations are quantised per 1×128 tile with one FP32 scale each.
FP8_DISPATCH_BYTES_PER_ELEMENT = 1.0 + 4.0 / 128.0
FP8_BYTES_PER_ELEMENT = 1.0


def expected_distinct_nodes(routed_experts: ArrayLike, candidate_nodes: ArrayLike) -> ArrayLike:
    """Expected number of distinct nodes k experts fall on when each sits on one of m candidate
    nodes uniformly at random: m·(1 − (1 − 1/m)^k) (1 for m = 1)."""
    m = maximum(as_float(candidate_nodes), 1.0)
    return m * (1.0 - (1.0 - 1.0 / m) ** as_float(routed_experts))


def dispatch_bytes_per_element(
    activation_bytes: ArrayLike, compute_bytes: ArrayLike, fp8_dispatch: ArrayLike
) -> ArrayLike:
    """Bytes per dispatched element: FP8 with tile scales when the stack dispatches in FP8 and
    the run computes in FP8, else the activation width."""
    fp8 = as_bool(fp8_dispatch) & (as_float(compute_bytes) <= FP8_BYTES_PER_ELEMENT)
    return where(fp8, FP8_DISPATCH_BYTES_PER_ELEMENT, as_float(activation_bytes))


def per_node_all_to_all_seconds(
    hw: HardwareModel,
    tokens: ArrayLike,
    hidden_size: ArrayLike,
    bytes_per_element: ArrayLike,
    arch: ModelArchitecture,
    group_size: ArrayLike,
    group_stride: ArrayLike,
) -> ArrayLike:
    """One dispatch (or combine) that sends each token once per destination node, then fans it
    out over the scale-up links (module docstring)."""
    n = as_float(group_size)
    ranks_on_node = hw.group_ranks_per_node(n, group_stride)
    nodes = n / ranks_on_node
    limit = as_float(arch.max_routed_nodes_per_token)
    candidates = where(limit > 0, minimum(limit, nodes), nodes)
    routed = as_float(arch.experts_per_token)
    token_bytes = as_float(tokens) * as_float(hidden_size) * bytes_per_element
    other_nodes = expected_distinct_nodes(routed, candidates) * (nodes - 1.0) / maximum(nodes, 1.0)
    off_node = token_bytes * other_nodes
    on_node = token_bytes * routed * (ranks_on_node - 1.0) / maximum(ranks_on_node, 1.0)
    seconds = (
        transfer_seconds(off_node, hw.scale_out_bandwidth_bytes_per_second)
        + transfer_seconds(on_node, hw.intra_node_bus_bandwidth_bytes_per_second)
        + hw.collective_latency(n, group_stride)
    )
    return where(n > 1, seconds, 0.0)


def expert_dispatch_forward_seconds(
    hw: HardwareModel,
    tokens: ArrayLike,
    arch: ModelArchitecture,
    group_size: ArrayLike,
    group_stride: ArrayLike,
    activation_bytes: ArrayLike,
    per_node: ArrayLike,
    fp8_dispatch: ArrayLike,
) -> ArrayLike:
    """Dispatch + combine of one MoE layer's forward for `tokens` tokens on this rank."""
    h = as_float(arch.hidden_size)
    routed = as_float(arch.experts_per_token)
    dispatch_bytes = dispatch_bytes_per_element(activation_bytes, hw.bytes_per_element, fp8_dispatch)

    by_node = as_bool(per_node)

    def one_way(bytes_per_element: ArrayLike) -> ArrayLike:
        def per_expert() -> ArrayLike:
            return hw.all_to_all_seconds(as_float(tokens) * routed * h * bytes_per_element, group_size, group_stride)

        def per_node_seconds() -> ArrayLike:
            return per_node_all_to_all_seconds(hw, tokens, h, bytes_per_element, arch, group_size, group_stride)

        if np.ndim(by_node) == 0:  # one stack for every plan (the usual case): only its dispatcher is timed
            return per_node_seconds() if by_node else per_expert()
        return where(by_node, per_node_seconds(), per_expert())

    return one_way(dispatch_bytes) + one_way(as_float(activation_bytes))
