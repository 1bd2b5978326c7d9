"""The estimator: what training or serving a model costs, from one accelerator to a campus.

Pure Python and NumPy (no gRPC, protobuf, benchmark core or service): the transformer
accounting, memory, step time, planner, serving, run cost, campus sizing, uncertainty and
sweeps, with the hardware and model catalog (`catalog/`) and the proto-free scenario builders
the API, campus and sweeps share. A measured profile enters only through `measured_profile`'s
typed reader. Comparisons with published measurements and the fit of the few fitted constants
live in `validation/`, which imports this package and is never imported by it.
"""
