"""`spotiflow demo` (`make demo`): the bundled sample and a generated population landed, built,
recommended for, checked and summarised."""

from __future__ import annotations

import argparse

from spotiflow.cli.arguments import Commands
from spotiflow.cli.generate import generate_population
from spotiflow.land import land_catalog, land_legacy_csv, land_recommendations, print_report
from spotiflow.serve.summary import print_summary
from spotiflow.settings import SAMPLES_DIR, Settings
from spotiflow.simulate.baseline import RecommenderParams, recommend
from spotiflow.warehouse.build import build

SAMPLE_LISTENING = SAMPLES_DIR / "listening_history.csv"
SAMPLE_CATALOG = SAMPLES_DIR / "spotify-2023.csv"


def register(commands: Commands) -> None:
    demo = commands.add_parser(
        "demo", help="land the bundled sample and a generated population, build, recommend, check"
    )
    demo.add_argument("--users", type=int, default=300, help="generated listeners (300)")
    demo.add_argument("--days", type=int, default=56, help="days of generated listening (56)")
    demo.add_argument("--seed", type=int, default=1, help="the population's seed (1)")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    print(f"== Landing the bundled sample into {settings.lake_dir}")
    print_report(land_legacy_csv(settings, SAMPLE_LISTENING, settings.sample_user))
    print_report(land_catalog(settings, SAMPLE_CATALOG, "auto", "auto"))
    print("== Generating a synthetic population beside it")
    generate_population(settings, args.users, args.days, args.seed)
    print("== Building the marts")
    build(settings, run_checks=False)
    print("== Running the baseline recommender for every listener")
    output = recommend(settings, RecommenderParams())
    if output is not None:
        print_report(land_recommendations(settings, output))
    print("== Building again with the recommendations, then the quality checkpoint")
    build(settings, run_checks=True)
    print_summary(settings)
    print(
        "\nOpen the dashboard: .venv/bin/spotiflow dashboard, then http://127.0.0.1:8501 "
        "(Ctrl+C stops it)."
    )
    return 0
