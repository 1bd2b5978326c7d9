"""flopwatt: what training or serving a large neural network costs, from one GPU to a campus.

The importable package gathers the repository's three layers under one name:
`flopwatt.kernels` (kernels/), `flopwatt.bench` (bench/) and `flopwatt.service` (service/),
plus the generated API code in `flopwatt.v1`.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("flopwatt")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
