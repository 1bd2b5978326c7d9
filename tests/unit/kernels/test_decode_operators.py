"""The decode step's small operators (kernels/decode_operators.py): byte counts, exact
verification, and a wrong result caught before it is timed."""

from __future__ import annotations

import pytest
import torch

from flopwatt.kernels.decode_operators import build_argmax, build_embedding, build_kv_cache_write
from flopwatt.kernels.workload import VerificationError


def test_byte_counts_and_verification_pass():
    embedding = build_embedding("fp32", 4, 64, 100, "cpu")
    assert embedding.bytes == 2 * 4 * 64 * 4 + 4 * 8 and embedding.flops == 0.0
    write = build_kv_cache_write("bf16", 4, 2, 16, 32, "cpu")
    assert write.bytes == 2 * 2 * 4 * 2 * 32 * 2 and write.working_set_bytes == 2 * 4 * 2 * 16 * 32 * 2
    argmax = build_argmax("bf16", 4, 1000, "cpu")
    assert argmax.bytes == 4 * 1000 * 2 + 4 * 8 and argmax.flops == 4 * 1000
    for workload in (embedding, write, argmax):
        workload.verify()


def test_the_kv_cache_write_fills_the_last_slot_from_the_projections_transposed_view():
    """The loop writes `cache[:, :, p:p+1] = k` where k is a (batch, kv heads, 1, head dim)
    transposed view of the projection output: a strided copy, not a contiguous one."""
    write = build_kv_cache_write("fp32", 2, 3, 8, 4, "cpu")
    keys = write.run()
    assert keys.shape == (2, 3, 8, 4)
    first_slots = keys[:, :, :-1].clone()
    write.run()
    assert torch.equal(keys[:, :, :-1], first_slots)  # only the last position is written


def test_a_wrong_argmax_or_embedding_is_caught(monkeypatch):
    argmax = build_argmax("fp32", 4, 50, "cpu")
    real = torch.Tensor.argmax
    monkeypatch.setattr(torch.Tensor, "argmax", lambda self, dim: (real(self, dim) + 1) % self.shape[dim])
    with pytest.raises(VerificationError, match="argmax"):
        argmax.verify()
    monkeypatch.undo()
    embedding = build_embedding("fp32", 4, 8, 20, "cpu")
    import torch.nn.functional as functional

    real_embedding = functional.embedding
    monkeypatch.setattr(functional, "embedding", lambda ids, table: real_embedding((ids + 1) % 20, table))
    with pytest.raises(VerificationError, match="embedding"):
        embedding.verify()


@pytest.mark.parametrize("builder,args", [(build_embedding, (0, 8, 10)), (build_argmax, (4, 0))])
def test_bad_shapes_are_refused(builder, args):
    with pytest.raises(ValueError, match="shape"):
        builder("fp32", *args, "cpu")


def test_the_embedding_backward_writes_the_whole_tables_gradient():
    """A training step's embedding backward is the (vocab × hidden) dense gradient, zeroed and
    the rows' gradients added at their ids (repeated ids summed): its bytes count the whole table
    whatever the tokens, and its shape names the vocabulary that sets them."""
    backward = build_embedding("fp32", 6, 8, 50, "cpu", pass_name="backward")
    assert backward.shape == {"tokens": 6, "hidden": 8, "vocab": 50} and backward.extra["pass"] == "backward"
    assert backward.bytes == 50 * 8 * 4 + 2 * 6 * 8 * 4 + 6 * 8 and backward.flops == 0.0
    backward.verify()
    grad = backward.run()
    assert grad.shape == (50, 8) and int((grad.abs().sum(1) > 0).sum()) <= 6  # only the looked-up rows


def test_a_wrong_embedding_gradient_is_caught(monkeypatch):
    backward = build_embedding("fp32", 6, 8, 50, "cpu", pass_name="backward")
    real_grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: tuple(g * 1.01 for g in real_grad(*a, **k)))
    with pytest.raises(VerificationError, match="embedding"):
        backward.verify()


def test_an_unknown_embedding_pass_is_refused():
    with pytest.raises(ValueError, match="pass"):
        build_embedding("fp32", 4, 8, 20, "cpu", pass_name="backward_weight")
