"""`spotiflow generate`: a synthetic population landed like any source, one batch at a time.

The catalog lands first (tracks and audio features), then one load per batch of listeners
(plays, recommendation lists, time zones, experiment arms). Memory is bounded by the batch,
whose size follows from --days (see PLAYS_PER_BATCH), not by the population.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.identity import stable_hash
from ingest.lake.landing import Lake, LoadReport
from ingest.lake.records import ReadResult
from ingest.lake.schemas import AUDIO_FEATURES, ENTITIES
from spotiflow.simulate.catalog import SyntheticCatalog, build_catalog, nearest_neighbours
from spotiflow.simulate.listening import WEEK, Lists, Plays, group_ordinal, simulate
from spotiflow.simulate.params import (
    CONTROL_VARIANT,
    EXPERIMENT_ID,
    MODELS,
    TREATMENT_VARIANT,
    GeneratorParams,
)
from spotiflow.simulate.population import Listeners, build_listeners

KIND = "generated"


def _utc(local_seconds: np.ndarray, zones: np.ndarray) -> pa.Array:
    """Wall-clock seconds on each listener's clock as UTC timestamps (no zone, microseconds)."""
    utc = np.empty(len(local_seconds), dtype=np.int64)
    for zone in np.unique(zones):
        rows = np.flatnonzero(zones == zone)
        local = pa.array(local_seconds[rows], type=pa.timestamp("s"))
        # Wall-clock times that a daylight-saving change skips or repeats: take the earlier.
        aware = pc.assume_timezone(
            local, timezone=str(zone), ambiguous="earliest", nonexistent="earliest"
        )
        utc[rows] = aware.cast(pa.int64()).to_numpy()
    return pa.array(utc * 1_000_000, type=pa.timestamp("us"))


def _epoch(params: GeneratorParams) -> int:
    return int(
        datetime(params.start.year, params.start.month, params.start.day, tzinfo=UTC).timestamp()
    )


def _result(
    params: GeneratorParams, name: str, tables: dict[str, pa.Table], part: str
) -> ReadResult:
    return ReadResult(
        kind=KIND,
        path=Path(f"generated-seed{params.seed}-{name}"),
        rows_in=sum(table.num_rows for table in tables.values()),
        tables=tables,
        options=params.as_options(),
        checksum=stable_hash(KIND, sorted(params.as_options().items()), part, length=64),
    )


def catalog_result(params: GeneratorParams, catalog: SyntheticCatalog) -> ReadResult:
    count = catalog.size
    nothing = pa.nulls(count)
    tracks = pa.table(
        {
            "track_id": catalog.track_ids,
            "track_name": catalog.track_names,
            "artist_name": catalog.artist_names,
            "album_name": nothing,
            "duration_ms": catalog.duration_ms,
            "popularity": catalog.popularity,
            "streams": nothing,
        }
    ).cast(ENTITIES["tracks"])
    features = {"track_id": catalog.track_ids}
    features.update({name: catalog.features[:, i] for i, name in enumerate(AUDIO_FEATURES)})
    for name in ("tempo", "loudness", "key", "mode", "time_signature"):
        features[name] = nothing
    features["source_scale"] = np.full(count, "unit")
    audio = pa.table(features).cast(ENTITIES["audio_features"])
    return _result(params, "catalog", {"tracks": tracks, "audio_features": audio}, "catalog")


def _repeat_ordinal(plays: Plays) -> np.ndarray:
    """The play_seq of the natural key: which of a listener's equal (track, end time) plays."""
    same = (
        (plays.user[1:] == plays.user[:-1])
        & (plays.track[1:] == plays.track[:-1])
        & (plays.local_end[1:] == plays.local_end[:-1])
    )
    return group_ordinal(np.r_[True, ~same]).astype(np.int32)


def _plays_table(
    params: GeneratorParams, catalog: SyntheticCatalog, listeners: Listeners, plays: Plays
) -> pa.Table:
    user_ids = pa.array(listeners.user_ids)
    user = pa.array(plays.user)
    # Plays are sorted by listener and time: a play's id is its listener and its ordinal.
    ordinal = group_ordinal(np.r_[True, plays.user[1:] != plays.user[:-1]])
    user_column = pc.take(user_ids, user)
    play_id = pc.binary_join_element_wise(
        user_column, pc.cast(pa.array(ordinal + 1), pa.string()), "-"
    )
    count = len(plays.user)
    return pa.table(
        {
            "play_id": play_id,
            "user_id": user_column,
            "track_id": catalog.track_ids[plays.track],
            "track_name": catalog.track_names[plays.track],
            "artist_name": catalog.artist_names[plays.track],
            "played_at": _utc(_epoch(params) + plays.local_end, listeners.time_zones[plays.user]),
            "played_at_precision": np.full(count, "second"),
            "play_seq": _repeat_ordinal(plays),
            "ms_played": plays.ms_played,
            "content_type": np.full(count, "music"),
            "skipped": plays.skipped,
            "reason_start": plays.reason_start,
            "reason_end": plays.reason_end,
            "shuffle": plays.shuffle,
            "platform": listeners.platform[plays.user],
            "offline": np.zeros(count, dtype=bool),
            "private_session": np.zeros(count, dtype=bool),
        }
    ).cast(ENTITIES["plays"])


def _lists_table(
    params: GeneratorParams, catalog: SyntheticCatalog, listeners: Listeners, lists: Lists
) -> pa.Table:
    # One run per model and week: every listener's lists of that week come from it.
    run_ids = {
        (m, w): stable_hash(KIND, params.seed, MODELS[m].model_name, MODELS[m].model_version, w)
        for m in range(len(MODELS))
        for w in range(params.weeks)
    }
    model = lists.model.astype(int)
    week = lists.week.astype(int)
    generated_local = _epoch(params) + (week + 1) * WEEK
    return pa.table(
        {
            "run_id": [run_ids[(m, w)] for m, w in zip(model, week, strict=True)],
            "model_name": [MODELS[m].model_name for m in model],
            "model_version": [MODELS[m].model_version for m in model],
            "variant": [MODELS[m].variant for m in model],
            "generated_at": _utc(generated_local, listeners.time_zones[lists.user]),
            "user_id": pc.take(pa.array(listeners.user_ids), pa.array(lists.user)),
            "seed_track_id": catalog.track_ids[lists.seed_track],
            "rank": lists.rank.astype(np.int32),
            "recommended_track_id": catalog.track_ids[lists.track],
            "score": lists.score,
        }
    ).cast(ENTITIES["recommendations"])


def _listener_tables(params: GeneratorParams, listeners: Listeners) -> dict[str, pa.Table]:
    start = np.full(listeners.count, _epoch(params))
    assignment = start + params.experiment_start_week * WEEK
    profiles = pa.table(
        {
            "user_id": listeners.user_ids,
            "time_zone": listeners.time_zones,
            "set_at": pa.array(
                [datetime.combine(params.start, datetime.min.time())] * listeners.count,
                pa.timestamp("us"),
            ),
        }
    ).cast(ENTITIES["user_profiles"])
    assignments = pa.table(
        {
            "experiment_id": np.full(listeners.count, EXPERIMENT_ID),
            "user_id": listeners.user_ids,
            "variant": np.where(listeners.treatment, TREATMENT_VARIANT, CONTROL_VARIANT),
            "assigned_at": _utc(assignment, listeners.time_zones),
        }
    ).cast(ENTITIES["experiment_assignments"])
    return {"user_profiles": profiles, "experiment_assignments": assignments}


def batch_result(
    params: GeneratorParams,
    catalog: SyntheticCatalog,
    neighbours: np.ndarray,
    batch: int,
    first: int,
    count: int,
) -> ReadResult:
    listeners = build_listeners(params, catalog, batch, first, count)
    plays, lists = simulate(params, catalog, neighbours, listeners, batch)
    tables = {
        "plays": _plays_table(params, catalog, listeners, plays),
        "recommendations": _lists_table(params, catalog, listeners, lists),
        **_listener_tables(params, listeners),
    }
    name = f"users{first + 1:07d}-{first + count:07d}"
    return _result(params, name, tables, f"batch {batch}")


def generate(
    lake: Lake, params: GeneratorParams, progress: Callable[[LoadReport, float], None]
) -> list[LoadReport]:
    """Land the catalog, then every batch of listeners; `progress` hears of each load and its
    rows per second."""
    catalog = build_catalog(params)
    neighbours = nearest_neighbours(catalog.features, max(m.neighbourhood for m in MODELS))
    reports = []
    started = time.perf_counter()
    report = lake.land(catalog_result(params, catalog))
    progress(report, catalog.size / max(time.perf_counter() - started, 1e-9))
    reports.append(report)
    for batch, (first, count) in enumerate(params.batches()):
        started = time.perf_counter()
        result = batch_result(params, catalog, neighbours, batch, first, count)
        report = lake.land(result)
        progress(report, result.rows_in / max(time.perf_counter() - started, 1e-9))
        reports.append(report)
    return reports
