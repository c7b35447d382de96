"""The original SpotiFlow export: one play per row, day precision, track and features inline."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, time
from pathlib import Path

from ingest.identity import stable_hash
from ingest.lake.records import ReadResult, Reject, raw_json, table_from_rows
from ingest.lake.schemas import AUDIO_FEATURES
from ingest.sources.features import audio_feature_record
from ingest.sources.text import (
    FieldError,
    decode_file,
    iter_csv,
    parse_date,
    parse_int,
    plausible_time,
    repair_text,
)

KIND = "legacy-csv"
SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")
REQUIRED_COLUMNS = [
    "Track Name",
    "Artist Name",
    "Track ID",
    "Day_Played",
    "duration_ms",
    *AUDIO_FEATURES,
]
FEATURE_COLUMNS = {
    name: name for name in (*AUDIO_FEATURES, "tempo", "loudness", "key", "mode", "time_signature")
}


def read_legacy_csv(path: Path, user_id: str, *, encoding: str = "auto") -> ReadResult:
    """Plays, tracks and audio features from one legacy file, for one user."""
    text, _ = decode_file(path, encoding)
    _, rows = iter_csv(path, text, REQUIRED_COLUMNS)
    plays: list[dict] = []
    tracks: dict[str, dict] = {}
    features: dict[str, dict] = {}
    rejects: list[Reject] = []
    occurrences: Counter[tuple[str, str]] = Counter()
    rows_in = 0
    for row in rows:
        rows_in += 1
        values = row.values
        try:
            row.check_field_count()
            track_id = values["Track ID"].strip()
            if not SPOTIFY_ID.match(track_id):
                raise FieldError(f"Track ID {track_id!r} is not a Spotify track id")
            played_on = parse_date("Day_Played", values["Day_Played"])
            plausible_time("Day_Played", datetime.combine(played_on, time()))
            duration_ms = parse_int("duration_ms", values["duration_ms"], required=True, bits=64)
            if duration_ms is None or duration_ms <= 0:
                raise FieldError(f"duration_ms {values['duration_ms'].strip()!r} is not positive")
            feature_record = audio_feature_record(
                track_id, values, FEATURE_COLUMNS, "unit", features_required=True
            )
        except FieldError as problem:
            rejects.append(Reject(row.line, str(problem), raw_json(values)))
            continue
        played_at = datetime.combine(played_on, time())
        # With only a date, two equal rows may be two plays: number them instead of merging.
        occurrences[(track_id, played_on.isoformat())] += 1
        play_seq = occurrences[(track_id, played_on.isoformat())]
        plays.append(
            {
                "play_id": stable_hash(user_id, track_id, played_at.isoformat(), play_seq),
                "user_id": user_id,
                "track_id": track_id,
                "track_name": repair_text(values["Track Name"]),
                "artist_name": repair_text(values["Artist Name"]),
                "played_at": played_at,
                "played_at_precision": "day",
                "play_seq": play_seq,
                "ms_played": None,
                "content_type": "music",
            }
        )
        tracks.setdefault(
            track_id,
            {
                "track_id": track_id,
                "track_name": repair_text(values["Track Name"]),
                "artist_name": repair_text(values["Artist Name"]),
                "album_name": None,
                "duration_ms": duration_ms,
                "popularity": None,
                "streams": None,
            },
        )
        features.setdefault(track_id, feature_record)
    return ReadResult(
        kind=KIND,
        path=path,
        rows_in=rows_in,
        tables={
            "plays": table_from_rows("plays", plays),
            "tracks": table_from_rows("tracks", list(tracks.values())),
            "audio_features": table_from_rows("audio_features", list(features.values())),
        },
        rejects=rejects,
        options={"user_id": user_id},
    )
