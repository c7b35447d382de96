"""Audio-feature values at the door: one scale (0..1), pitch classes, modes."""

from __future__ import annotations

from ingest.lake.schemas import AUDIO_FEATURES
from ingest.sources.text import FieldError, parse_float, parse_int

PITCH_CLASSES = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "F": 5,
    "E#": 5, "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11,
    "CB": 11,
}  # fmt: skip
MODES = {"1": 1, "0": 0, "MAJOR": 1, "MINOR": 0}
SCALES = ("unit", "percent")
SCALE_DIVISOR = {"unit": 1.0, "percent": 100.0}


def parse_key(column: str, raw: str) -> int | None:
    """A pitch class 0..11 from a number or a note name; -1 and blanks mean no key detected."""
    text = raw.strip()
    if not text:
        return None
    name = text.replace("♯", "#").replace("♭", "b").upper()
    if name in PITCH_CLASSES:
        return PITCH_CLASSES[name]
    value = parse_int(column, text, required=True)
    if value == -1:
        return None
    if value is None or not 0 <= value <= 11:
        raise FieldError(f"{column} {text!r} is not a pitch class (0..11 or a note name)")
    return value


def parse_mode(column: str, raw: str) -> int | None:
    """1 for major, 0 for minor, from 1/0 or the words."""
    text = raw.strip()
    if not text:
        return None
    name = text.upper().removesuffix(".0")
    if name not in MODES:
        raise FieldError(f"{column} {text!r} is not a mode (1/0 or Major/Minor)")
    return MODES[name]


def parse_feature(column: str, raw: str, scale: str, *, required: bool) -> float | None:
    """A 0..1 feature from a value on the given scale; out-of-range values are refused."""
    value = parse_float(column, raw, required=required)
    if value is None:
        return None
    top = SCALE_DIVISOR[scale]
    if not 0.0 <= value <= top:
        bound = "0..1" if scale == "unit" else "0..100"
        raise FieldError(f"{column} {raw.strip()} is outside {bound}")
    return value / top


def audio_feature_record(
    track_id: str,
    values: dict[str, str],
    columns: dict[str, str],
    scale: str,
    *,
    features_required: bool,
) -> dict:
    """One audio_features record; `columns` maps canonical names to the file's column names."""

    def raw(name: str) -> str:
        column = columns.get(name)
        return values.get(column, "") if column else ""

    record: dict = {"track_id": track_id, "source_scale": scale}
    for name in AUDIO_FEATURES:
        record[name] = parse_feature(
            columns.get(name, name), raw(name), scale, required=features_required
        )
    record["tempo"] = parse_float(columns.get("tempo", "tempo"), raw("tempo"), required=False)
    if record["tempo"] is not None and record["tempo"] < 0:
        raise FieldError(f"{columns['tempo']} {record['tempo']} is negative")
    record["loudness"] = parse_float(
        columns.get("loudness", "loudness"), raw("loudness"), required=False
    )
    record["key"] = parse_key(columns.get("key", "key"), raw("key"))
    record["mode"] = parse_mode(columns.get("mode", "mode"), raw("mode"))
    record["time_signature"] = parse_int(
        columns.get("time_signature", "time_signature"), raw("time_signature"), required=False
    )
    return record
