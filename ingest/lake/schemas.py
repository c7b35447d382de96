"""The lake's entities, written down once as pyarrow schemas.

Readers produce tables with an entity's *record* columns; landing appends the lineage columns
(source, load_id, _loaded_at). Timestamps are UTC, stored without a zone.
"""

from __future__ import annotations

import pyarrow as pa

AUDIO_FEATURES = (
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "liveness",
    "speechiness",
    "valence",
)

LINEAGE_FIELDS = [
    pa.field("source", pa.string(), nullable=False),
    pa.field("load_id", pa.string(), nullable=False),
    pa.field("_loaded_at", pa.timestamp("us"), nullable=False),
]

PLAYS = pa.schema(
    [
        pa.field("play_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("track_id", pa.string()),
        pa.field("track_name", pa.string()),
        pa.field("artist_name", pa.string()),
        pa.field("played_at", pa.timestamp("us"), nullable=False),
        # 'second' (API, extended history), 'minute' (account data) or 'day' (legacy files).
        pa.field("played_at_precision", pa.string(), nullable=False),
        # Ordinal of equal (user, track, played_at) rows within one input: keeps day-precision
        # repeats apart while a re-landed file maps onto the same play ids.
        pa.field("play_seq", pa.int32(), nullable=False),
        pa.field("ms_played", pa.int64()),
        # What was played: 'music', 'podcast', 'audiobook', 'video' or 'unknown' (no metadata).
        # Only music reaches the listening marts; the rest is landed and counted.
        pa.field("content_type", pa.string()),
        pa.field("skipped", pa.bool_()),
        # Spotify's raw reason strings (an open set: trackdone, fwdbtn, endplay, ...).
        pa.field("reason_start", pa.string()),
        pa.field("reason_end", pa.string()),
        pa.field("shuffle", pa.bool_()),
        # Coarse device family (android, ios, windows, macos, linux, web, ...), never the raw
        # device string, which identifies a device.
        pa.field("platform", pa.string()),
        pa.field("offline", pa.bool_()),
        # The user's private sessions: landed and counted like any play, flagged.
        pa.field("private_session", pa.bool_()),
    ]
)

TRACKS = pa.schema(
    [
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("track_name", pa.string()),
        pa.field("artist_name", pa.string()),
        pa.field("album_name", pa.string()),
        pa.field("duration_ms", pa.int64()),
        pa.field("popularity", pa.int32()),
        pa.field("streams", pa.int64()),
    ]
)

AUDIO_FEATURES_SCHEMA = pa.schema(
    [pa.field("track_id", pa.string(), nullable=False)]
    + [pa.field(name, pa.float64()) for name in AUDIO_FEATURES]
    + [
        pa.field("tempo", pa.float64()),
        pa.field("loudness", pa.float64()),
        pa.field("key", pa.int32()),
        pa.field("mode", pa.int32()),
        pa.field("time_signature", pa.int32()),
        # The scale the source gave ('unit' 0..1 or 'percent'); values are always stored 0..1.
        pa.field("source_scale", pa.string(), nullable=False),
    ]
)

RECOMMENDATIONS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("variant", pa.string()),
        pa.field("generated_at", pa.timestamp("us"), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("seed_track_id", pa.string(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("recommended_track_id", pa.string(), nullable=False),
        pa.field("score", pa.float64()),
    ]
)

ARTISTS = pa.schema(
    [
        pa.field("artist_id", pa.string(), nullable=False),
        pa.field("artist_name", pa.string()),
        # Spotify's genres joined with ', ' (deprecated by Spotify, often empty since 2026).
        pa.field("genres", pa.string()),
        pa.field("popularity", pa.int32()),
        pa.field("followers", pa.int64()),
    ]
)

# Spans of time in which plays may be missing: the API reaches only the last 50 plays, so a
# poll that comes too late cannot see everything since the previous one.
COVERAGE_GAPS = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("gap_from", pa.timestamp("us"), nullable=False),
        pa.field("gap_to", pa.timestamp("us"), nullable=False),
        pa.field("detected_at", pa.timestamp("us"), nullable=False),
    ]
)

# Per-user settings (`spotiflow user`): the latest row per user wins.
USER_PROFILES = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        # An IANA zone name (Europe/Berlin): listen dates and weeks follow it.
        pa.field("time_zone", pa.string(), nullable=False),
        pa.field("set_at", pa.timestamp("us"), nullable=False),
    ]
)

# Which arm of an experiment each user is in (the synthetic population's A/B test, or a real
# experiment's assignment export): the latest row per (experiment, user) wins.
EXPERIMENT_ASSIGNMENTS = pa.schema(
    [
        pa.field("experiment_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("variant", pa.string(), nullable=False),
        pa.field("assigned_at", pa.timestamp("us"), nullable=False),
    ]
)

# Spotify's data exports, landed as they say it (whitelisted keys under their own names, typed):
# content type, track ids, skips, play ids and repeats are derived in dbt staging. Every row
# names the file and record it came from.
_EXPORT_LINEAGE = [
    # The listener: a salted hash of the export's username (or of --user); never the name.
    pa.field("user_id", pa.string(), nullable=False),
    pa.field("source_file", pa.string(), nullable=False),
    # Which kind of history file (ingest/sources/spotify_export/settings.py FILE_KINDS).
    pa.field("file_kind", pa.string(), nullable=False),
    pa.field("record_number", pa.int64(), nullable=False),
]
_EXTENDED_TEXT = (
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "audiobook_chapter_title",
    "reason_start",
    "reason_end",
)
SPOTIFY_EXPORT_EXTENDED_PLAYS = pa.schema(
    [
        *_EXPORT_LINEAGE,
        # When the stream ended, UTC, to the second.
        pa.field("ts", pa.timestamp("us"), nullable=False),
        pa.field("ms_played", pa.int64()),
        *[pa.field(name, pa.string()) for name in _EXTENDED_TEXT],
        *[pa.field(name, pa.bool_()) for name in ("shuffle", "skipped", "offline")],
        pa.field("incognito_mode", pa.bool_()),
        # The device string's coarse family (android, ios, speaker, ...): the string itself can
        # carry a persistent device id and never lands.
        pa.field("platform_family", pa.string()),
    ]
)
SPOTIFY_EXPORT_ACCOUNT_PLAYS = pa.schema(
    [
        *_EXPORT_LINEAGE,
        # When the stream ended, UTC, to the minute.
        pa.field("end_time", pa.timestamp("us"), nullable=False),
        pa.field("ms_played", pa.int64()),
        pa.field("artist_name", pa.string()),
        pa.field("track_name", pa.string()),
        pa.field("podcast_name", pa.string()),
        pa.field("episode_name", pa.string()),
    ]
)
# Tracks the account export names with their uri (YourLibrary.json, Playlist*.json): track
# references only, never a playlist's name or anything else of the account.
SPOTIFY_EXPORT_LIBRARY_TRACKS = pa.schema(
    [
        pa.field("track_name", pa.string()),
        pa.field("artist_name", pa.string()),
        pa.field("album_name", pa.string()),
        pa.field("track_uri", pa.string(), nullable=False),
    ]
)

REJECTS = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_record", pa.string()),
    ]
)

LOADS = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("input_checksum", pa.string(), nullable=False),
        pa.field("load_key", pa.string(), nullable=False),
        pa.field("options", pa.string()),
        pa.field("rows_in", pa.int64(), nullable=False),
        pa.field("rows_landed", pa.int64(), nullable=False),
        pa.field("rows_rejected", pa.int64(), nullable=False),
        pa.field("started_at", pa.timestamp("us"), nullable=False),
        pa.field("finished_at", pa.timestamp("us"), nullable=False),
        pa.field("notes", pa.string()),
        # What the load touched, for incremental builds: the entities it wrote rows to
        # (comma-separated), its earliest play and its earliest recommendation list.
        pa.field("entities", pa.string()),
        pa.field("plays_from", pa.timestamp("us")),
        pa.field("lists_from", pa.timestamp("us")),
        # Rows written per entity, rejects included (JSON object): what the lake must hold for
        # this load, reconciled by the quality checkpoint. Null in loads landed before it.
        pa.field("entity_rows", pa.string()),
    ]
)

# Entity name (= folder under the lake) -> record schema.
ENTITIES: dict[str, pa.Schema] = {
    "plays": PLAYS,
    "tracks": TRACKS,
    "audio_features": AUDIO_FEATURES_SCHEMA,
    "recommendations": RECOMMENDATIONS,
    "artists": ARTISTS,
    "coverage_gaps": COVERAGE_GAPS,
    "user_profiles": USER_PROFILES,
    "experiment_assignments": EXPERIMENT_ASSIGNMENTS,
    "spotify_export__extended_plays": SPOTIFY_EXPORT_EXTENDED_PLAYS,
    "spotify_export__account_plays": SPOTIFY_EXPORT_ACCOUNT_PLAYS,
    "spotify_export__library_tracks": SPOTIFY_EXPORT_LIBRARY_TRACKS,
    "rejects": REJECTS,
    "loads": LOADS,
}

# The column that places an entity's rows in time, for entities that hold plays (the manifest
# records each load's earliest play, which incremental builds start from).
PLAY_TIME_COLUMNS: dict[str, str] = {
    "plays": "played_at",
    "spotify_export__extended_plays": "ts",
    "spotify_export__account_plays": "end_time",
}


def lake_schema(entity: str) -> pa.Schema:
    """The schema of an entity's files in the lake: record columns, then lineage."""
    schema = ENTITIES[entity]
    for field in LINEAGE_FIELDS:
        schema = schema.append(field)
    return schema
