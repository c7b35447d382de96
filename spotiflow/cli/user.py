"""`spotiflow user NAME --time-zone ZONE`: a listener's settings."""

from __future__ import annotations

import argparse

from ingest.identity import user_id_for
from ingest.sources.user_profiles.time_zone import set_time_zone
from spotiflow.cli.arguments import Commands
from spotiflow.settings import Settings


def register(commands: Commands) -> None:
    user = commands.add_parser("user", help="a listener's settings (time zone)")
    user.add_argument("name", help="the user name the data was landed for (as given to --user)")
    user.add_argument(
        "--time-zone", required=True, help="IANA zone listen dates follow (Europe/Berlin)"
    )
    user.add_argument(
        "--create", action="store_true", help="set it for a listener whose plays are yet to land"
    )
    user.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    report = set_time_zone(settings, args.name, args.time_zone, create=args.create)
    print(
        f"user: {user_id_for(args.name, settings)} now listens in {args.time_zone} "
        f"(load {report.load_id}); listen dates move at the next `spotiflow build`"
    )
    return 0
