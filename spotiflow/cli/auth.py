"""`spotiflow auth`: log in to Spotify once, in a browser, for unattended polls."""

from __future__ import annotations

import argparse
import sys

from ingest.sources.spotify_api.auth import login
from ingest.sources.spotify_api.settings import SpotifySettings
from spotiflow.cli.arguments import Commands
from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings


def register(commands: Commands) -> None:
    auth = commands.add_parser(
        "auth", help="log in to Spotify once (browser), for unattended polls"
    )
    auth.add_argument(
        "--redirected-url", help="the address Spotify redirected the browser to (headless machines)"
    )
    auth.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.redirected_url and not sys.stdin.isatty():
        raise SpotiflowError(
            "spotiflow auth needs a person at a terminal and a browser; on a machine without "
            "one, open the login address elsewhere and pass --redirected-url"
        )
    cache = login(SpotifySettings.from_env(settings.project_dir), args.redirected_url)
    print(f"auth: logged in; the refresh token is kept in {cache} (mode 0600)")
    return 0
