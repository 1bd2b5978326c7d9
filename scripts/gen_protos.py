"""Regenerate the Python protobuf and gRPC code under flopwatt/v1 from protos/.

Run as `python scripts/gen_protos.py` (or `make proto`). `--check` regenerates into a
temporary directory and exits 1 when the committed files differ, which is how the test suite
catches stale generated code.
"""

from __future__ import annotations

import argparse
import filecmp
import pathlib
import shutil
import sys
import tempfile

import grpc_tools
from grpc_tools import protoc

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "protos"
PACKAGE_DIR = pathlib.Path("flopwatt") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def _include_paths() -> list[str]:
    """The well-known types ship in grpc_tools; google/type and google/rpc in googleapis-common-protos."""
    import google.type.money_pb2 as money  # noqa: PLC0415 - only the install location is needed

    wkt = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    googleapis_root = pathlib.Path(money.__file__).parent.parent.parent
    return [str(PROTO_ROOT), str(wkt), str(googleapis_root)]


def generate(output_root: pathlib.Path) -> list[pathlib.Path]:
    """Generate code for every .proto under protos/flopwatt/v1 into output_root/flopwatt/v1."""
    proto_files = sorted((PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))
    if not proto_files:
        raise SystemExit(f"no .proto files under {PROTO_ROOT / PACKAGE_DIR}")
    (output_root / PACKAGE_DIR).mkdir(parents=True, exist_ok=True)
    args = ["grpc_tools.protoc"]
    args += [f"-I{path}" for path in _include_paths()]
    args += [
        f"--python_out={output_root}",
        f"--pyi_out={output_root}",
        f"--grpc_python_out={output_root}",
    ]
    args += [str(p.relative_to(PROTO_ROOT)) for p in proto_files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p for p in (output_root / PACKAGE_DIR).iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args(argv)
    target_dir = REPO_ROOT / PACKAGE_DIR
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(pathlib.Path(tmp))
        fresh_names = {p.name for p in fresh}
        committed_names = {p.name for p in target_dir.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}
        if args.check:
            stale = sorted(
                name
                for name in fresh_names | committed_names
                if name not in fresh_names
                or name not in committed_names
                or not filecmp.cmp(target_dir / name, pathlib.Path(tmp) / PACKAGE_DIR / name, shallow=False)
            )
            if stale:
                print("generated code is stale: " + ", ".join(stale) + " (run `make proto`)", file=sys.stderr)
                return 1
            return 0
        for name in committed_names - fresh_names:
            (target_dir / name).unlink()
        for path in fresh:
            shutil.copyfile(path, target_dir / path.name)
    print(f"generated {len(fresh)} files in {target_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
