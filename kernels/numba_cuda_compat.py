"""Lets numba-cuda import under NumPy releases that dropped an alias it still names.

Why: numba-cuda 0.2x registers an overload for `np.row_stack` while importing `numba.cuda`
(numba_cuda/numba/cuda/np/arrayobj.py). NumPy deprecated that alias of `np.vstack` in 2.0 and
removed it in 2.5, so on a host with NumPy ≥ 2.5 `import numba.cuda` raised AttributeError and
every Numba CUDA kernel was lost (first seen on the lent H100, 2026-11-27: numpy 2.5.2,
numba-cuda from the device image; the STREAM triad and read ceilings were missing from the
profile). Restoring the alias to the function it always named changes nothing for NumPy itself.
"""

from __future__ import annotations


def restore_numpy_aliases_numba_cuda_needs() -> None:
    """Call before the first `import numba.cuda`; a no-op where NumPy still has the alias."""
    import numpy

    if not hasattr(numpy, "row_stack"):
        numpy.row_stack = numpy.vstack
