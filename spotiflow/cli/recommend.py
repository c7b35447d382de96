"""`spotiflow recommend`: the baseline recommender on the marts, its output landed."""

from __future__ import annotations

import argparse

from spotiflow.cli.arguments import Commands
from spotiflow.land import land_recommendations, print_report
from spotiflow.settings import Settings
from spotiflow.simulate.baseline import RecommenderParams, recommend


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "recommend", help="the baseline KNN recommender, seeded by each user's weekly top songs"
    )
    parser.add_argument("--k", type=int, default=5, help="recommendations per seed (5)")
    parser.add_argument("--top-n", type=int, default=5, help="seed songs per week (5)")
    parser.add_argument("--no-land", action="store_true", help="write the file only")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    output = recommend(settings, RecommenderParams(k=args.k, top_n=args.top_n))
    if output is None:
        print("recommend: no top songs with audio features to seed from; nothing written")
        return 0
    print(f"recommend: wrote {output}")
    if not args.no_land:
        print_report(land_recommendations(settings, output))
    return 0
