"""A response built with the *_fields dicts equals one built from the sub-messages, byte for byte
(presence included: zero_stage 0, sequence_parallel false and an all-zero Duration are kept)."""

import math

import pytest

from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_NONE
from flopwatt.estimate.planner import PlanConstraints, complete_plan
from flopwatt.service.api import convert
from flopwatt.service.errors import FailedPrecondition
from flopwatt.v1 import estimator_pb2

R = estimator_pb2.EstimateTrainingResponse


@pytest.mark.parametrize("seconds", [0.0, -1.0, 1e-10, 12.5, 1e20, math.inf])
def test_duration_fields(seconds):
    built = R(step_duration=convert.duration_fields(seconds))
    assert built.HasField("step_duration")
    assert built.SerializeToString() == R(step_duration=convert.duration(seconds)).SerializeToString()


@pytest.mark.parametrize("usd", [0.0, 0.5, 1234.56789, -3.25, 9e18])
def test_money_fields(usd):
    assert R(cost=convert.money_fields(usd, "cost")).SerializeToString() == (
        R(cost=convert.money(usd, "cost")).SerializeToString()
    )


def test_money_fields_refuse_as_money():
    with pytest.raises(FailedPrecondition, match="cost"):
        convert.money_fields(1e30, "cost")


@pytest.mark.parametrize("recompute, zero, sp", [(RECOMPUTE_NONE, 0, False), (RECOMPUTE_FULL, 3, True)])
def test_plan_fields(recompute, zero, sp):
    plan = complete_plan(PlanConstraints(8, 1, 16, 128, 1, 4, 1, 2048, zero, recompute, sp, 0.25))
    built = R(parallelism=convert.plan_fields(plan))
    assert built.parallelism.HasField("zero_stage") and built.parallelism.HasField("sequence_parallel")
    assert built.SerializeToString() == R(parallelism=convert.plan_to_proto(plan)).SerializeToString()
