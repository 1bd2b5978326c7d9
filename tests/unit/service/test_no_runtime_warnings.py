"""NumPy RuntimeWarnings (divide by zero, invalid value) are bugs, not noise: each one printed
on the server's stderr. They are fixed where the division happens; these tests turn every
RuntimeWarning into an error so a new one fails here instead of reaching a log."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from flopwatt.estimate.hardware import transfer_seconds
from flopwatt.estimate.scenarios import hardware_model
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.training import estimate_training
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def test_transfer_over_a_missing_link_is_infinite_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert transfer_seconds(1e6, 0.0) == math.inf
        assert transfer_seconds(0.0, 0.0) == 0.0
        assert transfer_seconds(1e9, 1e9) == pytest.approx(1.0)
        np.testing.assert_array_equal(
            transfer_seconds(np.array([0.0, 8.0, 8.0]), np.array([0.0, 0.0, 4.0])), [0.0, math.inf, 2.0]
        )


def test_tpu_collectives_across_pods_without_a_warning():
    """tpu-v3's scale-out bandwidth is unpublished (0 B/s): the planner prices plans across pods
    for every candidate, which printed a divide-by-zero warning per request."""
    hw, _ = hardware_model("tpu-v3", "bf16")
    assert hw.scale_out_bandwidth_bytes_per_second == 0
    across = hw.accelerators_per_node * 2
    assert hw.point_to_point_seconds(1e6, True) == math.inf
    assert hw.all_reduce_seconds(1e6, across) == math.inf and hw.all_gather_seconds(1e6, across) == math.inf
    assert 0 < hw.all_reduce_seconds(1e6, 8) < math.inf


def test_training_past_a_tpu_pod_names_accelerator_count():
    """Before: NaN costs (with warnings) and a range error naming `cost`; now the cause, named."""
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
        hardware_id="tpu-v3",
        accelerator_count=2048,
        training_tokens=10**12,
        sequence_length=4096,
    )
    with pytest.raises(InvalidArgument) as raised:
        estimate_training(request, ApiDependencies())
    (violation,) = raised.value.violations
    assert violation.field == "accelerator_count" and "1024" in violation.description
    request.accelerator_count = 1024
    assert estimate_training(request, ApiDependencies()).accelerator_hours > 0
