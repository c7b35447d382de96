"""Audio-feature catalogs: Spotify's 0..1 scale or percent (the Kaggle 2023 file), ids or none."""

from __future__ import annotations

import math
from pathlib import Path

from ingest.identity import surrogate_track_id
from ingest.lake.records import ReadResult, Reject, raw_json, table_from_rows
from ingest.lake.schemas import AUDIO_FEATURES
from ingest.sources.features import SCALES, audio_feature_record
from ingest.sources.text import (
    FieldError,
    decode_file,
    iter_csv,
    parse_float,
    parse_int,
    repair_text,
)
from spotiflow.errors import InputFileError

KIND = "catalog"

# Canonical name -> the column names catalogs use for it, in order of preference.
ALIASES: dict[str, tuple[str, ...]] = {
    "track_id": ("track_id", "id", "Track ID", "spotify_id"),
    "track_name": ("track_name", "name", "Track Name", "title"),
    "artist_name": ("artist(s)_name", "artists", "artist_name", "Artist Name", "artist"),
    "album_name": ("album_name", "album"),
    "duration_ms": ("duration_ms",),
    "popularity": ("popularity",),
    "streams": ("streams",),
    "tempo": ("tempo", "bpm"),
    "loudness": ("loudness",),
    "key": ("key",),
    "mode": ("mode",),
    "time_signature": ("time_signature",),
    **{name: (name, f"{name}_%", f"{name}_pct") for name in AUDIO_FEATURES},
}


def _resolve_columns(header: list[str]) -> dict[str, str]:
    present = set(header)
    columns: dict[str, str] = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in present:
                columns[name] = alias
                break
    return columns


def detect_scale(path: Path, columns: dict[str, str], rows: list) -> str:
    """Percent when the columns say so (`danceability_%`), or when most positive feature values
    exceed 1: the bulk of the rows decides, so one typo (1.2) or an `inf` in a 0..1 catalog
    cannot flip it (that row is rejected as out of range instead)."""
    feature_columns = [columns[name] for name in AUDIO_FEATURES if name in columns]
    if any(column.endswith(("_%", "_pct")) for column in feature_columns):
        return "percent"
    above, positive = 0, 0
    for row in rows:
        for column in feature_columns:
            try:
                value = float(row.values.get(column, "") or 0)
            except ValueError:
                continue
            if math.isfinite(value) and value > 0:
                positive += 1
                above += value > 1.0
    return "percent" if positive and above * 2 > positive else "unit"


def read_catalog(path: Path, *, scale: str = "auto", encoding: str = "auto") -> ReadResult:
    """Tracks and audio features from one catalog file."""
    text, used_encoding = decode_file(path, encoding)
    header, row_iter = iter_csv(path, text, [])
    columns = _resolve_columns(header)
    missing_features = [name for name in AUDIO_FEATURES if name not in columns]
    if missing_features:
        raise InputFileError(
            path,
            "is not an audio-feature catalog: no column for " + ", ".join(missing_features),
            line=1,
        )
    if "track_id" not in columns and not {"track_name", "artist_name"} <= columns.keys():
        raise InputFileError(
            path, "has neither a track id column nor track and artist name columns", line=1
        )
    if scale not in ("auto", *SCALES):
        raise InputFileError(path, f"unknown scale {scale!r} (auto, unit or percent)")
    rows = list(row_iter)
    used_scale = detect_scale(path, columns, rows) if scale == "auto" else scale
    tracks: list[dict] = []
    features: list[dict] = []
    rejects: list[Reject] = []
    repaired = 0
    unreadable: list[str] = []
    first_line: dict[str, int] = {}
    repeats: list[str] = []
    for row in rows:
        values = row.values
        try:
            row.check_field_count()
            name_raw = values.get(columns.get("track_name", ""), "")
            artist_raw = values.get(columns.get("artist_name", ""), "")
            track_name, artist_name = repair_text(name_raw), repair_text(artist_raw)
            repaired += (track_name != name_raw.strip()) or (artist_name != artist_raw.strip())
            track_id = values.get(columns.get("track_id", ""), "").strip()
            if not track_id:
                if not track_name or not artist_name:
                    raise FieldError("has no track id, and no track and artist name to derive one")
                track_id = surrogate_track_id(track_name, artist_name)
            feature_record = audio_feature_record(
                track_id, values, columns, used_scale, features_required=False
            )
            if all(feature_record[name] is None for name in AUDIO_FEATURES):
                raise FieldError("has no audio feature values")
            duration_ms = parse_int(
                "duration_ms",
                values.get(columns.get("duration_ms", ""), ""),
                required=False,
                bits=64,
            )
            popularity = parse_int(
                "popularity", values.get(columns.get("popularity", ""), ""), required=False
            )
        except FieldError as problem:
            rejects.append(Reject(row.line, str(problem), raw_json(values)))
            continue
        if track_id in first_line:
            # The same track again (Kaggle lists a track once per genre, or twice by mistake):
            # the row lands as that track, and the first row's values are the track's.
            repeats.append(f"line {row.line} (as line {first_line[track_id]})")
            continue
        first_line[track_id] = row.line
        streams = _optional_count(values.get(columns.get("streams", ""), ""))
        if streams is None and values.get(columns.get("streams", ""), "").strip():
            # An unreadable optional count does not cost the row its features.
            unreadable.append(f"line {row.line}: streams {values[columns['streams']][:40]!r}")
        tracks.append(
            {
                "track_id": track_id,
                "track_name": track_name or None,
                # Catalogs join several artists with ';' (Kaggle tracks) or ', ' (Kaggle 2023).
                "artist_name": ", ".join(part.strip() for part in artist_name.split(";")) or None,
                "album_name": repair_text(values.get(columns.get("album_name", ""), "")) or None,
                "duration_ms": duration_ms,
                "popularity": popularity,
                "streams": streams,
            }
        )
        features.append(feature_record)
    notes = [f"encoding {used_encoding}, scale {used_scale}"]
    if repaired:
        notes.append(f"{repaired} row(s) with damaged text encodings (marked with U+FFFD)")
    if repeats:
        notes.append(
            f"{len(repeats)} row(s) repeat an earlier track; the first row's values kept: "
            + "; ".join(repeats[:20])
            + ("; …" if len(repeats) > 20 else "")
        )
    if unreadable:
        notes.append("unreadable optional values set to null: " + "; ".join(unreadable))
    return ReadResult(
        kind=KIND,
        path=path,
        rows_in=len(rows),
        tables={
            "tracks": table_from_rows("tracks", tracks),
            "audio_features": table_from_rows("audio_features", features),
        },
        rejects=rejects,
        notes=notes,
        options={"scale": used_scale},
    )


def _optional_count(raw: str) -> int | None:
    try:
        value = parse_float("streams", raw.replace(",", ""), required=False)
    except FieldError:
        return None
    usable = value is not None and value.is_integer() and 0 <= value < 2**63
    return int(value) if usable else None
