"""`spotiflow export --format F`: every mart written for other BI tools."""

from __future__ import annotations

import argparse
from pathlib import Path

from spotiflow.cli.arguments import Commands
from spotiflow.serve.export import export_marts
from spotiflow.settings import Settings


def register(commands: Commands) -> None:
    export = commands.add_parser("export", help="write every mart for other BI tools")
    export.add_argument("--format", choices=["parquet", "csv", "hyper"], required=True)
    export.add_argument(
        "--out", type=Path, help="the folder to write to (default: <data dir>/exports/<format>)"
    )
    export.add_argument(
        "--raw",
        action="store_true",
        help="csv: write text cells as they are, even one a spreadsheet would run as a formula "
        "(by default such a cell starts with ')",
    )
    export.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    out_dir = args.out or settings.exports_dir / args.format
    exported = export_marts(settings, args.format, out_dir, raw=args.raw)
    for table in exported:
        print(f"export: marts.{table.mart}: {table.rows} rows -> {table.path}")
    print(f"export: {len(exported)} marts as {args.format} in {out_dir}")
    return 0
