"""convert's readers of several fields at once give what reading each field gave."""

import itertools

from flopwatt.estimate.facility_choice import FACILITY_FIELDS, FacilityChoice
from flopwatt.estimate.model_choice import ARCHITECTURE_FIELDS, ARCHITECTURE_FLAGS, ModelChoice
from flopwatt.estimate.planner import PlanConstraints
from flopwatt.service.api import convert
from flopwatt.service.api.request_bounds import Violations, check_facility
from flopwatt.v1 import common_pb2


def _model_choice_per_field(spec):
    numbers = [(name, getattr(spec, name)) for name in ARCHITECTURE_FIELDS]
    flags = [(name, getattr(spec, name)) for name in ARCHITECTURE_FLAGS if spec.HasField(name)]
    chosen = sorted([*((k, v) for k, v in numbers if v > 0), *flags])
    return ModelChoice(spec.preset_id, tuple(chosen), float(spec.parameter_count), float(spec.active_parameter_count))


def _plan_constraints_per_field(p):
    def positive(name):
        value = getattr(p, name)
        return value if value > 0 else None

    return PlanConstraints(
        tensor_parallel_size=positive("tensor_parallel_size"),
        context_parallel_size=positive("context_parallel_size"),
        pipeline_parallel_size=positive("pipeline_parallel_size"),
        data_parallel_size=positive("data_parallel_size"),
        expert_parallel_size=positive("expert_parallel_size"),
        pipeline_interleaving=positive("pipeline_interleaving"),
        micro_batch_size=positive("micro_batch_size"),
        global_batch_size=positive("global_batch_size"),
        zero_stage=p.zero_stage if p.HasField("zero_stage") else None,
        activation_recompute=convert.RECOMPUTE_FROM_PROTO.get(p.activation_recompute),
        sequence_parallel=p.sequence_parallel if p.HasField("sequence_parallel") else None,
        recompute_layer_fraction=positive("activation_recompute_layer_fraction"),
    )


def test_model_choice_matches_per_field_reads():
    specs = [
        common_pb2.ModelSpec(preset_id="llama-3.1-405b"),
        common_pb2.ModelSpec(layer_count=32, hidden_size=4096, vocab_size=-1, tied_embeddings=False, dropout=True),
        common_pb2.ModelSpec(parameter_count=7_000_000_000, expert_count=8, experts_per_token=2, gated_mlp=True),
    ]
    for spec in specs:
        assert convert.model_choice(spec) == _model_choice_per_field(spec)


def test_plan_constraints_match_per_field_reads():
    for tp, cp, fraction, zero, sp in itertools.product(
        [0, -2, 8], [0, 2], [0.0, -0.5, 0.25], [None, 0, 3], [None, True]
    ):
        p = common_pb2.Parallelism(
            tensor_parallel_size=tp,
            context_parallel_size=cp,
            pipeline_parallel_size=16,
            data_parallel_size=-1,
            global_batch_size=2048,
            activation_recompute=common_pb2.ACTIVATION_RECOMPUTE_FULL,
            activation_recompute_layer_fraction=fraction,
        )
        if zero is not None:
            p.zero_stage = zero
        if sp is not None:
            p.sequence_parallel = sp
        assert convert.plan_constraints(p) == _plan_constraints_per_field(p)


def test_empty_facility_fast_paths_match_per_field_reads():
    for facility in [
        common_pb2.Facility(),
        common_pb2.Facility(pue=0.0),
        common_pb2.Facility(pue=-1.0, wue_liters_per_kwh=0.0),
    ]:
        expected = FacilityChoice(tuple((n, getattr(facility, n)) for n in FACILITY_FIELDS if facility.HasField(n)))
        assert convert.facility_choice(facility) == expected
        v = Violations()
        check_facility(facility, "facility", v)
        assert bool(v.items) == (facility.HasField("pue") and facility.pue < 1.0)
