"""The measured profiles that ship with flopwatt: bench/results/*.json, package data of flopwatt.bench.

Why a module: they are read by `flopwatt bench import --shipped` (so a pip-installed flopwatt can
store them without knowing where site-packages put them) and by `flopwatt validate` (the datasheet
path against each measured GPU); both read them here, as committed (never edited)."""

from __future__ import annotations

import json
from importlib import resources


def shipped_profile_texts() -> list[tuple[str, str]]:
    """(file name, JSON text) of every shipped profile, by name."""
    folder = resources.files("flopwatt.bench") / "results"
    entries = sorted((e for e in folder.iterdir() if e.name.endswith(".json")), key=lambda e: e.name)
    return [(entry.name, entry.read_text()) for entry in entries]


def shipped_gpu_profiles() -> list[tuple[str, dict]]:
    """(file name, document) of every shipped profile measured on a CUDA device."""
    documents = [(name, json.loads(text)) for name, text in shipped_profile_texts()]
    return [(name, d) for name, d in documents if d.get("device", {}).get("kind") == "cuda"]
