"""quick_init's __init__ builds the same records as the __init__ dataclass generates."""

import dataclasses
import inspect
import pickle

import numpy as np
import pytest

from flopwatt.estimate.parallel_plan import ParallelPlan
from flopwatt.estimate.quick_init import quick_init
from flopwatt.estimate.training import TrainingEstimate


def _fields(kw_only_tail: bool):
    """The same field set for the stock and the quick class: required, defaulted, factory,
    init=False with a default and a factory, and (optionally) keyword-only ones."""
    namespace = {
        "__annotations__": {
            "required": int,
            "array": object,
            "default": float,
            "factory": list,
            "derived": str,
            "derived_list": list,
        },
        "default": 2.5,
        "factory": dataclasses.field(default_factory=lambda: [1, 2]),
        "derived": dataclasses.field(default="fixed", init=False),
        "derived_list": dataclasses.field(default_factory=list, init=False),
    }
    if kw_only_tail:
        namespace["__annotations__"]["keyword"] = int
        namespace["keyword"] = dataclasses.field(default=7, kw_only=True)
    return namespace


def _pair(kw_only_tail: bool):
    stock = dataclasses.dataclass(frozen=True)(type("Record", (), _fields(kw_only_tail)))
    quick = quick_init(dataclasses.dataclass(frozen=True)(type("Record", (), _fields(kw_only_tail))))
    return stock, quick


@pytest.mark.parametrize("kw_only_tail", [False, True])
def test_same_signature_fields_equality_repr_and_hash(kw_only_tail):
    stock, quick = _pair(kw_only_tail)
    assert str(inspect.signature(quick)) == str(inspect.signature(stock))
    assert quick.__init__ is not stock.__init__
    calls = [((1, None), {}), ((1, np.arange(3)), {"default": -0.0}), ((3, "a"), {"factory": [9]})]
    if kw_only_tail:
        calls.append(((4, None), {"keyword": 11}))
    for args, kwargs in calls:
        a, b = stock(*args, **kwargs), quick(*args, **kwargs)
        for field in dataclasses.fields(stock):
            left, right = getattr(a, field.name), getattr(b, field.name)
            assert type(left) is type(right) and np.array_equal(left, right), field.name
        assert repr(a) == repr(b)
        assert dataclasses.asdict(b).keys() == dataclasses.asdict(a).keys()
        if not isinstance(args[1], np.ndarray):
            assert dataclasses.astuple(a) == dataclasses.astuple(b)
    # Each call runs the factory afresh: no list shared between records.
    assert quick(1, None).factory is not quick(1, None).factory
    assert quick(1, None).derived_list is not quick(1, None).derived_list


def test_frozen_replace_pickle_and_argument_errors_unchanged():
    stock, quick = _pair(kw_only_tail=True)
    record = quick(1, "x", 4.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.required = 2
    replaced = dataclasses.replace(record, default=5.0)
    assert replaced.default == 5.0 and replaced.required == 1 and type(replaced) is quick
    assert quick(1, "x") == quick(1, "x") and quick(1, "x") != quick(2, "x")

    def point(decorate):
        return decorate(
            dataclasses.dataclass(frozen=True)(type("Point", (), {"__annotations__": {"x": int, "y": float}}))
        )

    stock_point, quick_point = point(lambda cls: cls), point(quick_init)
    assert hash(quick_point(1, 2.0)) == hash(stock_point(1, 2.0)) and quick_point(1, 2.0) == quick_point(1, 2.0)
    for bad in ((), (1, 2, 3, [], 5), ()):
        with pytest.raises(TypeError):
            quick(*bad)
    with pytest.raises(TypeError):
        quick(1, 2, derived="no")  # init=False fields are not parameters, as in the stock __init__
    with pytest.raises(TypeError):
        quick(1, 2, 3.0, [], 8)  # keyword-only stays keyword-only
    globals()["_PickledRecord"] = quick
    quick.__qualname__ = "_PickledRecord"
    assert pickle.loads(pickle.dumps(record)) == record


def test_refuses_records_it_would_build_wrongly():
    with pytest.raises(TypeError):
        quick_init(dataclasses.dataclass(type("Mutable", (), {"__annotations__": {"x": int}})))

    @dataclasses.dataclass(frozen=True)
    class WithPostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError):
        quick_init(WithPostInit)

    @dataclasses.dataclass(frozen=True)
    class WithInitVar:
        x: int
        scale: dataclasses.InitVar[int] = 1

    with pytest.raises(TypeError):
        quick_init(WithInitVar)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        x: int

    with pytest.raises(TypeError):
        quick_init(Slotted)


def test_records_of_the_estimate_use_it():
    assert ParallelPlan.__init__.__qualname__ == "ParallelPlan.__init__"
    plan = ParallelPlan(tensor_parallel_size=2)
    assert plan == ParallelPlan(2) and plan.data_parallel_size == 1
    assert TrainingEstimate.__init__.__code__.co_filename == "<string>"
    assert TrainingEstimate.__init__.__code__.co_names == ("__dict__", "update")


def test_dict_built_copies_equal_replace():
    """effective_constraints, GoodputChoice.inputs and complete_plan read the instance dict that
    quick_init fills: the same values as dataclasses.replace / fields() give."""
    import dataclasses

    from flopwatt.estimate.planner import PlanConstraints, complete_plan
    from flopwatt.estimate.run_cost import GoodputInputs
    from flopwatt.estimate.scenarios import GoodputChoice, effective_constraints

    fixed = PlanConstraints(8, None, 16, 128, 1, 4, 1, 2048, 1, 2, True, 0.25)
    assert effective_constraints(fixed) == dataclasses.replace(fixed, context_parallel_size=1)
    assert complete_plan(effective_constraints(fixed)).recompute_layer_fraction == 0.25
    assert not PlanConstraints(global_batch_size=8).complete and effective_constraints(fixed).complete
    choice = GoodputChoice(restart_seconds=60.0)
    assert choice.inputs() == GoodputInputs(restart_seconds=60.0)
    assert GoodputChoice().inputs() == GoodputInputs()
