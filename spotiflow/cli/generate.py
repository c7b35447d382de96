"""`spotiflow generate`: land a synthetic population through the sources' own landing."""

from __future__ import annotations

import argparse

from ingest.lake.landing import Lake, LoadReport
from spotiflow.cli.arguments import Commands, iso_date
from spotiflow.errors import SpotiflowError
from spotiflow.land import print_report
from spotiflow.settings import Settings
from spotiflow.simulate.params import PLANNED_TREATMENT_SHARE, GeneratorParams
from spotiflow.simulate.run import generate


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "generate",
        help="land a synthetic population: catalog, listeners, plays, two models, an A/B test",
    )
    parser.add_argument("--users", type=int, required=True, help="listeners to generate")
    parser.add_argument("--days", type=int, required=True, help="days of listening (>= 14)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1): same seed, same data")
    parser.add_argument(
        "--tracks", type=int, help="catalog size (default: 20 per listener, 2,000..20,000)"
    )
    parser.add_argument(
        "--start", type=iso_date, help="first day (default 2026-06-01; moved back to a Monday)"
    )
    parser.add_argument(
        "--treatment-share",
        type=float,
        default=PLANNED_TREATMENT_SHARE,
        help=f"share of listeners assigned to treatment ({PLANNED_TREATMENT_SHARE}, as planned; "
        "else a sample ratio mismatch)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    generate_population(
        settings,
        args.users,
        args.days,
        args.seed,
        tracks=args.tracks,
        start=args.start,
        treatment_share=args.treatment_share,
    )
    return 0


def _progress(report: LoadReport, rows_per_second: float) -> None:
    print_report(report)
    if not report.already_landed:
        print(f"  {rows_per_second:,.0f} rows/s")


def generate_population(settings: Settings, users: int, days: int, seed: int, **options) -> None:
    try:
        params = GeneratorParams.create(users, days, seed, **options)
    except ValueError as error:
        raise SpotiflowError(str(error)) from None
    print(
        f"generate: {params.users} listeners, {params.days} days from {params.start} (a Monday), "
        f"{params.tracks} tracks, seed {params.seed}; {len(params.batches())} batch(es)"
    )
    generate(Lake(settings.lake_dir), params, _progress)
