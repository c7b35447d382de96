"""A capture of one recently-played poll (written by poll.py) as lake records."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.identity import stable_hash
from ingest.lake.records import ReadResult, Reject, raw_json, table_from_rows
from ingest.lake.schemas import AUDIO_FEATURES
from ingest.sources.text import FieldError, parse_timestamp, plausible_time
from spotiflow.errors import InputFileError

KIND = "spotify-api"
CAPTURE_FORMAT = 1


def _play(item: dict[str, Any], user_id: str, seq: Counter) -> dict[str, Any]:
    track = item.get("track")
    if not isinstance(track, dict):
        raise FieldError("has no track object")
    played_at = plausible_time("played_at", parse_timestamp("played_at", item.get("played_at")))
    track_id = track.get("id")
    key = (track_id or f"{track.get('name')}\x1f{len(track.get('artists') or [])}", played_at)
    seq[key] += 1
    artists = ", ".join(a.get("name") or "" for a in track.get("artists") or [])
    return {
        "play_id": stable_hash(user_id, key[0], played_at.isoformat(), seq[key]),
        "user_id": user_id,
        "track_id": track_id,
        "track_name": track.get("name"),
        "artist_name": artists or None,
        "played_at": played_at,
        "played_at_precision": "second",
        "play_seq": seq[key],
        "ms_played": None,
        "content_type": "podcast" if track.get("type") == "episode" else "music",
    }


def _track(track: dict[str, Any]) -> dict[str, Any]:
    return {
        "track_id": track["id"],
        "track_name": track.get("name"),
        "artist_name": ", ".join(a.get("name") or "" for a in track.get("artists") or []) or None,
        "album_name": (track.get("album") or {}).get("name"),
        "duration_ms": track.get("duration_ms"),
        # Development-Mode apps get no popularity since 2026: optional everywhere.
        "popularity": track.get("popularity"),
        "streams": None,
    }


def _features(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "track_id": record["id"],
        **{name: record.get(name) for name in AUDIO_FEATURES},
        "tempo": record.get("tempo"),
        "loudness": record.get("loudness"),
        "key": None if record.get("key") in (None, -1) else record.get("key"),
        "mode": record.get("mode"),
        "time_signature": record.get("time_signature"),
        "source_scale": "unit",
    }


def read_capture(path: Path) -> ReadResult:
    try:
        capture = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"is not a readable capture ({exc})") from None
    if not isinstance(capture, dict) or capture.get("format") != CAPTURE_FORMAT:
        raise InputFileError(path, f"is not a spotify-api capture of format {CAPTURE_FORMAT}")
    user_id = capture["user_id"]
    plays: list[dict] = []
    tracks: dict[str, dict] = {}
    rejects: list[Reject] = []
    seq: Counter = Counter()
    items = capture.get("items") or []
    for number, item in enumerate(items, start=1):
        try:
            plays.append(_play(item, user_id, seq))
        except FieldError as problem:
            rejects.append(Reject(number, f"item {number} {problem}", raw_json(item)))
            continue
        track = item["track"]
        if track.get("id"):
            tracks.setdefault(track["id"], _track(track))
    artists = [
        {
            "artist_id": a["id"],
            "artist_name": a.get("name"),
            "genres": ", ".join(a.get("genres") or []) or None,
            "popularity": a.get("popularity"),
            "followers": a.get("followers"),
        }
        for a in capture.get("artists") or []
        if a.get("id")
    ]
    features = [_features(f) for f in capture.get("audio_features") or [] if f.get("id")]
    gaps = []
    notes = []
    if capture.get("gap"):
        start, end = (datetime.fromisoformat(t) for t in capture["gap"])
        detected = datetime.fromisoformat(capture["fetched_at"])
        gaps.append({"user_id": user_id, "gap_from": start, "gap_to": end, "detected_at": detected})
        notes.append(f"coverage gap: plays between {start} and {end} UTC may be missing")
    return ReadResult(
        kind=KIND,
        path=path,
        rows_in=len(items),
        tables={
            "plays": table_from_rows("plays", plays),
            "tracks": table_from_rows("tracks", list(tracks.values())),
            "artists": table_from_rows("artists", artists),
            "audio_features": table_from_rows("audio_features", features),
            "coverage_gaps": table_from_rows("coverage_gaps", gaps),
        },
        rejects=rejects,
        notes=notes,
        options={"user_id": user_id},
    )
