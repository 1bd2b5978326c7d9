"""Hardware datasheets, model presets and software stacks: data files under data/, loaded into
dataclasses.

Every number carries a source and a date (see data/*.json). Catalog ids are stable API values.
"""

from flopwatt.estimate.catalog.entries import FrameworkSpec, HardwareSpec, ModelPreset, SourceRef, StepOptionValue
from flopwatt.estimate.catalog.loader import (
    CatalogError,
    CatalogLookupError,
    framework_names,
    get_framework,
    get_hardware,
    get_model_preset,
    list_frameworks,
    list_hardware,
    list_model_presets,
)

__all__ = [
    "CatalogError",
    "CatalogLookupError",
    "FrameworkSpec",
    "HardwareSpec",
    "ModelPreset",
    "SourceRef",
    "StepOptionValue",
    "framework_names",
    "get_framework",
    "get_hardware",
    "get_model_preset",
    "list_frameworks",
    "list_hardware",
    "list_model_presets",
]
