"""The one-way imports of the architecture, read from the sources' syntax trees (no import runs).

    kernels   imports nothing of the project
    bench     only flopwatt.kernels
    estimate  no grpc, protobuf, google.*, flopwatt.v1, flopwatt.bench or flopwatt.service;
              its physics never imports estimate/validation (validation imports the physics)
    service   may import everything

Every `import`, `from … import` (relative ones resolved) and `importlib.import_module("…")` with
a literal name counts, at module level or inside a function. bench/service_benchmarks/ holds
load scripts against the running service, not part of the installed `flopwatt.bench`, and is
exempt.
"""

from __future__ import annotations

import ast
import pathlib
from dataclasses import dataclass

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
# Folder → import path of the package it holds (pyproject's package-dir).
PACKAGES = {
    "kernels": "flopwatt.kernels",
    "bench": "flopwatt.bench",
    "estimate": "flopwatt.estimate",
    "service": "flopwatt.service",
}
EXEMPT = ("bench/service_benchmarks/",)
TRANSPORT = ("grpc", "grpc_status", "grpc_health", "grpc_reflection", "google", "flopwatt.v1")


@dataclass(frozen=True)
class Rule:
    """Modules under `package` may not import anything under a name in `forbidden`, except under `allowed`."""

    package: str
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    reason: str = ""
    excluding: str | None = None  # a subpackage the rule does not apply to


RULES = (
    Rule("flopwatt.kernels", ("flopwatt",), ("flopwatt.kernels",), "kernels import nothing of the project"),
    Rule("flopwatt.bench", ("flopwatt",), ("flopwatt.bench", "flopwatt.kernels"), "bench imports only the kernels"),
    Rule(
        "flopwatt.estimate",
        (*TRANSPORT, "flopwatt.bench", "flopwatt.service"),
        (),
        "the estimator knows no transport, benchmark core or service",
    ),
    Rule(
        "flopwatt.estimate",
        ("flopwatt.estimate.validation",),
        (),
        "the physics never imports its validation",
        excluding="flopwatt.estimate.validation",
    ),
)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_name(path: pathlib.Path) -> str:
    """The import path of a source file of the repository (folder = import path after `flopwatt.`)."""
    relative = path.relative_to(REPO)
    parts = list(relative.with_suffix("").parts)
    package = PACKAGES[parts[0]]
    rest = parts[1:]
    if rest and rest[-1] == "__init__":
        rest = rest[:-1]
    return ".".join([package, *rest])


def imported_names(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`."""
    names: list[tuple[int, str]] = []
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append((node.lineno, target))
            names += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and _is_import_module_call(node):
            names.append((node.lineno, node.args[0].value))
    return names


def _is_import_module_call(node: ast.Call) -> bool:
    function = node.func
    named = (isinstance(function, ast.Attribute) and function.attr == "import_module") or (
        isinstance(function, ast.Name) and function.id == "import_module"
    )
    return named and bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)


def violations(module: str, names: list[tuple[int, str]]) -> list[str]:
    found = []
    for rule in RULES:
        if not _under(module, rule.package) or (rule.excluding and _under(module, rule.excluding)):
            continue
        for line, name in names:
            if any(_under(name, f) for f in rule.forbidden) and not any(_under(name, a) for a in rule.allowed):
                found.append(f"{module}:{line} imports {name} ({rule.reason})")
    return found


def _sources() -> list[pathlib.Path]:
    files = []
    for folder in PACKAGES:
        for path in sorted((REPO / folder).rglob("*.py")):
            if not str(path.relative_to(REPO)).startswith(EXEMPT):
                files.append(path)
    return files


def test_every_import_follows_the_rules():
    found = []
    for path in _sources():
        module = module_name(path)
        found += violations(
            module, imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        )
    assert not found, "\n".join(found)


def test_the_packages_are_all_read():
    modules = {module_name(path) for path in _sources()}
    for package in PACKAGES.values():
        assert package in modules
    assert "flopwatt.estimate.scenarios" in modules and "flopwatt.estimate.validation.step_tables" in modules


@pytest.mark.parametrize(
    "module, source, expected",
    [
        ("flopwatt.kernels.gemm", "from flopwatt.bench import harness\n", "kernels import nothing"),
        ("flopwatt.bench.suites", "import flopwatt.estimate.catalog\n", "bench imports only the kernels"),
        ("flopwatt.estimate.training", "import grpc\n", "no transport"),
        ("flopwatt.estimate.training", "def f():\n    from google.protobuf import duration_pb2\n", "no transport"),
        ("flopwatt.estimate.catalog.loader", "from ...service.errors import NotFound\n", "no transport"),
        (
            "flopwatt.estimate.hardware",
            "import importlib\nimportlib.import_module('flopwatt.bench.store')\n",
            "no transport",
        ),
        (
            "flopwatt.estimate.step_time",
            "from flopwatt.estimate.validation import step_tables\n",
            "never imports its validation",
        ),
    ],
)
def test_a_broken_rule_is_reported(module, source, expected):
    """The checker itself can fail: each rule, broken once, is named."""
    found = violations(module, imported_names(source, module, is_package=False))
    assert found and expected in found[0]


@pytest.mark.parametrize(
    "module, source",
    [
        ("flopwatt.bench.suites", "from flopwatt.kernels import gemm\nfrom . import harness\n"),
        (
            "flopwatt.estimate.validation.whole_runs",
            "from flopwatt.estimate.planner import choose_plan\nfrom flopwatt.estimate.validation import mlperf\n",
        ),
        (
            "flopwatt.service.server",
            "import grpc\nfrom flopwatt.bench import store\nfrom flopwatt.estimate import training\n",
        ),
    ],
)
def test_allowed_imports_pass(module, source):
    assert violations(module, imported_names(source, module, is_package=False)) == []
