"""deploy/grafana/flopwatt.json (issue 14 item 16): it parses as a Grafana dashboard, and every
PromQL query in it (panel targets and template variables) names only metrics this service
exports, collected from the registry a server builds (create_metrics + ProfileCollector), so a
renamed metric breaks this test instead of silently emptying a panel."""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from flopwatt.bench.store import ProfileStore
from flopwatt.service.metrics import create_metrics
from flopwatt.service.profile_metrics import ProfileCollector

DASHBOARD = pathlib.Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "flopwatt.json"
# PromQL words that are not metric names (aggregations, functions and operators are skipped
# anyway when followed by "("; these also appear bare).
PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
}
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers left once strings, label
    matchers, ranges and label lists are removed, other than functions and keywords."""
    label_values = re.match(r"\s*label_values\(\s*(.*?)\s*(?:,[^,]*)?\)\s*$", expr)
    if label_values:  # Grafana's template function: its first argument is a selector
        return metric_names(label_values.group(1))
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _LABEL_LIST.sub("", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[match.end() :].lstrip().startswith("(") or match.group(0).lower() in PROMQL_KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def exported_names(tmp_path: pathlib.Path) -> set[str]:
    """Every series name the service's registry can expose, whether or not it has samples yet
    (a labelled counter has none until first use), spelled as in the exposition format."""
    metrics = create_metrics()
    metrics.register_collector(ProfileCollector(ProfileStore(tmp_path / "flopwatt.sqlite3")))
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("", "_sum", "_count"),
        "info": ("_info",),
    }
    names = set()
    for family in metrics.registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def _queries(dashboard: dict) -> list[str]:
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def test_dashboard_parses_and_has_distinct_panels():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 8
    for panel in dashboard["panels"]:
        assert panel["targets"] and set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert all(target["expr"].strip() for target in panel["targets"])


def test_every_query_names_only_metrics_the_service_exports(tmp_path):
    exported = exported_names(tmp_path)
    assert {
        "flopwatt_gpu_energy_joules_total",
        "flopwatt_profile_flops_per_second",
        "grpc_server_handling_seconds_bucket",
    } <= exported
    used = set()
    for query in _queries(json.loads(DASHBOARD.read_text())):
        names = metric_names(query)
        assert names, f"no metric found in {query!r}"
        assert names <= exported, f"{query!r} names {sorted(names - exported)}, which the service does not export"
        used |= names
    assert {
        "flopwatt_profile_flops_per_second",
        "flopwatt_gpu_energy_joules_total",
        "flopwatt_benchmark_queue_depth",
    } <= used


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            'sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket{instance=~"$instance"}[$__rate_interval]))',
            {"grpc_server_handling_seconds_bucket"},
        ),
        (
            "flopwatt_profile_power_watts * on(UUID) group_left(modelName) DCGM_FI_DEV_POWER_USAGE",
            {"flopwatt_profile_power_watts", "DCGM_FI_DEV_POWER_USAGE"},
        ),
        ("label_values(flopwatt_build_info, instance)", {"flopwatt_build_info"}),
        ('histogram_quantile(0.99, x_bucket{a="b(c)"}) > bool 2', {"x_bucket"}),
    ],
)
def test_metric_names_are_read_from_promql(expr, expected):
    assert metric_names(expr) == expected
