"""`spotiflow summary`: scores, top songs and predicted vs actual, printed from the marts."""

from __future__ import annotations

import argparse

from spotiflow.cli.arguments import Commands
from spotiflow.serve.summary import print_summary
from spotiflow.settings import Settings


def register(commands: Commands) -> None:
    summary = commands.add_parser("summary", help="print scores, top songs, predicted vs actual")
    summary.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    print_summary(settings)
    return 0
