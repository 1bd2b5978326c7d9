"""The README's examples run as written: the Python client snippets against a live server, and
every `flopwatt ...` command whose output the README shows (scripts/readme_numbers.py --check
re-runs them and compares with the marked regions)."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import threading
import time

import pytest

from flopwatt.service.run_worker import TEST_DELAY_ENVIRONMENT_VARIABLE
from tests.conftest import run_server

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_estimate_example_runs(server, capsys):
    (example,) = [block for block in _python_blocks() if "EstimateTraining(" in block]
    exec(compile(example.replace("localhost:50051", server.address), "README.md", "exec"), {})  # noqa: S102 - our own README
    printed = capsys.readouterr().out
    assert "days" in printed and "planner" in printed, printed


def test_readme_national_example_runs_through_the_api(server, capsys):
    """The country's-assistant example (issue 12 item 6) runs against a server and answers what
    the README's `flopwatt estimate campus --users 1e7 ...` region shows."""
    (example,) = [block for block in _python_blocks() if "EstimateCampus(" in block]
    exec(compile(example.replace("localhost:50051", server.address), "README.md", "exec"), {})  # noqa: S102 - our own README
    printed = capsys.readouterr().out
    region = README.read_text().split("<!-- begin: campus-national -->", 1)[1].split("<!-- end: campus-national -->")[0]
    accelerators = re.search(r"^accelerators\s+([\d,]+)", region, flags=re.M).group(1)
    cost = re.search(r"^cost per user per month\s+([\d.]+)", region, flags=re.M).group(1)
    assert f"{accelerators} accelerators" in printed and f"{cost} USD per user per month" in printed, printed


def test_readme_benchmark_example_is_valid_python():
    (example,) = [block for block in _python_blocks() if "CreateBenchmarkRun(" in block]
    compile(example, "README.md", "exec")


def _run_benchmark_example(address: str, stub, metadata: tuple = ()) -> str:
    """Run the README's benchmark snippet in a thread; cancel its run once it exists (the server's
    test delay keeps the run in flight, so no suite is measured) and return what it printed."""
    import contextlib
    import io

    from flopwatt.v1 import benchmark_pb2

    (example,) = [block for block in _python_blocks() if "CreateBenchmarkRun(" in block]
    code = compile(example.replace("localhost:50051", address), "README.md", "exec")
    printed = io.StringIO()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            with contextlib.redirect_stdout(printed):
                exec(code, {})  # noqa: S102 - our own README
        except BaseException as error:  # reported to the test thread
            failure.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    runs = []
    while not runs and not failure and time.monotonic() < deadline:
        runs = stub.ListBenchmarkRuns(benchmark_pb2.ListBenchmarkRunsRequest(), timeout=5).benchmark_runs
        time.sleep(0.1)
    if runs:
        stub.CancelBenchmarkRun(
            benchmark_pb2.CancelBenchmarkRunRequest(name=runs[0].name), metadata=metadata, timeout=15
        )
    thread.join(30)
    assert not thread.is_alive(), "the README's benchmark example did not finish after its run was cancelled"
    if failure:
        raise failure[0]
    return printed.getvalue()


@pytest.mark.parametrize("auth_token", [None, "readme-example-token-0123456789"])
def test_readme_benchmark_example_runs(auth_token, tmp_path, monkeypatch):
    """The default setup has no token file and no FLOPWATT_AUTH_TOKEN: the snippet must still run
    (it used to open /run/secrets/flopwatt-token unconditionally); with the server's token in the
    environment it authenticates (the server would answer UNAUTHENTICATED otherwise)."""
    from flopwatt.v1 import benchmark_pb2_grpc

    monkeypatch.setenv(TEST_DELAY_ENVIRONMENT_VARIABLE, "120")
    if auth_token:
        monkeypatch.setenv("FLOPWATT_AUTH_TOKEN", auth_token)
    else:
        monkeypatch.delenv("FLOPWATT_AUTH_TOKEN", raising=False)
    with run_server(tmp_path, auth_token=auth_token) as server, server.channel() as channel:
        metadata = (("authorization", f"Bearer {auth_token}"),) if auth_token else ()
        printed = _run_benchmark_example(server.address, benchmark_pb2_grpc.BenchmarkServiceStub(channel), metadata)
    assert "STATE_CANCELLED" in printed, printed


def test_readme_numbers_are_what_the_commands_print():
    """Every marked region of the README (command outputs and the numbers quoted in prose) equals
    what its command prints now; `python scripts/readme_numbers.py --write` regenerates them. The
    machine-dependent benchmark figures are excluded by name and must say which machine measured them."""
    script = README.parent / "scripts" / "readme_numbers.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped (machine-dependent)" in result.stdout, result.stdout


def test_every_shown_command_output_is_a_generated_region():
    """A `flopwatt ...` output block written by hand would drift unnoticed: every console block
    (command and output) must sit inside a region that readme_numbers.py regenerates."""
    text = README.read_text()
    regions = [
        (m.start(), m.end()) for m in re.finditer(r"<!-- begin: [\w.-]+ -->.*?<!-- end: [\w.-]+ -->", text, flags=re.S)
    ]
    for block in re.finditer(r"```console\n", text):
        assert any(start < block.start() < end for start, end in regions), text[block.start() : block.start() + 200]
    assert len(regions) >= 10
