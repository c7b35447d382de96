"""spotipy with bounded patience: Retry-After up to a limit, backoff on 5xx, one token refresh.

spotipy's own retries go through urllib3, which honours any Retry-After (hours, in the wild) and
hides the header when it gives up. Here spotipy gets a bare requests session (no retries) and
this wrapper decides: wait when the wait is bounded, stop with a message when it is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
import spotipy
from spotipy.oauth2 import SpotifyOauthError

from ingest.sources.spotify_api.auth import explain_oauth_error
from ingest.sources.spotify_api.settings import SpotifySettings
from spotiflow.errors import SpotiflowError

T = TypeVar("T")
OAUTH_REFUSALS = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_request"}


class RefusedError(SpotiflowError):
    """Spotify answered 403/404 for an endpoint this app may not use (any more)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class SpotifyClient:
    """Calls to the Web API with SpotiFlow's retry policy; `sleep` is injectable for tests."""

    settings: SpotifySettings
    auth_manager: Any
    sleep: Callable[[float], None] = time.sleep
    waited: float = 0.0
    notices: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spotify = spotipy.Spotify(
            auth_manager=self.auth_manager,
            requests_session=requests.Session(),
            requests_timeout=self.settings.timeout,
            retries=0,
            status_retries=0,
        )
        self.spotify.prefix = self.settings.api_url

    def notice(self, message: str) -> None:
        """Say something once per run (a refusal, a fallback)."""
        if message not in self.notices:
            self.notices.append(message)

    def call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        refreshed = False
        failures = 0
        while True:
            try:
                return method(*args, **kwargs)
            except spotipy.SpotifyException as error:
                status = error.http_status
                if status == 429:
                    self._wait_for_rate_limit(error)
                    continue
                if status == 401 and not refreshed:
                    # The access token died early (revoked, clock skew): refresh it once.
                    self._refresh()
                    refreshed = True
                    continue
                if status in (403, 404):
                    raise RefusedError(status, _message(error)) from None
                if status >= 500:
                    failures = self._backoff(failures, f"HTTP {status}")
                    continue
                raise SpotiflowError(f"Spotify answered HTTP {status}: {_message(error)}") from None
            except SpotifyOauthError as error:
                # The error is a code string, or (a 5xx's body) a whole JSON object.
                code = getattr(error, "error", None)
                if isinstance(code, str) and code in OAUTH_REFUSALS:
                    raise explain_oauth_error(error) from None
                failures = self._backoff(failures, "the token endpoint failed")
            except (requests.Timeout, requests.ConnectionError) as error:
                failures = self._backoff(failures, type(error).__name__)

    def _wait_for_rate_limit(self, error: spotipy.SpotifyException) -> None:
        headers = getattr(error, "headers", None) or {}
        try:
            wait = float(headers.get("Retry-After", 1))
        except (TypeError, ValueError):
            wait = 1.0
        if wait > self.settings.max_retry_after:
            raise SpotiflowError(
                f"Spotify's rate limit asks to wait {wait:.0f} s, more than the "
                f"{self.settings.max_retry_after:.0f} s allowed "
                "(SPOTIFLOW_SPOTIFY_MAX_RETRY_AFTER): stopped; what was fetched so far is kept, "
                "run again later"
            )
        self._wait(wait, "Spotify's rate limit")

    def _wait(self, seconds: float, why: str) -> None:
        """Sleep, within the run's whole waiting budget."""
        if self.waited + seconds > self.settings.max_total_wait:
            raise SpotiflowError(
                f"{why} would make this run wait more than "
                f"{self.settings.max_total_wait:.0f} s in all (SPOTIFLOW_SPOTIFY_MAX_WAIT): "
                "stopped; what was fetched so far is kept, run again later"
            )
        self.waited += seconds
        self.sleep(seconds)

    def _backoff(self, failures: int, what: str) -> int:
        failures += 1
        if failures >= self.settings.retries:
            raise SpotiflowError(
                f"Spotify did not answer properly after {failures} attempts ({what}): "
                "stopped; run again later"
            )
        delay = min(self.settings.backoff * 2.0 ** (failures - 1), 30.0)
        self._wait(delay, f"backing off ({what})")
        return failures

    def _refresh(self) -> None:
        token = self.auth_manager.cache_handler.get_cached_token() or {}
        if not token.get("refresh_token"):
            return
        try:
            self.auth_manager.refresh_access_token(token["refresh_token"])
        except SpotifyOauthError as error:
            raise explain_oauth_error(error) from None


def _message(error: spotipy.SpotifyException) -> str:
    # spotipy puts "<url>:\n <message>" in msg; the message alone reads better.
    text = str(getattr(error, "msg", "") or "").split("\n", 1)[-1].strip()
    return text if text and text != "None" else "no message"
