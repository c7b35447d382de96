"""`spotiflow check`: the quality checkpoint on the lake and the published marts."""

from __future__ import annotations

import argparse

from spotiflow.cli.arguments import Commands
from spotiflow.settings import Settings
from spotiflow.warehouse.quality import run_checkpoint


def register(commands: Commands) -> None:
    check = commands.add_parser("check", help="run the quality checkpoint on the lake and marts")
    check.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    report = run_checkpoint(settings)
    print(report.summary())
    return 0 if report.success else 1
