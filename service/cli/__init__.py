"""The `flopwatt` command line: one entry point, one module per sub-command.

Each sub-command module exposes `register(subparsers)`, which adds its parser and sets
`handler=run` with `run(args) -> int`. Modules import heavy dependencies (torch, numba, grpc
servers) inside `run`, so `flopwatt health` (Docker's HEALTHCHECK) starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from flopwatt.service.cli import bench, estimate, health, report, serve, sweep, validate
from flopwatt.service.cli.errors import CliError, user_errors

__all__ = ["CliError", "SubcommandParser", "build_parser", "main", "user_errors"]


class SubcommandParser(argparse.ArgumentParser):
    """The parser of a sub-command (`flopwatt estimate training`, `flopwatt report campus`, ...):
    it rejects arguments it does not know itself.

    Why: argparse lets a sub-parser parse only the arguments it knows and hands the rest up to
    the top-level parser, which then answers a misspelt flag of `flopwatt estimate training` with
    `usage: flopwatt [-h] [--version] COMMAND ...`, a usage that names none of the flags the user
    was looking for. The innermost sub-parser erroring here prints its own usage instead.
    """

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    from flopwatt import __version__

    parser = argparse.ArgumentParser(
        prog="flopwatt",
        description="Estimate and measure what training and serving large neural networks cost.",
    )
    parser.add_argument("--version", action="version", version=f"flopwatt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=SubcommandParser)
    subparsers.required = True
    for command in (serve, health, bench, report, estimate, validate, sweep):
        command.register(subparsers)
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
