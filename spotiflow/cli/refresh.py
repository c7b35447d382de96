"""`spotiflow refresh`: poll the API, land dropped exports, compact, build and check (cron)."""

from __future__ import annotations

import argparse

from spotiflow.cli.arguments import Commands
from spotiflow.refresh.job import run_refresh
from spotiflow.refresh.steps import refresh_steps
from spotiflow.settings import Settings


def register(commands: Commands) -> None:
    refresh = commands.add_parser(
        "refresh",
        help="poll the API, land dropped exports, build and check: one command for cron",
    )
    refresh.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_refresh(settings, refresh_steps(settings))
