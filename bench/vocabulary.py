"""The benchmark vocabulary: which suites exist and which devices they run on.

One definition for the benchmark core, the CLI (`flopwatt bench --suite/--device`), the API's
run validation and the run manager, so a suite added here is accepted everywhere at once.
"""

from __future__ import annotations

DEVICE_KINDS = ("cpu", "cuda")  # what a profile is measured on (profile `device.kind`)
DEVICE_AUTO = "auto"  # the GPU when one is visible, else the CPU
DEVICE_CHOICES = (DEVICE_AUTO, *DEVICE_KINDS)  # what a user may ask for
SIZED_SUITES = ("quick", "full")  # the fixed-size suites of bench/suite_config.py
WORKLOAD_SUITE = "workload"  # a workload's own operators (bench/workload_suite.py); needs a workload
RUNNABLE_SUITES = (*SIZED_SUITES, WORKLOAD_SUITE)  # what `run_suite` and a benchmark run execute
COLLECTIVES_SUITE = "collectives"  # measured under torchrun by `flopwatt bench collectives`
PROFILE_SUITES = (*RUNNABLE_SUITES, COLLECTIVES_SUITE)  # what a stored profile's `suite` may say
DEFAULT_SUITE = "quick"
DEFAULT_DEVICE = DEVICE_AUTO
