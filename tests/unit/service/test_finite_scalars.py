"""The finite walk with scalar floats read together answers as the field-by-field walk does."""

import math

from flopwatt.service.api import finite
from flopwatt.v1 import estimator_pb2

SCALARS = [f.name for f in estimator_pb2.EstimateTrainingResponse.DESCRIPTOR.fields if f.type in finite._FLOAT_TYPES]


def test_each_scalar_float_is_checked():
    assert len(SCALARS) >= 2 and finite._fast_plan(estimator_pb2.EstimateTrainingResponse.DESCRIPTOR)[0] is not None
    for name in SCALARS:
        for bad in (math.nan, math.inf, -math.inf):
            response = estimator_pb2.EstimateTrainingResponse(**{name: bad})
            assert not finite._all_finite(response)
            assert finite.nonfinite_fields(response) == [name]
    assert finite._all_finite(estimator_pb2.EstimateTrainingResponse(**{name: 1e308 for name in SCALARS}))


def test_nested_floats_still_walked():
    response = estimator_pb2.EstimateTrainingResponse(total_flops=1.0)
    response.breakdown.energy.add(name="x", value=math.nan, unit="joules")
    assert not finite._all_finite(response)
    response = estimator_pb2.EstimateTrainingResponse(total_flops=1.0)
    response.parallelism.activation_recompute_layer_fraction = math.inf
    assert not finite._all_finite(response)
