"""Hardware datasheets, model presets, software stacks and serving engines: data files under data/, loaded into
dataclasses.

Every number carries a source and a date (see data/*.json). Catalog ids are stable API values.
"""

from flopwatt.estimate.catalog.entries import (
    EngineHardwareDefaults,
    EngineParameter,
    EngineSpec,
    FrameworkSpec,
    HardwareSpec,
    ModelPreset,
    SourceRef,
    StepOptionValue,
)
from flopwatt.estimate.catalog.loader import (
    CatalogError,
    CatalogLookupError,
    default_engine,
    engine_ids,
    framework_names,
    get_engine,
    get_framework,
    get_hardware,
    get_model_preset,
    list_engines,
    list_frameworks,
    list_hardware,
    list_model_presets,
)

__all__ = [
    "CatalogError",
    "CatalogLookupError",
    "EngineHardwareDefaults",
    "EngineParameter",
    "EngineSpec",
    "default_engine",
    "engine_ids",
    "get_engine",
    "list_engines",
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
