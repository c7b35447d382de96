"""Recommender outputs (CSV or Parquet), validated against the recommendations schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.lake.records import ReadResult, Reject, raw_json, table_from_rows
from ingest.lake.schemas import RECOMMENDATIONS
from ingest.sources.text import (
    FieldError,
    decode_file,
    iter_csv,
    parse_float,
    parse_int,
    parse_timestamp,
    plausible_time,
)
from spotiflow.errors import InputFileError

KIND = "recommendations"
PARQUET_SUFFIXES = (".parquet", ".pq")
REQUIRED = [field.name for field in RECOMMENDATIONS if not field.nullable]
OPTIONAL = [field.name for field in RECOMMENDATIONS if field.nullable]
# Equal ranks are kept (positions break them by track id); the same track at the same rank twice
# is one row.
KEY = ("run_id", "user_id", "seed_track_id", "rank", "recommended_track_id")


def _text(column: str, value: object, *, required: bool) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise FieldError(f"{column} is empty")
        return None
    return text


def _record(values: dict) -> dict:
    """One recommendations record from raw values (strings from CSV, typed from Parquet)."""
    record = {
        name: _text(name, values.get(name), required=True)
        for name in (
            "run_id",
            "model_name",
            "model_version",
            "user_id",
            "seed_track_id",
            "recommended_track_id",
        )
    }
    record["variant"] = _text("variant", values.get("variant"), required=False)
    record["generated_at"] = plausible_time(
        "generated_at", parse_timestamp("generated_at", values.get("generated_at"))
    )
    rank = parse_int(
        "rank", str(values.get("rank") if values.get("rank") is not None else ""), required=True
    )
    if rank is None or rank < 1:
        raise FieldError(f"rank {str(values.get('rank')).strip()!r} is not a positive whole number")
    record["rank"] = rank
    score = values.get("score")
    record["score"] = parse_float("score", "" if score is None else str(score), required=False)
    return record


def _parquet_rows(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputFileError(path, f"is not a readable Parquet file ({exc})") from None
    rows = table.to_pylist()
    # Parquet has no lines: rows are numbered from 1, as a reader would count them.
    return table.column_names, list(enumerate(rows, start=1))


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    text, _ = decode_file(path)
    header, rows = iter_csv(path, text, [])
    collected = []
    for row in rows:
        values = dict(row.values)
        problem = row.field_count_problem()
        if problem:
            values["__field_count_error__"] = problem
        collected.append((row.line, values))
    return header, collected


def read_recommendations(path: Path) -> ReadResult:
    """Recommendation lists from a model's output file."""
    is_parquet = path.suffix.lower() in PARQUET_SUFFIXES
    header, rows = _parquet_rows(path) if is_parquet else _csv_rows(path)
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InputFileError(
            path,
            "is not a recommender output: missing column(s) "
            + ", ".join(missing)
            + " (expected "
            + ", ".join(REQUIRED + OPTIONAL)
            + ")",
            line=None if is_parquet else 1,
        )
    records: list[dict] = []
    rejects: list[Reject] = []
    first_seen: dict[tuple, int] = {}
    for line, values in rows:
        try:
            if "__field_count_error__" in values:
                raise FieldError(values.pop("__field_count_error__"))
            record = _record(values)
            key = tuple(record[name] for name in KEY)
            if key in first_seen:
                where = "row" if is_parquet else "line"
                raise FieldError(
                    "duplicates (run_id, user_id, seed_track_id, rank, recommended_track_id) "
                    f"of {where} {first_seen[key]}"
                )
            first_seen[key] = line
        except FieldError as problem:
            rejects.append(Reject(line, str(problem), raw_json(values)))
            continue
        records.append(record)
    return ReadResult(
        kind=KIND,
        path=path,
        rows_in=len(rows),
        tables={"recommendations": table_from_rows("recommendations", records)},
        rejects=rejects,
    )
