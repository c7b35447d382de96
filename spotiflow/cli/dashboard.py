"""`spotiflow dashboard`: the Streamlit dashboard on 127.0.0.1, in the foreground."""

from __future__ import annotations

import argparse

from spotiflow.cli.arguments import Commands
from spotiflow.serve.dashboard.server import serve
from spotiflow.settings import Settings


def register(commands: Commands) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="serve the SpotiFlow dashboard on 127.0.0.1 (Streamlit)"
    )
    dashboard.add_argument("--port", type=int, default=8501, help="the port to listen on (8501)")
    dashboard.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return serve(settings, args.port)
