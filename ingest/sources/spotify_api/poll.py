"""`spotiflow ingest spotify-api`: poll recently-played incrementally, crash-safe.

Each run: land any capture an interrupted run left, fetch the plays after the cursor (the API
reaches only the last 50), enrich new tracks (artists, audio features) where the app may, write
the capture file atomically, land it, and only then advance the cursor. A kill at any moment
leaves either nothing or a capture the next run lands; play ids make re-landing harmless.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.identity import user_id_for
from ingest.lake.landing import Lake, LoadReport
from ingest.sources.spotify_api.capture import CAPTURE_FORMAT, read_capture
from ingest.sources.spotify_api.client import RefusedError, SpotifyClient
from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings

PAGE_LIMIT = 50
MAX_PAGES = 20
ARTIST_BATCH = 50
FEATURE_BATCH = 100
FEATURES_REFUSED = (
    "Spotify refuses audio features to this app (apps registered after 2024-11-27 lost them): "
    "load features from a catalog file with `spotiflow ingest catalog`"
)
BATCH_REFUSED = (
    "Spotify refuses batch lookups to this app (Development Mode): fetching artists one by one, "
    "at most {limit} per run (SPOTIFLOW_SPOTIFY_MAX_SINGLE_GETS)"
)


@dataclass
class PollOutcome:
    reports: list[LoadReport] = field(default_factory=list)
    new_plays: int = 0
    gap: tuple[datetime, datetime] | None = None
    notices: list[str] = field(default_factory=list)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def _played_ms(item: dict[str, Any]) -> int:
    played = datetime.fromisoformat(item["played_at"].replace("Z", "+00:00"))
    return int(played.timestamp() * 1000)


class PollState:
    """Per-user cursor and pending captures under the data dir (never in the lake)."""

    def __init__(self, settings: Settings, user_id: str) -> None:
        self.root = settings.data_dir / "state" / "spotify_api"
        self.cursor_file = self.root / f"{user_id}.json"
        self.captures = settings.data_dir / "captures" / "spotify_api" / user_id

    def cursor(self) -> int | None:
        try:
            return int(json.loads(self.cursor_file.read_text(encoding="utf-8"))["after_ms"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def advance(self, after_ms: int) -> None:
        """Move the cursor forward (never back), atomically."""
        current = self.cursor()
        if current is not None and current >= after_ms:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.cursor_file.with_name(f".{self.cursor_file.name}.tmp")
        temporary.write_text(json.dumps({"after_ms": after_ms}), encoding="utf-8")
        os.replace(temporary, self.cursor_file)

    def pending(self) -> list[Path]:
        return sorted(self.captures.glob("*.json")) if self.captures.exists() else []

    def write_capture(self, capture: dict[str, Any], fetched_at: datetime) -> Path:
        self.captures.mkdir(parents=True, exist_ok=True)
        path = self.captures / f"{fetched_at:%Y%m%dT%H%M%S%f}.json"
        temporary = path.with_name(f".{path.name}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(capture, handle, ensure_ascii=False, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return path


@contextlib.contextmanager
def single_poller(settings: Settings) -> Iterator[None]:
    """One API ingest at a time: a second one exits with a clear message."""
    folder = settings.data_dir / "state"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "spotify_api.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpotiflowError(
                "another `spotiflow ingest spotify-api` is running; try again when it has finished"
            ) from None
        yield


def fetch_recent(client: SpotifyClient, after_ms: int | None) -> tuple[list[dict], bool]:
    """Plays after the cursor, newest first, and whether they reach back to the cursor.

    Only the last 50 plays are reachable. A short page means the API ran out of plays newer than
    the cursor: complete. Pages that stay full until `next` runs out mean plays may be missing.
    """
    page = client.call(
        client.spotify.current_user_recently_played, limit=PAGE_LIMIT, after=after_ms
    )
    items: list[dict] = []
    complete = False
    for _ in range(MAX_PAGES):
        page_items = (page or {}).get("items") or []
        items.extend(i for i in page_items if after_ms is None or _played_ms(i) > after_ms)
        if len(page_items) < PAGE_LIMIT or (
            after_ms is not None and any(_played_ms(i) <= after_ms for i in page_items)
        ):
            complete = True
            break
        if not page.get("next"):
            break
        page = client.call(client.spotify.next, page)
    unique = {(i["played_at"], (i.get("track") or {}).get("id")): i for i in items}
    return sorted(unique.values(), key=_played_ms, reverse=True), complete


def _minimal_item(item: dict[str, Any]) -> dict[str, Any]:
    """Only what the lake needs from a play: no context links, no markets."""
    track = item.get("track") or {}
    return {
        "played_at": item.get("played_at"),
        "context_type": (item.get("context") or {}).get("type"),
        "track": {
            "id": track.get("id"),
            "type": track.get("type"),
            "name": track.get("name"),
            "is_local": track.get("is_local"),
            "duration_ms": track.get("duration_ms"),
            "popularity": track.get("popularity"),
            "album": {"name": (track.get("album") or {}).get("name")},
            "artists": [
                {"id": a.get("id"), "name": a.get("name")} for a in track.get("artists") or []
            ],
        },
    }


def _fetch_artists(client: SpotifyClient, artist_ids: list[str]) -> list[dict]:
    found: list[dict] = []
    for start in range(0, len(artist_ids), ARTIST_BATCH):
        chunk = artist_ids[start : start + ARTIST_BATCH]
        try:
            found.extend(a for a in client.call(client.spotify.artists, chunk)["artists"] if a)
        except RefusedError:
            client.notice(BATCH_REFUSED.format(limit=client.settings.max_single_gets))
            for artist_id in artist_ids[start : start + client.settings.max_single_gets]:
                with contextlib.suppress(RefusedError):
                    found.append(client.call(client.spotify.artist, artist_id))
            break
    return [
        {
            "id": a.get("id"),
            "name": a.get("name"),
            "genres": a.get("genres") or [],
            "popularity": a.get("popularity"),
            "followers": (a.get("followers") or {}).get("total"),
        }
        for a in found
    ]


def _fetch_features(client: SpotifyClient, track_ids: list[str]) -> list[dict]:
    found: list[dict] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # spotipy marks the endpoint removed
        for start in range(0, len(track_ids), FEATURE_BATCH):
            try:
                answer = client.call(
                    client.spotify.audio_features, track_ids[start : start + FEATURE_BATCH]
                )
            except RefusedError:
                client.notice(FEATURES_REFUSED)
                break
            found.extend(f for f in answer or [] if f)
    return found


def poll_once(
    settings: Settings, client: SpotifyClient, user_name: str | None, now: datetime | None = None
) -> PollOutcome:
    """One incremental poll for the user the token belongs to."""
    lake = Lake(settings.lake_dir)
    outcome = PollOutcome()
    with single_poller(settings):
        me = client.call(client.spotify.me)
        # The account id, hashed: the same id the user's exports carry as `username`.
        user_id = user_id_for(user_name or me["id"], settings)
        state = PollState(settings, user_id)
        for capture in state.pending():
            _land_capture(lake, state, capture, outcome)
        after_ms = state.cursor()
        items, complete = fetch_recent(client, after_ms)
        fetched_at = now or datetime.now(UTC).replace(tzinfo=None)
        if items and after_ms is not None and not complete:
            outcome.gap = (_utc(after_ms), _utc(min(_played_ms(i) for i in items)))
        known_tracks = lake.known_values("audio_features", "track_id")
        known_artists = lake.known_values("artists", "artist_id")
        tracks = [item.get("track") or {} for item in items]
        track_ids = sorted({t["id"] for t in tracks if t.get("id")})
        artist_ids = sorted(
            {a["id"] for t in tracks for a in t.get("artists") or [] if a.get("id")} - known_artists
        )
        capture = {
            "format": CAPTURE_FORMAT,
            "user_id": user_id,
            "fetched_at": fetched_at.isoformat(),
            "after_ms": after_ms,
            "cursor_ms": max((_played_ms(i) for i in items), default=after_ms),
            "gap": None if outcome.gap is None else [t.isoformat() for t in outcome.gap],
            "items": [_minimal_item(i) for i in items],
            "artists": _fetch_artists(client, artist_ids) if artist_ids else [],
            "audio_features": _fetch_features(client, sorted(set(track_ids) - known_tracks)),
        }
        if items or outcome.gap:
            path = state.write_capture(capture, fetched_at)
            _land_capture(lake, state, path, outcome)
        outcome.new_plays = len(items)
        outcome.notices = list(client.notices)
    return outcome


def _land_capture(lake: Lake, state: PollState, path: Path, outcome: PollOutcome) -> None:
    result = read_capture(path)
    outcome.reports.append(lake.land(result))
    cursor = json.loads(path.read_text(encoding="utf-8")).get("cursor_ms")
    # The cursor moves only once the plays are committed to the lake.
    if cursor is not None:
        state.advance(int(cursor))
    path.unlink()
