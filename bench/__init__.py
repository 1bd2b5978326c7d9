"""The benchmark core: timing harness, power and energy meter (NVML), suites, collectives and
the hardware profile (schema and SQLite store). It imports only `flopwatt.kernels`; the
estimator reads its profiles through `flopwatt.estimate.measured_profile`."""
