"""The estimator's own error for inputs that cannot form a scenario.

Why its own: the estimator knows no transport, yet a client must learn which input was wrong.
Each problem carries the request field path it concerns ("parallelism.tensor_parallel_size"),
so the API edge can turn it into INVALID_ARGUMENT naming the field, and a composer (campus,
sweeps) can re-root the paths under its own ("training.model.layer_count").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One bad input: the request field path and what is wrong with it."""

    field: str
    description: str


class ScenarioError(ValueError):
    """One or more inputs that cannot form a scenario."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        if not self.problems:
            raise ValueError("a ScenarioError needs at least one problem")
        super().__init__("; ".join(f"{p.field}: {p.description}" for p in self.problems))

    @classmethod
    def field(cls, field: str, description: str) -> "ScenarioError":
        return cls(Problem(field, description))

    def rerooted(self, prefix: str, suffix: str = "") -> "ScenarioError":
        """The same problems with `prefix` before each path (and `suffix` after each description)."""
        return ScenarioError([Problem(f"{prefix}{p.field}", f"{p.description}{suffix}") for p in self.problems])
