"""Two simulated nodes on loopback (issue 13 item 1): two `torchrun --nnodes 2 --nproc-per-node 1`
agents meet through a c10d rendezvous on 127.0.0.1 and run the collectives measurement with gloo
through `bench.collectives.run_under_torchrun` (the `flopwatt.bench.torchrun_collectives` entry);
rank 0's result must be verified and record the topology the ranks report: 2 nodes × 1 process.

torchrun is started as `python -m torch.distributed.run` (what the `torchrun` script runs), so the
test uses this interpreter's torch wherever the venv's bin directory is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from flopwatt.bench.collectives import bus_bandwidth_factor
from flopwatt.bench.local_ranks import LOOPBACK, free_loopback_port

pytestmark = pytest.mark.slow
AGENT_TIMEOUT_SECONDS = 180
MAX_BYTES = 4096


def _agent(port: int, run_id: str, output: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "2",
        "--nproc-per-node",
        "1",
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        f"{LOOPBACK}:{port}",
        "--rdzv-id",
        run_id,
        "--local-addr",
        LOOPBACK,
        "--max-restarts",
        "0",
        "-m",
        "flopwatt.bench.torchrun_collectives",
        "--output",
        output,
        "--backend",
        "gloo",
        "--max-bytes",
        str(MAX_BYTES),
        "--iterations",
        "5",
        "--warmup",
        "1",
    ]
    environment = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", MASTER_ADDR=LOOPBACK)
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_torchrun_nodes_on_loopback_measure_collectives_and_record_the_topology(tmp_path):
    output = tmp_path / "rank0.json"
    port, run_id = free_loopback_port(), f"flopwatt-{uuid.uuid4().hex[:12]}"
    agents = [_agent(port, run_id, str(output)) for _ in range(2)]
    logs = []
    try:
        for agent in agents:
            logs.append(agent.communicate(timeout=AGENT_TIMEOUT_SECONDS)[0])
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
    codes = [agent.returncode for agent in agents]
    assert codes == [0, 0], f"torchrun agents exited {codes}:\n" + "\n---\n".join(log[-3000:] for log in logs)
    result = json.loads(output.read_text())
    assert result["backend"] == "gloo" and result["world_size"] == 2
    topology = result["topology"]
    assert topology["nodes"] == 2 and topology["processes_per_node"] == 1 and topology["world_size"] == 2
    assert topology["launcher"] == "torchrun" and sorted(topology["ranks_per_node"]) == ["0", "1"]
    for name in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all"):
        rows = result[name]
        assert [row["bytes"] for row in rows] == [8 * 2**i for i in range(len(rows))] and rows[-1]["bytes"] == MAX_BYTES
        for row in rows:
            assert row["verified"], (name, row)
            assert row["seconds"] > 0
            expected_bus = row["algbw_bytes_per_second"] * bus_bandwidth_factor(name, 2)
            assert row["busbw_bytes_per_second"] == pytest.approx(expected_bus)
