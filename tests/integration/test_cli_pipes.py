"""A CLI whose reader goes away (`flopwatt sweep ... | head`) stops quietly, without a traceback."""

from __future__ import annotations

import pathlib
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "training-70b.yaml"


def test_sweep_into_a_closed_pipe_exits_quietly():
    command = [
        sys.executable,
        "-m",
        "flopwatt",
        "sweep",
        "--request",
        str(EXAMPLE),
        "--axis",
        "accelerator_count=1024,2048,4096,8192",
        "--axis",
        "facility.pue=1.1,1.2,1.3",
        "--format",
        "csv",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    header = process.stdout.readline()
    process.stdout.close()  # the reader goes away after one line
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    assert header.startswith(b"accelerator_count,facility.pue,")
    assert "Traceback" not in stderr, stderr
    assert process.returncode in (0, 141), stderr


def test_the_example_request_estimates():
    result = subprocess.run(
        [sys.executable, "-m", "flopwatt", "estimate", "training", "--request", str(EXAMPLE), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert '"acceleratorHours"' in result.stdout
