"""bench/diagnostics/stream_sizes.py: refuses cleanly without a GPU; its size ladder brackets the
suite's STREAM size and the device copy's (the two sizes whose rates it is meant to compare)."""

import pytest
import torch

from flopwatt.bench.diagnostics import stream_sizes
from flopwatt.bench.suite_config import GPU_DEVICE_COPY_BYTES, GPU_STREAM_ELEMENTS_MINIMUM


def test_the_ladder_holds_the_suite_stream_size_and_the_device_copy_size():
    assert GPU_STREAM_ELEMENTS_MINIMUM in stream_sizes.SIZES_ELEMENTS
    assert GPU_DEVICE_COPY_BYTES in {n * stream_sizes.FLOAT64_BYTES for n in stream_sizes.SIZES_ELEMENTS}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU answer")
def test_without_a_gpu_it_says_so_and_exits_2(capsys):
    assert stream_sizes.main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_the_table_compares_each_row_with_the_torch_copy_at_its_size():
    rows = [
        {
            "implementation_operation": name,
            "array_bytes": size,
            "median_bytes_per_second": best * 0.99,
            "best_bytes_per_second": best,
        }
        for size, name, best in ((268435456, "numba copy", 2.85e12), (268435456, "torch copy", 3.0e12))
    ]
    lines = stream_sizes.table_lines(rows)
    assert lines[0].split()[:3] == ["numba", "copy", "268"] and lines[0].endswith("best/torch copy  0.95")
    assert lines[1].endswith("best/torch copy  1.00")
