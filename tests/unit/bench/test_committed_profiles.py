"""The measured profiles under bench/results/ stay valid and self-consistent.

Why: they are the project's measured data (docs/benchmarks.md, bench/results/README.md) and
ship as package data. A profile that no longer validates after a schema change, or whose
ceilings no longer follow from its own timed results (a hand edit), must fail here rather
than be read as calibration input."""

from __future__ import annotations

import json
import pathlib

import pytest

from flopwatt.bench.profile import derive_ceilings, validate_profile

RESULTS = pathlib.Path(__file__).resolve().parents[3] / "bench" / "results"
PROFILES = sorted(RESULTS.glob("*.json"))


def test_the_measured_h100_profiles_are_committed():
    assert {"h100-sxm-full.json", "h100-sxm-quick.json"} <= {path.name for path in PROFILES}


@pytest.mark.parametrize("path", PROFILES, ids=lambda path: path.name)
def test_a_committed_profile_validates_and_its_ceilings_follow_from_its_results(path):
    document = json.loads(path.read_text())
    validate_profile(document, source=path.name)
    assert document["device"]["kind"] == "cuda"
    assert derive_ceilings(document["results"]) == document["ceilings"]
    assert path.name in (RESULTS / "README.md").read_text()
