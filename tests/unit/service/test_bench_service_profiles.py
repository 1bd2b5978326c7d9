"""Catalog identification, plausibility warnings, the ListProfiles/GetProfile handlers and the
Prometheus collector."""

from __future__ import annotations

import copy

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from flopwatt.bench.store import ProfileStore
from flopwatt.estimate.catalog.entries import HardwareSpec
from flopwatt.estimate.profile_checks import annotate_profile, identify_hardware
from flopwatt.service.api.profiles import decode_page_token, encode_page_token, get_profile, list_profiles
from flopwatt.service.errors import InvalidArgument, NotFound
from flopwatt.service.profile_metrics import ProfileCollector
from flopwatt.v1 import benchmark_pb2
from tests.profile_documents import minimal_profile

H100 = HardwareSpec(
    id="h100-sxm",
    name="NVIDIA H100 SXM5 80GB",
    vendor="NVIDIA",
    peak_flops_per_second={"bf16": 989.4e12, "fp8": 1978.9e12, "fp32": 66.9e12},
    memory_bytes=80 * 2**30,
    memory_bandwidth_bytes_per_second=3.35e12,
    intra_node_bandwidth_bytes_per_second=450e9,
    scale_out_bandwidth_bytes_per_second=50e9,
    tdp_watts=700.0,
    accelerators_per_node=8,
)
H100_PCIE = HardwareSpec(**{**H100.__dict__, "id": "h100-pcie", "name": "NVIDIA H100 PCIe"})
CATALOG = [H100, H100_PCIE]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA A100-SXM4-80GB", None),
        ("Quadro RTX 4000", None),
    ],
)
def test_identify_hardware(name, expected):
    assert identify_hardware({"kind": "cuda", "name": name}, CATALOG) == expected


def h100_profile(bf16: float, triad: float, load_watts: float) -> dict:
    document = minimal_profile()
    document["device"] = {
        "kind": "cuda",
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": "GPU-1",
        "hardware_id": None,
        "sm_count": 132,
    }
    document["ceilings"] = {"matmul_flops_per_second": {"bf16": bf16}, "memory_bytes_per_second": {"triad": triad}}
    document.pop("power_unavailable_reason")
    document["power"] = {
        "idle_watts": 70.0,
        "load_watts": {"gemm_bf16": load_watts},
        "joules_per_flop": {"bf16": 1e-12},
        "joules_per_byte": 1e-10,
    }
    return document


def test_plausible_h100_profile_has_no_warnings():
    document = annotate_profile(h100_profile(bf16=794e12, triad=2.97e12, load_watts=690.0), CATALOG)
    assert document["device"]["hardware_id"] == "h100-sxm" and document["warnings"] == []


def test_implausible_results_are_flagged():
    above = annotate_profile(h100_profile(bf16=1200e12, triad=1.0e12, load_watts=900.0), CATALOG)
    text = " | ".join(above["warnings"])
    assert "above the h100-sxm datasheet peak" in text
    assert "memory triad" in text and "30%" in text
    assert "TDP" in text
    below = annotate_profile(h100_profile(bf16=300e12, triad=3.0e12, load_watts=500.0), CATALOG)
    assert below["warnings"] == [next(w for w in below["warnings"] if "only 30%" in w)]


def test_unknown_gpu_gets_a_warning_not_a_guess():
    document = h100_profile(794e12, 2.9e12, 600.0)
    document["device"]["name"] = "NVIDIA Mystery 9000"
    annotate_profile(document, CATALOG)
    assert document["device"]["hardware_id"] is None and "not in the hardware catalog" in document["warnings"][0]


@pytest.fixture()
def store(tmp_path):
    store = ProfileStore(tmp_path / "flopwatt.sqlite3")
    for day in range(1, 4):
        document = annotate_profile(h100_profile(790e12 + day * 1e12, 2.9e12, 600.0), CATALOG)
        document["created_time"] = f"2026-11-0{day}T00:00:00Z"
        store.save(document)
    cpu = minimal_profile()
    store.save(cpu)
    return store


def test_list_profiles_pages_through_everything(store):
    first = list_profiles(benchmark_pb2.ListProfilesRequest(page_size=3), store)
    assert len(first.profiles) == 3 and first.next_page_token
    second = list_profiles(benchmark_pb2.ListProfilesRequest(page_size=3, page_token=first.next_page_token), store)
    assert len(second.profiles) == 1 and second.next_page_token == ""
    newest = first.profiles[0]
    assert newest.device_kind == "cpu" and newest.create_time.seconds > first.profiles[1].create_time.seconds
    assert first.profiles[1].ceilings["matmul_flops_per_second.bf16"] == pytest.approx(793e12)
    assert first.profiles[1].profile_json == ""  # the document only comes with GetProfile
    default = list_profiles(benchmark_pb2.ListProfilesRequest(), store)
    assert len(default.profiles) == 4


@pytest.mark.parametrize(
    "request_kwargs, field",
    [({"page_size": -1}, "page_size"), ({"page_size": 1001}, "page_size"), ({"page_token": "garbage!"}, "page_token")],
)
def test_list_profiles_rejects_bad_paging(store, request_kwargs, field):
    with pytest.raises(InvalidArgument) as caught:
        list_profiles(benchmark_pb2.ListProfilesRequest(**request_kwargs), store)
    assert caught.value.violations[0].field == field


def test_page_token_round_trip_and_forgery():
    assert decode_page_token(encode_page_token(17)) == 17
    with pytest.raises(InvalidArgument):
        decode_page_token(encode_page_token(17)[:-3] + "xyz")


def test_get_profile(store):
    listed = list_profiles(benchmark_pb2.ListProfilesRequest(page_size=1), store).profiles[0]
    response = get_profile(benchmark_pb2.GetProfileRequest(name=listed.name), store)
    assert response.profile.name == listed.name and '"schema_version": 1' in response.profile.profile_json
    bare = get_profile(benchmark_pb2.GetProfileRequest(name=listed.name.split("/")[1]), store)
    assert bare.profile.name == listed.name
    with pytest.raises(NotFound):
        get_profile(benchmark_pb2.GetProfileRequest(name="profiles/0000000000000000"), store)
    with pytest.raises(InvalidArgument):
        get_profile(benchmark_pb2.GetProfileRequest(name=""), store)


def test_collector_exposes_latest_profile_per_device(store):
    registry = CollectorRegistry()
    registry.register(ProfileCollector(store))
    text = generate_latest(registry).decode()
    # dcgm-exporter's label names (issue 14 item 16; this test used to pin `device="GPU-1"`)
    h100_lines = [
        l
        for l in text.splitlines()
        if l.startswith("flopwatt_profile_flops_per_second") and 'UUID="GPU-1"' in l and 'precision="bf16"' in l
    ]
    assert len(h100_lines) == 1 and float(h100_lines[0].rsplit(" ", 1)[1]) == pytest.approx(793e12)
    h100 = 'Hostname="test-host",UUID="GPU-1",gpu="0",hardware_id="h100-sxm"'
    assert f'flopwatt_profile_bytes_per_second{{{h100},kind="triad",modelName="NVIDIA H100 80GB HBM3"' in text
    assert f'flopwatt_profile_power_watts{{{h100},modelName="NVIDIA H100 80GB HBM3"' in text and 'state="idle"' in text
    assert 'Hostname="test-host",UUID="",gpu="",hardware_id="",kind="matmul",modelName="Test CPU"' in text
    assert "device=" not in text
    assert ":" not in "".join(l.split("{")[0] for l in text.splitlines() if not l.startswith("#"))


@pytest.mark.parametrize(
    ("variables", "index", "expected_gpu"),
    [({}, 1, "1"), ({"CUDA_VISIBLE_DEVICES": "3,1"}, 0, "3"), ({"CUDA_VISIBLE_DEVICES": "GPU-aaaa"}, 0, "")],
)
def test_collector_gpu_label_is_the_physical_index(tmp_path, variables, index, expected_gpu):
    """dcgm-exporter's `gpu` is the physical index; torch's logical index differs under
    CUDA_VISIBLE_DEVICES, so the profile's recorded mask maps it (a UUID mask: UUID only)."""
    store = ProfileStore(tmp_path / "flopwatt.sqlite3")
    document = h100_profile(790e12, 2.9e12, 600.0)
    document["device"]["index"] = index
    document["environment"] = {"torch": "2.13", "variables": variables}
    store.save(document)
    registry = CollectorRegistry()
    registry.register(ProfileCollector(store))
    text = generate_latest(registry).decode()
    assert f'UUID="GPU-1",gpu="{expected_gpu}"' in text


def test_expected_h100_quick_suite_ceilings_pass_the_real_catalog():
    """The ranges the first H100 session should see (docs/benchmarks.md checklist) raise no
    warning against the shipped catalog, while the failure modes the review found do."""
    document = h100_profile(bf16=760e12, triad=2.95e12, load_watts=690.0)
    document["ceilings"] = {
        "matmul_flops_per_second": {"fp32": 50e12, "tf32": 380e12, "bf16": 760e12, "fp16": 760e12, "fp8": 1300e12},
        "memory_bytes_per_second": {"copy": 2.9e12, "triad": 2.95e12, "read": 3.1e12},
        "attention_flops_per_second": {"bf16": 450e12, "fp16": 450e12},
    }
    assert annotate_profile(copy.deepcopy(document))["warnings"] == []
    document["ceilings"]["memory_bytes_per_second"]["read"] = 1.6e12  # one load per thread, 1024 threads/SM
    document["ceilings"]["attention_flops_per_second"]["bf16"] = 1150e12  # causal FLOPs not halved
    warnings = " | ".join(annotate_profile(document)["warnings"])
    assert "memory read" in warnings and "attention bf16" in warnings
