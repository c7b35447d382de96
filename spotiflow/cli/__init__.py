"""`spotiflow`: one command per user task, a module each. Errors print one line and exit
non-zero."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from spotiflow.cli import (
    auth,
    build,
    check,
    compact,
    dashboard,
    demo,
    export,
    forget,
    generate,
    ingest,
    recommend,
    refresh,
    summary,
    user,
)
from spotiflow.errors import SpotiflowError, known_failure_line
from spotiflow.settings import Settings

# In the order `spotiflow --help` lists them.
COMMANDS = (
    ingest, auth, user, build, forget, refresh, compact, check, recommend, generate, export,
    dashboard, summary, demo,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spotiflow",
        description="Land listening data into the Parquet lake and build SpotiFlow's marts.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    # The lake, the warehouse, logs and state hold people's listening: user-only, always.
    os.umask(0o077)
    try:
        return handler(args, Settings.from_env())
    except SpotiflowError as error:
        print(f"spotiflow: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("spotiflow: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last guard: no traceback reaches the user
        if os.environ.get("SPOTIFLOW_DEBUG"):
            raise
        line = known_failure_line(error)
        if line is not None:  # the filesystem said no (disk full, read-only, permissions)
            print(f"spotiflow: error: {line}", file=sys.stderr)
            return 2
        print(
            f"spotiflow: unexpected error: {type(error).__name__}: {error} "
            "(set SPOTIFLOW_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return 1
