"""The `flopwatt` command line: one entry point, one module per sub-command.

Each module in COMMAND_MODULES exposes `register(subparsers)`, which adds its parser and sets
`handler=run` with `run(args) -> int`. Modules import heavy dependencies (torch, numba, grpc
servers) inside `run`, so `flopwatt health` (Docker's HEALTHCHECK) starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from typing import Iterator, Sequence

COMMAND_MODULES = ("serve", "health", "bench", "report", "estimate", "validate", "sweep")


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2, no traceback."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the service's domain errors (bad field, unknown id, unmet precondition) raised by an
    in-process handler into one-line CliErrors: every command that calls the API code uses this,
    so none of them leaks a traceback for an error the server would answer with a status."""
    from flopwatt.estimate.catalog import CatalogLookupError
    from flopwatt.service.errors import InvalidArgument, ServiceError

    try:
        yield
    except CatalogLookupError as error:
        raise CliError(str(error)) from None
    except InvalidArgument as error:
        raise CliError("; ".join(f"{v.field}: {v.description}" for v in error.violations)) from None
    except ServiceError as error:
        raise CliError(error.message) from None


def build_parser() -> argparse.ArgumentParser:
    from flopwatt import __version__

    parser = argparse.ArgumentParser(
        prog="flopwatt",
        description="Estimate and measure what training and serving large neural networks cost.",
    )
    parser.add_argument("--version", action="version", version=f"flopwatt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        module_name = f"flopwatt.service.cli.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:  # sub-command not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CliError as error:
        print(f"flopwatt {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"flopwatt {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`flopwatt sweep ... | head`): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
