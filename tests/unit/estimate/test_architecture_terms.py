"""architecture_terms (estimate/architecture_terms.py): memoised per scalar architecture, every
term the number the array path gives for the same architecture, and never a shared mutable array."""

import dataclasses

import numpy as np
import pytest

from flopwatt.estimate.architecture_terms import architecture_terms
from flopwatt.estimate.catalog import list_model_presets
from flopwatt.estimate.memo import memoised_when_hashable

PRESETS = list_model_presets()


def _as_arrays(arch):
    """The architecture with every numeric field a one-element array (unhashable: not memoised)."""
    return dataclasses.replace(arch, **{f.name: np.array([getattr(arch, f.name)]) for f in dataclasses.fields(arch)})


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.id)
def test_terms_match_the_array_path_bit_for_bit(preset):
    arch = dataclasses.replace(preset.architecture, dropout=not preset.architecture.dropout)  # both dropout terms
    for candidate in (preset.architecture, arch):
        scalar, array = architecture_terms(candidate), architecture_terms(_as_arrays(candidate))
        for field in dataclasses.fields(scalar):
            value = getattr(scalar, field.name)
            assert not isinstance(value, np.ndarray), field.name  # shared by the memo: immutable scalars
            assert np.asarray(value, float).tobytes() == np.asarray(getattr(array, field.name), float).tobytes(), (
                field.name
            )


def test_terms_are_memoised_per_architecture():
    arch = PRESETS[0].architecture
    assert architecture_terms(arch) is architecture_terms(arch)
    assert (
        architecture_terms(dataclasses.replace(arch, hidden_size=arch.hidden_size * 2)).hidden == 2 * arch.hidden_size
    )


def test_memo_alternating_and_unhashable_arguments():
    """memo.memoised_when_hashable: the value of each argument, whichever came last; an unhashable
    argument computed each time and never kept."""
    calls = []

    @memoised_when_hashable(4)
    def doubled(value):
        calls.append(value)
        return [2 * v for v in value] if isinstance(value, list) else 2 * value

    assert [doubled(1), doubled(2), doubled(1), doubled(1), doubled(2)] == [2, 4, 2, 2, 4]
    assert calls == [1, 2]
    assert doubled([1]) == [2] and doubled([1]) == [2] and calls == [1, 2, [1], [1]]
    doubled.cache_clear()
    assert doubled(1) == 2 and calls[-1] == 1
