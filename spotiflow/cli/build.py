"""`spotiflow build`: dbt build (models and tests), the quality checkpoint, publication."""

from __future__ import annotations

import argparse

from spotiflow.cli.arguments import Commands
from spotiflow.settings import Settings
from spotiflow.warehouse.build import build


def register(commands: Commands) -> None:
    parser = commands.add_parser("build", help="dbt build (models + tests), then quality checks")
    parser.add_argument("--no-checks", action="store_true", help="skip the quality checkpoint")
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild incremental models from the lake"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    build(settings, run_checks=not args.no_checks, full_refresh=args.full_refresh)
    return 0
