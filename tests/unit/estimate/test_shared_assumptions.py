"""Assumptions built once and shared (so the response encoder finds them by identity) equal the
ones built per estimate before."""

from flopwatt.estimate import constants as C
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.catalog import get_hardware
from flopwatt.estimate.hardware import shared_datasheet_hardware_model
from flopwatt.estimate.scenarios import accelerator_power_assumptions, precision_assumption


def test_precision_assumption_equals_the_uncached_one_and_is_shared():
    for precision in ("bf16", "fp8"):
        for chosen in (False, True):
            built = precision_assumption.__wrapped__(precision, chosen)
            assert built == Assumption(
                "precision", precision, "request" if chosen else "default", "unspecified precision means bf16"
            )
            assert precision_assumption(precision, chosen) == built
            assert precision_assumption(precision, chosen) is precision_assumption(precision, chosen)


def test_tdp_power_assumption_text_unchanged():
    hw = shared_datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    if hw.has_measured_power or not hw.tdp_watts > 0:
        return
    (assumption,) = accelerator_power_assumptions(hw)
    assert assumption == Assumption(
        "accelerator_power",
        f"{C.TRAINING_POWER_FRACTION_OF_TDP:.0%} of TDP when busy, {C.IDLE_POWER_FRACTION_OF_TDP:.0%} idle",
        "default",
        "measured 8×H100 training nodes draw ≤ 76 % of nameplate (arXiv 2506.14551, 2025)",
    )
    assert accelerator_power_assumptions(hw)[0] is assumption


def test_goodput_choice_fast_paths_equal_the_loops():
    from flopwatt.estimate.run_cost import GoodputInputs
    from flopwatt.estimate.scenarios import MODELLED_GOODPUT, GoodputChoice

    assert GoodputChoice().assumptions() == list(MODELLED_GOODPUT)
    assert GoodputChoice().inputs() == GoodputInputs()
    zero = GoodputChoice(checkpoint_interval_seconds=0.0)  # set to 0: the Young/Daly optimum, from the request
    assert [a.origin for a in zero.assumptions()].count("request") == 1
    assert zero.inputs() == GoodputInputs(checkpoint_interval_seconds=0.0)
