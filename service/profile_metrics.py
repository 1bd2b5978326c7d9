"""Prometheus gauges of the latest stored profile per device (DESIGN §5): measured ceilings
and power, so dashboards show what each GPU actually achieves next to DCGM's live telemetry.

A custom collector reads the store at scrape time, so a profile saved by a benchmark worker
appears on the next scrape without any push. Base units, no colons (Prometheus naming
practice, prometheus.io/docs/practices/naming, read 2026-11).
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client.core import GaugeMetricFamily

from flopwatt.bench.store import ProfileStore

COMMON_LABELS = ("device", "hardware_id", "profile")


def _device_label(summary) -> str:
    """UUID when known (joins with dcgm-exporter's `UUID`), else host/name for CPUs."""
    return summary.device_uuid or f"{summary.host}/{summary.device_name}"


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
        for summary in self.store.latest_per_device():
            common = (_device_label(summary), summary.hardware_id or "", f"profiles/{summary.id}")
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
