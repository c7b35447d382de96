"""Spotify settings: spotipy's own variables plus SpotiFlow's, from the environment or a .env file.

SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET / SPOTIPY_REDIRECT_URI
                                   the Spotify app (as spotipy reads them)
SPOTIFLOW_SPOTIFY_REFRESH_TOKEN    a refresh token for unattended runs (schedulers, containers);
                                   otherwise the token cache written by `spotiflow auth`
SPOTIFLOW_SPOTIFY_TOKEN_CACHE      the token cache (default ~/.config/spotiflow/spotify-token.json,
                                   outside the repository, mode 0600)
SPOTIFLOW_SPOTIFY_API_URL          API base (default https://api.spotify.com/v1/)
SPOTIFLOW_SPOTIFY_TOKEN_URL        token endpoint (default https://accounts.spotify.com/api/token)
SPOTIFLOW_SPOTIFY_MAX_RETRY_AFTER  longest Retry-After honoured, seconds (default 60)
SPOTIFLOW_SPOTIFY_MAX_WAIT         all waiting of one run (Retry-After and backoff), seconds
                                   (default 120): a source that keeps asking to wait is left
                                   for the next run
SPOTIFLOW_SPOTIFY_RETRIES          attempts for 5xx and timeouts (default 4)
SPOTIFLOW_SPOTIFY_BACKOFF          first wait after a 5xx or timeout, seconds; doubles (default 1)
SPOTIFLOW_SPOTIFY_TIMEOUT          seconds per request (default 10)
SPOTIFLOW_SPOTIFY_MAX_SINGLE_GETS  one-by-one lookups per run when batch gets are refused (200)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SCOPES = ("user-read-recently-played", "user-top-read")
DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped, quotes removed)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _default_cache() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "spotiflow" / "spotify-token.json"


@dataclass(frozen=True)
class SpotifySettings:
    client_id: str | None
    client_secret: str | None
    redirect_uri: str | None
    refresh_token: str | None
    token_cache: Path
    api_url: str
    token_url: str
    max_retry_after: float
    max_total_wait: float
    retries: int
    backoff: float
    timeout: float
    max_single_gets: int

    @classmethod
    def from_env(cls, project_dir: Path, environ: dict[str, str] | None = None) -> SpotifySettings:
        # The environment wins over .env, as with every dotenv loader.
        env = {**read_dotenv(project_dir / ".env"), **(os.environ if environ is None else environ)}
        api_url = env.get("SPOTIFLOW_SPOTIFY_API_URL") or DEFAULT_API_URL
        return cls(
            client_id=env.get("SPOTIPY_CLIENT_ID") or None,
            client_secret=env.get("SPOTIPY_CLIENT_SECRET") or None,
            redirect_uri=env.get("SPOTIPY_REDIRECT_URI") or None,
            refresh_token=env.get("SPOTIFLOW_SPOTIFY_REFRESH_TOKEN") or None,
            token_cache=Path(env.get("SPOTIFLOW_SPOTIFY_TOKEN_CACHE") or _default_cache()),
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            token_url=env.get("SPOTIFLOW_SPOTIFY_TOKEN_URL") or DEFAULT_TOKEN_URL,
            max_retry_after=float(env.get("SPOTIFLOW_SPOTIFY_MAX_RETRY_AFTER") or 60),
            max_total_wait=float(env.get("SPOTIFLOW_SPOTIFY_MAX_WAIT") or 120),
            retries=int(env.get("SPOTIFLOW_SPOTIFY_RETRIES") or 4),
            backoff=float(env.get("SPOTIFLOW_SPOTIFY_BACKOFF") or 1),
            timeout=float(env.get("SPOTIFLOW_SPOTIFY_TIMEOUT") or 10),
            max_single_gets=int(env.get("SPOTIFLOW_SPOTIFY_MAX_SINGLE_GETS") or 200),
        )
