"""Prometheus gauges of the latest stored profile per device (DESIGN §5): measured ceilings
and power, so dashboards show what each GPU actually achieves next to DCGM's live telemetry.

Labels are dcgm-exporter's (see DCGM_LABELS), so the measured ceilings join with its live
telemetry; README's Metrics section shows the joins. A custom collector reads the store at
scrape time, so a profile saved by a benchmark worker appears on the next scrape without any
push. Base units, no colons (Prometheus naming
practice, prometheus.io/docs/practices/naming, read 2026-11).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Iterator

from prometheus_client.core import GaugeMetricFamily

from flopwatt.bench.power import physical_gpu_index
from flopwatt.bench.store import ProfileStore, StoreDamaged

LOG = logging.getLogger(__name__)

# dcgm-exporter's own label names (github.com/NVIDIA/dcgm-exporter, its default counters CSV and
# its `gpu`, `UUID`, `device`, `modelName`, `Hostname` labels), so a PromQL join needs no
# label_replace: `gpu` = physical GPU index (as nvidia-smi and NVML number them), `UUID` =
# "GPU-...", `Hostname` = the host that ran the benchmark, `modelName` = the device's name.
# `device` is deliberately absent: dcgm-exporter uses it for the device file name ("nvidia0"),
# and flopwatt used to put the UUID there, so a join on it silently matched nothing.
# On a CPU profile `gpu` and `UUID` are empty (Prometheus drops empty labels).
DCGM_LABELS = ("gpu", "UUID", "Hostname", "modelName")
COMMON_LABELS = (*DCGM_LABELS, "hardware_id", "profile")


def _gpu_label(store: ProfileStore, summary) -> str:
    """The physical index of a CUDA profile's GPU, from its recorded logical index and
    CUDA_VISIBLE_DEVICES; empty when unknown (the UUID still joins). Reads the document, once
    per device per scrape: the index and environment are not summary columns."""
    if summary.device_kind != "cuda":
        return ""
    try:
        document = store.get(summary.id)
    except (LookupError, ValueError, sqlite3.Error, StoreDamaged) as error:  # a damaged row must not break the scrape
        LOG.warning("profile %s: no GPU index for the metrics: %s", summary.id, error)
        return ""
    environment = document.get("environment")
    variables = environment.get("variables") if isinstance(environment, dict) else None
    index = physical_gpu_index(document.get("device") or {}, variables if isinstance(variables, dict) else None)
    return "" if index is None else str(index)


class ProfileCollector:
    """Register with `prometheus_client.REGISTRY.register(ProfileCollector(store))`."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store

    def describe(self) -> list:
        """Empty: the metric set depends on the store, so registration must not call collect()."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        flops = GaugeMetricFamily(
            "flopwatt_profile_flops_per_second",
            "Best measured dense FLOP/s of the latest profile per device.",
            labels=("precision", "kind", *COMMON_LABELS),
        )
        bandwidth = GaugeMetricFamily(
            "flopwatt_profile_bytes_per_second",
            "Measured bandwidth (bytes read + written per second) of the latest profile per device.",
            labels=("kind", *COMMON_LABELS),
        )
        power = GaugeMetricFamily(
            "flopwatt_profile_power_watts",
            "Measured board power of the latest profile per device (idle and under each load).",
            labels=("state", *COMMON_LABELS),
        )
        try:
            summaries = self.store.latest_per_device()
        except StoreDamaged as error:  # the other metrics still scrape; the log says why these are empty
            LOG.error("profile gauges left empty: %s", error)
            summaries = []
        for summary in summaries:
            common = (
                _gpu_label(self.store, summary),
                summary.device_uuid or "",
                summary.host,
                summary.device_name,
                summary.hardware_id or "",
                f"profiles/{summary.id}",
            )
            for key, value in summary.ceilings.items():
                family, _, detail = key.partition(".")
                if family == "matmul_flops_per_second":
                    flops.add_metric((detail, "matmul", *common), value)
                elif family == "attention_flops_per_second":
                    flops.add_metric((detail, "attention", *common), value)
                elif family == "memory_bytes_per_second":
                    bandwidth.add_metric((detail, *common), value)
                elif family.endswith("_bytes_per_second") and not detail:
                    bandwidth.add_metric((family.removesuffix("_bytes_per_second"), *common), value)
            for state, watts in summary.power_watts.items():
                power.add_metric((state, *common), watts)
        yield flops
        yield bandwidth
        yield power
