"""The decode step's small operators around the layer's GEMMs and its KV-cache read, and the
embedding's training backward.

A decode step (one new token per sequence) also looks up the new tokens' embeddings, writes each
layer's new key and value into the KV cache, and picks the next token from the logits (greedy:
argmax). A training step looks up the embedding too, and its backward writes the table's whole
dense gradient. Each decode operator is a handful of microseconds of work, but a decode step runs
them every step, so the workload suite measures them (bench/workload_suite.py) and the operator
table counts them (estimate/operator_table.decode_operator_step and, for the embedding, the
training step). Shapes and calls follow a Llama-style eager
decode loop (bench/closed_loop_model.py): tokens (batch, 1), keys and values written through a
(batch, kv heads, 1, head dim) view of the projection output, the argmax over the last
position's logits.

Each forward workload is verified exactly (a gather, a copy and an argmax have no rounding); the
embedding's backward against a float64 index-add (its sums of repeated ids round).
"""

from __future__ import annotations

from flopwatt.kernels.operators import PASSES, TOLERANCE_RELATIVE, _dtype, _positive_dims
from flopwatt.kernels.workload import VerificationError, Workload, check_relative_error

DECODE_OPERATOR_KINDS = ("embedding", "kv_cache_write", "argmax")
DATA_MOVEMENT_KINDS = ("embedding", "kv_cache_write")  # a gather and a copy: no arithmetic, 0 FLOPs
INDEX_BYTES = 8  # int64 token ids and argmax indices
ARGMAX_FLOPS_PER_LOGIT = 1.0  # one comparison


def _workload(
    kind: str,
    precision: str,
    shape: dict,
    moved_bytes: float,
    working_set: int,
    run,
    verify,
    device: str,
    flops=0.0,
    pass_name: str = "forward",
) -> Workload:
    return Workload(
        kernel=kind,
        precision=precision,
        shape=dict(shape),
        flops=float(flops),
        bytes=float(moved_bytes),
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=int(working_set),
        extra={"pass": pass_name, "backend": "torch"},
    )


def build_embedding(
    precision: str, tokens: int, hidden: int, vocab: int, device: str, seed: int = 0, pass_name: str = "forward"
) -> Workload:
    """The tokens' rows of a (vocab × hidden) embedding table (torch.nn.functional.embedding of
    (tokens, 1) ids), or with `pass_name` "backward" the table's gradient from the rows'
    gradients, as a training step's autograd computes it: a dense (vocab × hidden) gradient
    zeroed and the rows' gradients added at their ids (the whole table is written whatever the
    tokens: 16 MB for the closed-loop model's 8192 × 512 fp32 table, 4.8 ms of its CPU training
    step). Bytes: forward the rows read and written and the ids; backward the table's gradient
    written, the rows' gradients read and added, and the ids. The backward's shape names `vocab`
    (it sets the work), the forward's does not (it only places the rows)."""
    import torch
    import torch.nn.functional as functional

    if pass_name not in PASSES:
        raise ValueError(f"pass: expected one of {PASSES}, got {pass_name!r}")
    shape = {"tokens": tokens, "hidden": hidden}
    _positive_dims({**shape, "vocab": vocab})
    generator = torch.Generator(device=device).manual_seed(seed)
    table = torch.randn(vocab, hidden, device=device, dtype=_dtype(precision), generator=generator)
    ids = torch.randint(0, vocab, (tokens, 1), device=device, generator=generator)
    element = table.element_size()
    if pass_name == "forward":
        outputs: list = [None]

        def run() -> object:
            outputs[0] = functional.embedding(ids, table)
            return outputs[0]

        def verify() -> None:
            if not torch.equal(run(), table[ids]):
                raise VerificationError(f"embedding {precision} {shape}: rows differ from the table's")

        moved = 2 * tokens * hidden * element + tokens * INDEX_BYTES
        return _workload("embedding", precision, shape, moved, vocab * hidden * element, run, verify, device)

    shape["vocab"] = vocab
    leaf = table.detach().requires_grad_(True)
    output = functional.embedding(ids, leaf)
    grad_output = torch.randn(output.shape, device=device, dtype=output.dtype, generator=generator)
    grads: list = []

    def run_backward() -> object:
        grads[:] = torch.autograd.grad(output, leaf, grad_output, retain_graph=True)
        return grads[0]

    def verify_backward() -> None:
        expected = torch.zeros(vocab, hidden, dtype=torch.float64, device=device)
        expected.index_add_(0, ids.reshape(-1), grad_output.reshape(tokens, hidden).double())
        error = float(torch.linalg.norm(run_backward().double() - expected)) / max(
            float(torch.linalg.norm(expected)), 1e-30
        )
        check_relative_error(f"embedding {precision} backward {shape}", error, TOLERANCE_RELATIVE[precision])

    moved = vocab * hidden * element + 2 * tokens * hidden * element + tokens * INDEX_BYTES
    return _workload(
        "embedding", precision, shape, moved, moved, run_backward, verify_backward, device, pass_name="backward"
    )


def build_kv_cache_write(
    precision: str, batch: int, kv_heads: int, context: int, head_dim: int, device: str, seed: int = 0
) -> Workload:
    """One new position's keys and values written into a (batch, kv heads, context, head dim)
    cache (the last slot: the cache then holds `context` tokens), from the (batch, kv heads, 1,
    head dim) transposed views the projection's output gives. Bytes: both read and written."""
    import torch

    shape = {"batch": batch, "kv_heads": kv_heads, "context": context, "head_dim": head_dim}
    _positive_dims(shape)
    dtype = _dtype(precision)
    generator = torch.Generator(device=device).manual_seed(seed)
    keys, values = (
        torch.randn(batch, kv_heads, context, head_dim, device=device, dtype=dtype, generator=generator)
        for _ in range(2)
    )
    new_key, new_value = (
        torch.randn(batch, 1, kv_heads, head_dim, device=device, dtype=dtype, generator=generator).transpose(1, 2)
        for _ in range(2)
    )
    position = context - 1

    def run() -> object:
        keys[:, :, position : position + 1] = new_key
        values[:, :, position : position + 1] = new_value
        return keys

    def verify() -> None:
        run()
        written = (keys[:, :, position : position + 1], values[:, :, position : position + 1])
        if not (torch.equal(written[0], new_key) and torch.equal(written[1], new_value)):
            raise VerificationError(
                f"kv_cache_write {precision} {shape}: the cache slot differs from the new key/value"
            )

    element = keys.element_size()
    moved = 2 * 2 * batch * kv_heads * head_dim * element
    working_set = 2 * batch * kv_heads * context * head_dim * element
    return _workload("kv_cache_write", precision, shape, moved, working_set, run, verify, device)


def build_argmax(precision: str, batch: int, vocab: int, device: str, seed: int = 0) -> Workload:
    """Greedy sampling: the argmax over the vocabulary of the last position's (batch, 1, vocab)
    logits. FLOPs: one comparison per logit; bytes: the logits read and the indices written."""
    import torch

    shape = {"batch": batch, "vocab": vocab}
    _positive_dims(shape)
    generator = torch.Generator(device=device).manual_seed(seed)
    logits = torch.randn(batch, 1, vocab, device=device, dtype=_dtype(precision), generator=generator)
    outputs: list = [None]

    def run() -> object:
        outputs[0] = logits[:, -1:].argmax(-1)
        return outputs[0]

    def verify() -> None:
        chosen = logits[:, -1:].gather(-1, run().unsqueeze(-1)).squeeze(-1)
        if not torch.equal(chosen, logits[:, -1:].amax(-1)):
            raise VerificationError(f"argmax {precision} {shape}: an index does not hold its row's maximum")

    element = logits.element_size()
    moved = batch * vocab * element + batch * INDEX_BYTES
    flops = ARGMAX_FLOPS_PER_LOGIT * batch * vocab
    return _workload("argmax", precision, shape, moved, batch * vocab * element, run, verify, device, flops)
