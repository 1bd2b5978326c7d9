"""The README's Python client example runs as written against a live server."""

from __future__ import annotations

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_estimate_example_runs(server, capsys):
    (example,) = [block for block in _python_blocks() if "EstimateTraining(" in block]
    exec(compile(example.replace("localhost:50051", server.address), "README.md", "exec"), {})  # noqa: S102 - our own README
    printed = capsys.readouterr().out
    assert "days" in printed and "planner" in printed, printed


def test_readme_benchmark_example_is_valid_python():
    (example,) = [block for block in _python_blocks() if "CreateBenchmarkRun(" in block]
    compile(example, "README.md", "exec")
