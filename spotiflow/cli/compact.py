"""`spotiflow compact`: merge the lake's small files into larger ones, rows unchanged."""

from __future__ import annotations

import argparse

from spotiflow.cli.arguments import Commands
from spotiflow.land import compact_lake
from spotiflow.settings import Settings


def register(commands: Commands) -> None:
    compact = commands.add_parser(
        "compact",
        help="merge the lake's small files (one per load) into larger ones, rows unchanged",
    )
    compact.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not compact_lake(settings):
        print(
            "compact: nothing to merge (no entity has two files under "
            f"{settings.compact_target_rows:,} rows, SPOTIFLOW_COMPACT_TARGET_ROWS)"
        )
        return 0
    print(
        "compact: the next build reads the merged files; the files they replace leave the lake "
        "once it is published (the published build's sources read them until then)"
    )
    return 0
