"""Argument types the commands share: each refuses a bad value with a one-line message."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

# What each command module adds its parser to (argparse's sub-parsers).
Commands = argparse._SubParsersAction


def existing_path(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value}: no such file or folder")
    return path


def existing_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value}: no such file")
    return path


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value}: expected a date like 2026-06-01") from None
