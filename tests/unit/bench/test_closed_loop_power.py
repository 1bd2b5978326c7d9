"""The closed loop's power windows (bench/closed_loop_power.py) against a fake NVML: the window
lasts the minimum, energy per step is the counter's energy over the steps really run, a window
that cannot be measured is a skip with its reason, and the decode step's cache positions cycle
through the timed range so a window of any length never overflows the KV cache."""

from __future__ import annotations

import time

import pytest
from test_bench_power import fake_nvml
from test_closed_loop_model import TINY_GQA

from flopwatt.bench import closed_loop_power
from flopwatt.bench.closed_loop import measure_decode, measure_training, median_of_rounds
from flopwatt.bench.closed_loop_power import (
    CPU_REASON,
    TURNED_OFF_REASON,
    StepPowerMeter,
    cycling_step,
    open_step_power_meter,
)
from flopwatt.bench.power import MIN_WINDOW_SECONDS, NvmlDevice, NvmlUnavailable, PowerWindow
from flopwatt.kernels.workload import VerificationError

STEADY_WATTS = 300.0


def steady_nvml(watts: float = STEADY_WATTS):
    """A fake NVML whose energy counter grows at `watts` with the wall clock (millijoules)."""
    nvml = fake_nvml([0])
    started = time.perf_counter()
    nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = lambda _handle: int(
        1000 * watts * (time.perf_counter() - started)
    )
    return nvml


def steady_meter(window_seconds: float = 0.3) -> StepPowerMeter:
    return StepPowerMeter(NvmlDevice(steady_nvml(), handle=object()), window_seconds)


def test_a_step_window_lasts_the_minimum_and_charges_the_counter_energy_to_the_steps_run():
    calls = []

    def step() -> None:
        calls.append(1)
        time.sleep(0.02)

    meter = StepPowerMeter(NvmlDevice(steady_nvml(), handle=object()))
    assert meter.window_seconds == MIN_WINDOW_SECONDS
    power = meter.measure("training step", step, lambda: None, 0.02, "cpu")
    window = power["window"]
    assert window["seconds"] >= MIN_WINDOW_SECONDS
    assert power["steps_per_unit"] == 10  # 0.2 s units of 0.02 s steps
    assert power["steps"] == len(calls) == window["iterations"] * 10
    assert power["measured_watts"] == pytest.approx(STEADY_WATTS, rel=0.02)
    assert power["measured_joules_per_step"] == pytest.approx(window["energy_joules"] / len(calls), rel=1e-12)
    assert power["measured_seconds_per_step"] == pytest.approx(window["seconds"] / len(calls), rel=1e-12)
    assert window["median_sm_clock_mhz"] == 1980 and window["max_temperature_celsius"] == 61
    assert window["clock_event_reasons"] == ["sw_power_cap"] and window["throttled"] is True


def test_a_window_that_cannot_be_measured_is_a_skip_with_the_reason():
    stuck = StepPowerMeter(NvmlDevice(fake_nvml([5]), handle=object()), 0.05)
    assert "did not advance" in stuck.measure("decode step", lambda: None, lambda: None, 0.01, "cpu")["skipped"]

    def broken() -> None:
        raise VerificationError("the loss is nan")

    skipped = steady_meter(0.05).measure("training step", lambda: None, broken, 0.01, "cpu")["skipped"]
    assert skipped == "the training step failed its check after the power window: the loss is nan"


def test_cycling_positions_stay_in_the_timed_range():
    state = {"position": 10}
    seen = []

    def step() -> None:
        seen.append(state["position"])
        state["position"] += 1

    cycled = cycling_step(step, state, 7, 10)
    for _ in range(7):
        cycled()
    assert seen == [7, 8, 9, 7, 8, 9, 7]
    with pytest.raises(ValueError, match="need 0 ≤ first < end"):
        cycling_step(step, state, 10, 10)


class CountingMeter:
    """A stand-in for NvmlDevice whose window runs exactly `units` units of work (so the test does
    not depend on how fast this host runs a step) at a fixed 1 J per unit over 1 s per unit."""

    def __init__(self, units: int) -> None:
        self.units = units

    def measure_window(self, label, work, min_seconds):
        for _ in range(self.units):
            work()
        return PowerWindow(label, float(self.units), float(self.units), self.units, 0)


def test_the_decode_window_cycles_through_the_timed_positions_and_never_overflows_the_cache(monkeypatch):
    """The cache holds exactly the timed steps' positions. Without cycling the window's steps
    would write past it, which torch does not refuse (a one-position update broadcasts into the
    empty slice past the end): the spy asserts every step's position lies inside the cache."""
    import flopwatt.bench.closed_loop as closed_loop

    real = closed_loop.decode_step_and_check
    positions: list[int] = []

    def spied(model, caches, state, config):
        step, check = real(model, caches, state, config)
        capacity = caches[0][0].shape[2]

        def watched() -> None:
            assert state["position"] < capacity, (state["position"], capacity)
            positions.append(state["position"])
            step()

        return watched, check

    monkeypatch.setattr(closed_loop, "decode_step_and_check", spied)
    units = 3 * TINY_GQA.decode_tokens
    result = measure_decode(TINY_GQA, "cpu", StepPowerMeter(CountingMeter(units)))
    power = result["power_window"]
    first = TINY_GQA.decode_context + TINY_GQA.warmup_steps
    end = first + TINY_GQA.decode_tokens
    window_positions = positions[-power["steps"] :]
    assert power["steps"] == units * power["steps_per_unit"] > TINY_GQA.decode_tokens
    assert set(window_positions) == set(range(first, end))  # the timed steps' range, every position
    assert power["cache_positions"] == [first, end - 1]
    assert result["context_start"] == first and result["context_end"] == end  # the timed steps as before
    assert len(result["samples_seconds"]) == TINY_GQA.decode_tokens
    assert power["measured_joules_per_step"] == pytest.approx(units / power["steps"])


def test_the_training_window_follows_the_timed_steps():
    result = measure_training(TINY_GQA, "cpu", steady_meter())
    assert len(result["samples_seconds"]) == TINY_GQA.timed_steps
    assert result["power_window"]["steps"] >= 1 and result["power_window"]["window"]["seconds"] >= 0.3
    assert "power_window" not in measure_training(TINY_GQA, "cpu")


def test_the_window_of_one_round_is_kept_whichever_rounds_timings_are():
    window = {"measured_watts": 500.0}
    rounds = [
        {"decode_step": {"median_seconds": 2.0}},
        {"decode_step": {"median_seconds": 1.0}},
        {"decode_step": {"median_seconds": 3.0, "power_window": window}},
    ]
    merged = median_of_rounds(rounds)["decode_step"]
    assert merged["median_seconds"] == 2.0 and merged["power_window"] == window
    assert "power_window" not in median_of_rounds(rounds[:2])["decode_step"]


def test_power_is_absent_with_its_reason_on_the_cpu_when_turned_off_and_without_nvml(monkeypatch):
    assert open_step_power_meter("cpu", None, False) == (None, CPU_REASON)
    assert open_step_power_meter("cuda", "GPU-1", True) == (None, TURNED_OFF_REASON)

    def mig(logical_index, uuid=None, nvml=None):
        raise NvmlUnavailable("the GPU is in MIG mode: its energy counter covers every instance, not this run alone")

    monkeypatch.setattr(closed_loop_power.NvmlDevice, "open", mig)
    assert open_step_power_meter("cuda", "GPU-1", False) == (
        None,
        "the GPU is in MIG mode: its energy counter covers every instance, not this run alone",
    )
    opened = {}
    monkeypatch.setattr(closed_loop_power.NvmlDevice, "open", lambda index, uuid=None: opened.update(uuid=uuid))
    meter, reason = open_step_power_meter("cuda", "GPU-1", False)
    assert reason is None and meter.window_seconds == MIN_WINDOW_SECONDS and opened == {"uuid": "GPU-1"}
