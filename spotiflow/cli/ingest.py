"""`spotiflow ingest KIND`: land one input file (or one API poll) into the lake."""

from __future__ import annotations

import argparse
import time

from spotiflow.cli.arguments import Commands, existing_file, existing_path
from spotiflow.land import (
    land_catalog,
    land_legacy_csv,
    land_recommendations,
    land_spotify_export,
    poll_spotify_api,
    print_report,
)
from spotiflow.settings import Settings


def register(commands: Commands) -> None:
    ingest = commands.add_parser("ingest", help="land one input file into the lake")
    kinds = ingest.add_subparsers(dest="kind", required=True, metavar="KIND")
    legacy = kinds.add_parser("legacy-csv", help="the original SpotiFlow listening-history CSV")
    legacy.add_argument("path", type=existing_file, metavar="PATH")
    legacy.add_argument("--user", help="whose plays these are (default: SPOTIFLOW_SAMPLE_USER)")
    catalog = kinds.add_parser("catalog", help="an audio-feature catalog (0..1 or percent scale)")
    catalog.add_argument("path", type=existing_file, metavar="PATH")
    catalog.add_argument("--scale", choices=["auto", "unit", "percent"], default="auto")
    catalog.add_argument("--encoding", default="auto", help="auto, utf-8, cp1252, latin-1, …")
    recs = kinds.add_parser("recommendations", help="a recommender output file (CSV or Parquet)")
    recs.add_argument("path", type=existing_file, metavar="PATH")
    export = kinds.add_parser(
        "spotify-export", help="a Spotify data export: the zip as mailed, or its folder"
    )
    export.add_argument("path", type=existing_path, metavar="PATH")
    export.add_argument(
        "--user",
        help="whose export this is, as the API polls name them (default: the export's own "
        "username where it has one, else SPOTIFLOW_SAMPLE_USER)",
    )
    api = kinds.add_parser("spotify-api", help="recently played plays from the Spotify Web API")
    api.add_argument("--user", help="whose account this is (default: the Spotify account id)")
    ingest.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.kind == "spotify-api":
        new_plays = poll_spotify_api(settings, args.user)
        print(f"spotify-api: {new_plays} new play(s)")
        return 0
    started = time.perf_counter()
    if args.kind == "legacy-csv":
        report = land_legacy_csv(settings, args.path, args.user or settings.sample_user)
    elif args.kind == "catalog":
        report = land_catalog(settings, args.path, args.scale, args.encoding)
    elif args.kind == "spotify-export":
        report = land_spotify_export(settings, args.path, args.user)
    else:
        report = land_recommendations(settings, args.path)
    print_report(report)
    if not report.already_landed:
        seconds = time.perf_counter() - started
        print(f"  read and landed in {seconds:.1f} s: {report.rows_in / seconds:,.0f} rows/s")
    return 0
