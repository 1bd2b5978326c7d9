"""A short run of bench/service_benchmarks/abuse_soak.py (issue 14 item 23's soak): held streams,
unread and disconnecting sweeps, 4 MB sweep requests, runs created and cancelled, then SIGTERM
and a restart. Health must answer throughout, the server must exit within its grace period, and
every run and profile must survive the restart.

Health's latency target (p99 ≤ 50 ms, issue 14 item 23) is a speed target, measured by the
benchmark itself on a quiet machine (bench/service_benchmarks/README.md), not by this test: on a
shared 2-core CI machine the probe's p99 over ~400 checks is its 5th-worst sample and moved from
25 to 58 ms between runs with nothing changed. This test keeps a regression bound an order above
the target (HEALTH_P99_BOUND_MS): a health check queued behind work on the event loop or a held
GIL waits hundreds of milliseconds to seconds, which it catches.

The script is run as a subprocess (it starts its own servers and a probe process); ~25 s in all.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(180)

HEALTH_P99_BOUND_MS = 250.0
SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "bench" / "service_benchmarks" / "abuse_soak.py"


def test_short_abuse_soak_keeps_health_fast_and_loses_nothing():
    completed = subprocess.run(
        # The script's own verdict (its exit code) judges health by the same regression bound.
        [sys.executable, str(SCRIPT), "--duration", "12", "--health-p99-ms", str(HEALTH_P99_BOUND_MS), "--json"],
        capture_output=True,
        text=True,
        timeout=150,
    )
    report = json.loads(completed.stdout)
    assert report["faults"] == {}, report["faults"]
    assert report["health_failures"] == 0
    assert report["health_p99_ms"] <= HEALTH_P99_BOUND_MS, report
    assert report["exit_code"] == 0
    assert report["exit_seconds"] <= report["exit_bound_seconds"], report
    assert report["runs_created"] > 0
    assert report["runs_lost"] == [] and report["runs_not_terminal"] == [], report
    assert report["profiles_intact"] and report["store_problems"] == []
    # The abuse happened: 4 MB sweeps were answered (refused), streams were held.
    assert sum(report["codes"]["SweepTraining 4 MB"].values()) > 0
    assert report["codes"]["Health.Watch held"].get("OK", 0) > 0
    assert completed.returncode == 0
