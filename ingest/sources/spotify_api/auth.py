"""Spotify authorisation: a one-time browser login, then the refresh token, never a prompt.

Unattended runs use the cached refresh token (or SPOTIFLOW_SPOTIFY_REFRESH_TOKEN). spotipy would
open a browser or wait on input() when it has no usable token; here that path raises instead.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from spotipy.cache_handler import CacheHandler, MemoryCacheHandler
from spotipy.oauth2 import SpotifyOAuth, SpotifyOauthError

from ingest.sources.spotify_api.settings import SCOPES, SpotifySettings
from spotiflow.errors import SpotiflowError

# spotipy logs request headers (bearer tokens, client secrets) at DEBUG and every HTTP error at
# ERROR; SpotiFlow reports errors itself, so spotipy's logger stays silent.
logging.getLogger("spotipy").setLevel(logging.CRITICAL + 1)

RELOGIN = "run `spotiflow auth` again"


class NotLoggedInError(SpotiflowError):
    pass


class SecureCacheHandler(CacheHandler):
    """The token cache as a 0600 file in a 0700 folder, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_cached_token(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # A leftover temporary file keeps its own mode through O_CREAT: set it, always.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(token_info, handle)
        os.replace(temporary, self.path)


class UnattendedOAuth(SpotifyOAuth):
    """SpotifyOAuth that refuses to ask a person for anything."""

    def get_auth_response(self, open_browser: bool | None = None) -> str:
        raise NotLoggedInError(
            "no usable Spotify login (no cached refresh token with the scopes "
            f"{' '.join(SCOPES)}): run `spotiflow auth` once, or set "
            "SPOTIFLOW_SPOTIFY_REFRESH_TOKEN"
        )


def _require_app(settings: SpotifySettings) -> None:
    missing = [
        name
        for name, value in (
            ("SPOTIPY_CLIENT_ID", settings.client_id),
            ("SPOTIPY_CLIENT_SECRET", settings.client_secret),
            ("SPOTIPY_REDIRECT_URI", settings.redirect_uri),
        )
        if not value
    ]
    if missing:
        raise SpotiflowError(
            "the Spotify app is not configured: set "
            + ", ".join(missing)
            + " (environment or .env; see README, 'A real Spotify app')"
        )


def build_auth_manager(settings: SpotifySettings, *, interactive: bool = False) -> SpotifyOAuth:
    """The auth manager for user data; unattended unless `interactive` (spotiflow auth)."""
    _require_app(settings)
    if settings.refresh_token and not interactive:
        # Schedulers and containers: nothing is written to disk.
        cache: CacheHandler = MemoryCacheHandler(
            {
                "access_token": "",
                "token_type": "Bearer",
                "expires_at": 0,
                "refresh_token": settings.refresh_token,
                "scope": " ".join(SCOPES),
            }
        )
    else:
        cache = SecureCacheHandler(settings.token_cache)
    manager_class = SpotifyOAuth if interactive else UnattendedOAuth
    manager = manager_class(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uri=settings.redirect_uri,
        scope=" ".join(SCOPES),
        cache_handler=cache,
        open_browser=interactive,
        requests_timeout=settings.timeout,
    )
    manager.OAUTH_TOKEN_URL = settings.token_url  # proxies and the test fake stand in here
    return manager


def explain_oauth_error(error: SpotifyOauthError) -> SpotiflowError:
    """One line the user can act on, for the token endpoint's refusals."""
    code = getattr(error, "error", None)
    if code == "invalid_grant":
        return SpotiflowError(
            "Spotify refused the refresh token (expired or revoked; they last six months): "
            + RELOGIN
        )
    if code in {"invalid_client", "unauthorized_client"}:
        return SpotiflowError(
            "Spotify refused the app's credentials: check SPOTIPY_CLIENT_ID and "
            "SPOTIPY_CLIENT_SECRET"
        )
    return SpotiflowError(f"Spotify's token endpoint refused the request ({code or 'no reason'})")


def login(settings: SpotifySettings, redirected_url: str | None = None) -> Path:
    """`spotiflow auth`: the authorisation-code flow once; the refresh token goes to the cache.

    With `redirected_url` (the address the browser was sent back to, pasted on a machine with
    no browser), the code is taken from it; otherwise spotipy opens a browser and listens on the
    redirect URI's port.
    """
    manager = build_auth_manager(settings, interactive=True)
    try:
        code = manager.parse_response_code(redirected_url) if redirected_url else None
        if redirected_url and (not code or code == redirected_url):
            raise SpotiflowError("that address holds no authorisation code (look for ?code=…)")
        manager.get_access_token(code=code, as_dict=False, check_cache=False)
    except SpotifyOauthError as error:
        raise explain_oauth_error(error) from None
    return settings.token_cache
