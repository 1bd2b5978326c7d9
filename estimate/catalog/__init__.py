"""Hardware datasheets and model presets: data files under data/, loaded into dataclasses.

Every number carries a source and a date (see data/*.json). Catalog ids are stable API values.
"""

from flopwatt.estimate.catalog.entries import HardwareSpec, ModelPreset, SourceRef
from flopwatt.estimate.catalog.loader import (
    CatalogError,
    CatalogLookupError,
    get_hardware,
    get_model_preset,
    list_hardware,
    list_model_presets,
)

__all__ = [
    "CatalogError",
    "CatalogLookupError",
    "HardwareSpec",
    "ModelPreset",
    "SourceRef",
    "get_hardware",
    "get_model_preset",
    "list_hardware",
    "list_model_presets",
]
