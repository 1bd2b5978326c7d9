"""Which model a request means: a preset with overrides, an explicit architecture, or a bare
parameter count, resolved to a ModelArchitecture with the assumptions that explain it.

Why here and not at the API edge: campus sizing and sweeps change a model field and resolve the
model again; doing that on dataclasses keeps the composition free of protobuf, and one resolver
serves the RPCs, the CLI and the composers alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flopwatt.estimate.accounting import parameter_counts
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.catalog import ModelPreset, get_model_preset
from flopwatt.estimate.memo import IdentityMemo
from flopwatt.estimate.quick_init import quick_init
from flopwatt.estimate.scenario_errors import Problem, ScenarioError

# Shape of a model synthesised from a bare parameter count: N ≈ 12·L·h² with the aspect ratio
# h/L = 128 of GPT-3-like models (Kaplan et al. 2020 §3.1 find loss flat in aspect ratio),
# head width 128, a 4h two-matrix MLP and a 32k vocabulary (Llama 2).
SYNTHETIC_HIDDEN_PER_LAYER = 128
SYNTHETIC_HEAD_DIM = 128
SYNTHETIC_VOCAB_SIZE = 32000
# Architecture fields a request may set (whole numbers > 0) and the flags (set or not).
ARCHITECTURE_FIELDS = (
    "layer_count",
    "hidden_size",
    "attention_head_count",
    "kv_head_count",
    "ffn_hidden_size",
    "vocab_size",
    "head_dim",
    "expert_count",
    "experts_per_token",
    "shared_expert_count",
    "dense_layer_count",
    "dense_ffn_hidden_size",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "max_routed_nodes_per_token",
)
ARCHITECTURE_FLAGS = ("tied_embeddings", "gated_mlp", "dropout")
REQUIRED_ARCHITECTURE_FIELDS = ("layer_count", "hidden_size", "attention_head_count", "ffn_hidden_size", "vocab_size")
# The largest model the estimator sizes: 10^15 weights, ~500x today's largest published (Kimi K2,
# DeepSeek-V3: ~10^12). Every architecture field can be within its own bound and still multiply
# out to 10^21 weights, whose memory overflows any counter a client reads; refused instead.
MAX_MODEL_PARAMETERS = 10**15


@quick_init
@dataclass(frozen=True)
class ModelChoice:
    """A request's model: `overrides` holds the architecture fields and flags it set, sorted by name."""

    preset_id: str = ""
    overrides: tuple[tuple[str, int | bool], ...] = ()
    parameter_count: float = 0.0
    active_parameter_count: float = 0.0

    def with_override(self, name: str, value: int | bool) -> "ModelChoice":
        """This choice with one more (or a replaced) architecture field."""
        overrides = dict(self.overrides)
        overrides[name] = value
        return ModelChoice(
            self.preset_id, tuple(sorted(overrides.items())), self.parameter_count, self.active_parameter_count
        )


@dataclass(frozen=True)
class ResolvedModel:
    architecture: ModelArchitecture
    active_parameter_count_override: float  # NaN: counts come from the architecture
    assumptions: tuple[Assumption, ...]


def _synthetic_architecture(parameter_count: float) -> ModelArchitecture:
    hidden = (parameter_count * SYNTHETIC_HIDDEN_PER_LAYER / 12.0) ** (1.0 / 3.0)
    hidden = max(SYNTHETIC_HEAD_DIM, int(round(hidden / SYNTHETIC_HEAD_DIM)) * SYNTHETIC_HEAD_DIM)
    layers = max(1, int(round(parameter_count / (12.0 * hidden * hidden))))
    heads = hidden // SYNTHETIC_HEAD_DIM
    return ModelArchitecture(layers, hidden, heads, heads, 4 * hidden, SYNTHETIC_VOCAB_SIZE, gated_mlp=False)


# Presets in the catalog: a few dozen; bounded like the other identity memos.
MAX_CACHED_PRESETS = 512
_PRESET_BASES: IdentityMemo[tuple[dict, Assumption]] = IdentityMemo(MAX_CACHED_PRESETS)


def _preset_basis(preset: ModelPreset) -> tuple[dict, Assumption]:
    """A preset's architecture fields and its "model" assumption: a pure function of the
    (frozen) preset, memoised per catalog entry (IdentityMemo: a reloaded entry is rebuilt)."""
    fields = {name: getattr(preset.architecture, name) for name in preset.architecture.__dataclass_fields__}
    source = "; ".join(f"{s.citation} ({s.date})" for s in preset.sources) or preset.name
    return fields, Assumption("model", preset.name, "preset", source)


def _same_counts(arch: ModelArchitecture, other: ModelArchitecture) -> bool:
    mine, theirs = parameter_counts(arch), parameter_counts(other)
    return float(mine.total) == float(theirs.total) and float(mine.active) == float(theirs.active)


def _count_conflicts(
    choice: ModelChoice, arch: ModelArchitecture, preset: ModelPreset | None, path: str
) -> list[Problem]:
    """Parameter counts set beside a preset or an architecture, which define the counts: they
    would be silently ignored (a sweep over model.parameter_count of a preset would return the
    same point N times), so they are refused — except the preset's own published counts, which
    a ModelSpec copied from ListModels carries."""
    problems = []
    for name in ("parameter_count", "active_parameter_count"):
        value = getattr(choice, name)
        if value <= 0 or (
            preset is not None and value == getattr(preset, name) and _same_counts(arch, preset.architecture)
        ):
            continue
        owner = f"preset {choice.preset_id!r}" if preset is not None else "the architecture fields"
        problems.append(
            Problem(
                f"{path}.{name}",
                f"{owner} defines the parameter count; leave {name} unset, or drop the "
                "preset and architecture fields to size a model by parameter count alone",
            )
        )
    return problems


def _architecture_problems(arch: ModelArchitecture, path: str) -> list[Problem]:
    problems = []
    total = float(parameter_counts(arch).total)
    if total > MAX_MODEL_PARAMETERS:
        problems.append(
            Problem(
                path,
                f"the architecture has {total:.3g} parameters; at most {MAX_MODEL_PARAMETERS:.0e}, "
                "the bound on parameter_count",
            )
        )
    if arch.kv_head_count > arch.attention_head_count or arch.attention_head_count % arch.kv_head_count:
        problems.append(Problem(f"{path}.kv_head_count", "must divide attention_head_count"))
    if not arch.head_dim and arch.hidden_size % arch.attention_head_count:
        problems.append(Problem(f"{path}.attention_head_count", "must divide hidden_size (or set head_dim)"))
    if arch.expert_count > 1 and not 1 <= arch.experts_per_token <= arch.expert_count:
        problems.append(Problem(f"{path}.experts_per_token", "must be between 1 and expert_count"))
    if arch.dense_layer_count > arch.layer_count:
        problems.append(Problem(f"{path}.dense_layer_count", "must not exceed layer_count"))
    if arch.qk_rope_head_dim and not arch.kv_lora_rank:
        problems.append(Problem(f"{path}.qk_rope_head_dim", "only with kv_lora_rank (MLA)"))
    return problems


# A preset named with nothing else resolved once per (catalog entry, path): the architecture, its
# checks and the assumption are then a pure function of the frozen entry (issue 14 item 23: ~6 µs
# of the fixed-plan estimate). Bounded like the preset memo; a reloaded entry is resolved afresh.
_PLAIN_PRESETS: IdentityMemo[ResolvedModel] = IdentityMemo(MAX_CACHED_PRESETS)


def resolve_model(choice: ModelChoice, path: str = "model") -> ResolvedModel:
    """The architecture a choice means. Raises CatalogLookupError for an unknown preset and
    ScenarioError (paths under `path`) for an incomplete or inconsistent architecture."""
    if choice.preset_id and not choice.overrides and choice.parameter_count <= 0 and choice.active_parameter_count <= 0:
        preset = get_model_preset(choice.preset_id)
        return _PLAIN_PRESETS.get((preset.id, path), preset, lambda: _resolve(choice, path))
    return _resolve(choice, path)


def _resolve(choice: ModelChoice, path: str) -> ResolvedModel:
    """resolve_model without the memo of plain presets."""
    assumptions: list[Assumption] = []
    base: dict = {}
    preset = None
    if choice.preset_id:
        preset = get_model_preset(choice.preset_id)
        fields, model_assumption = _PRESET_BASES.get(preset.id, preset, lambda: _preset_basis(preset))
        base = dict(fields)  # updated with the request's overrides below: the memo's stays intact
        assumptions.append(model_assumption)
    overrides = dict(choice.overrides)
    base.update(overrides)
    if overrides and choice.preset_id:
        assumptions.append(
            Assumption(
                "model_overrides",
                ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())),
                "request",
                "fields set in the request replace the preset's",
            )
        )
    if all(base.get(name) for name in REQUIRED_ARCHITECTURE_FIELDS):
        base.setdefault("kv_head_count", 0)
        if not base["kv_head_count"]:
            base["kv_head_count"] = base["attention_head_count"]
        arch = ModelArchitecture(**base)
        problems = _architecture_problems(arch, path) + _count_conflicts(choice, arch, preset, path)
        if problems:
            raise ScenarioError(problems)
        return ResolvedModel(arch, math.nan, tuple(assumptions))
    if choice.parameter_count > 0 and not base:
        active = choice.active_parameter_count or choice.parameter_count
        arch = _synthetic_architecture(float(active))
        assumptions.append(
            Assumption(
                "architecture",
                f"synthesised: {arch.layer_count} layers × hidden {arch.hidden_size}",
                "derived",
                "only a parameter count was given: model FLOPs use 6·N·D (Kaplan et al. 2020); step time uses a GPT-like "
                "shape with hidden/layers = 128, head width 128, MLP 4h, vocabulary 32k",
            )
        )
        return ResolvedModel(arch, float(active), tuple(assumptions))
    missing = [name for name in REQUIRED_ARCHITECTURE_FIELDS if not base.get(name)]
    raise ScenarioError(
        [Problem(f"{path}.{name}", "required without a preset_id or parameter_count") for name in missing]
        or [Problem(path, "give a preset_id, an architecture or a parameter_count")]
    )
