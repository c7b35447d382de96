"""`spotiflow forget LOAD_ID`: withdraw a committed load from the lake, then rebuild."""

from __future__ import annotations

import argparse

from ingest.lake.compaction import withdraw
from ingest.lake.landing import Lake
from spotiflow.cli.arguments import Commands
from spotiflow.settings import Settings
from spotiflow.warehouse.build import build


def register(commands: Commands) -> None:
    forget = commands.add_parser(
        "forget",
        help="withdraw a committed load from the lake (say its files were lost), then rebuild",
    )
    forget.add_argument("load_id", metavar="LOAD_ID", help="the load, as fct_loads names it")
    forget.add_argument(
        "--no-build", action="store_true", help="withdraw only; build --full-refresh later"
    )
    forget.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    removed = withdraw(Lake(settings.lake_dir), args.load_id)
    print(f"forget: load {args.load_id} withdrawn ({len(removed)} file(s) removed from the lake)")
    if args.no_build:
        print("forget: the next `spotiflow build` rebuilds every mart without it")
        return 0
    build(settings)
    return 0
