"""Loopback process groups: ranks start, run a body, and leave without aborting."""

from __future__ import annotations

from pathlib import Path

import pytest

from flopwatt.bench.local_ranks import free_loopback_port, run_local_ranks


def _sum_of_ranks(rank: int, output: str, offset: int) -> None:
    import torch
    import torch.distributed as dist

    value = torch.tensor([float(rank + offset)])
    dist.all_reduce(value)
    if rank == 0:
        Path(output).write_text(str(int(value.item())))


def _raises_on_rank_one(rank: int, output: str) -> None:
    if rank == 1:
        raise RuntimeError("rank one gave up")


def test_a_body_runs_on_every_rank_and_rank_zero_reports():
    assert run_local_ranks(3, "gloo", _sum_of_ranks, 10) == str(0 + 1 + 2 + 3 * 10)


def test_a_rank_that_raises_fails_the_run():
    """The run fails with a rank's traceback: the raising rank's, or its peer's if the peer's
    barrier saw the connection close first (spawn reports whichever rank exits first)."""
    from torch.multiprocessing import ProcessRaisedException

    with pytest.raises(ProcessRaisedException, match="rank one gave up|Connection"):
        run_local_ranks(2, "gloo", _raises_on_rank_one)


@pytest.mark.parametrize(("world_size", "backend", "field"), [(1, "gloo", "world_size"), (2, "mpi", "backend")])
def test_bad_arguments_name_the_field(world_size, backend, field):
    with pytest.raises(ValueError, match=field):
        run_local_ranks(world_size, backend, _sum_of_ranks, 0)


def test_free_loopback_port_is_a_port():
    assert 0 < free_loopback_port() < 65536
