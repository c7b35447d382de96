"""The great-expectations checkpoint: what dbt's tests cannot see.

dbt tests the models (grain, ranges, relationships). This checkpoint checks the lake as landed,
committed loads only, before any model reads it, and reconciles the lake, its manifest and the
marts with each other: every rejected row is in the lake, every load reaches the marts, each
load's rows are in its file (its own, or the compacted file that holds them) and in what dbt's
sources read. (That every staged play is counted
once is the warehouse's own affair: a dbt test, tests/data/singular.) A failure names the data
set, the check, how many rows fail and an example row (by its key columns).

GX's SQL datasource cannot validate DuckDB (it closes the pooled connection before fetching), so
each data set is read into a pandas frame and validated there, whatever the engine (the reader,
spotiflow/warehouse/engines). The checks are data (CHECKS).

A landed load never changes (compaction moves its rows, not their values), so a build validates
the rows of the loads no passing checkpoint has seen (with the same CHECKS), and only the columns
the checks name, a batch of files at a time: the cost follows the new data and memory the batch.
The reconciliations, which count every load, run whole every time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from ingest.identity import stable_hash
from ingest.lake.landing import Lake, write_text_atomically
from ingest.lake.schemas import AUDIO_FEATURES, ENTITIES
from spotiflow.errors import StorageError
from spotiflow.settings import Settings
from spotiflow.warehouse.engines import Warehouse, open_warehouse

# Expectation kinds used below -> (GX expectation class name, how a failure reads).
KINDS: dict[str, tuple[str, str]] = {
    "not_null": ("ExpectColumnValuesToNotBeNull", "{column} is never null"),
    "unique": ("ExpectColumnValuesToBeUnique", "{column} is unique"),
    "between": ("ExpectColumnValuesToBeBetween", "{column} within {min_value}..{max_value}"),
    "unique_together": ("ExpectCompoundColumnsToBeUnique", "({columns}) unique together"),
    "equal": ("ExpectColumnPairValuesToBeEqual", "{column_A} = {column_B}"),
    "in_set": ("ExpectColumnValuesToBeInSet", "{column} is one of {value_set}"),
}

Check = tuple[str, dict[str, Any]]

# The export records of one load: one row per record of a file.
_EXPORT_RECORDS: list[Check] = [
    ("not_null", {"column": "user_id"}),
    ("unique_together", {"column_list": ["load_id", "source_file", "file_kind", "record_number"]}),
]

# Data set -> what must hold. `lake.<entity>` is the entity's committed files as landed;
# `reconcile.*` are built by the reconciliations below from the lake, its manifest and the marts.
CHECKS: dict[str, list[Check]] = {
    "lake.plays": [
        ("not_null", {"column": "play_id"}),
        ("not_null", {"column": "user_id"}),
        ("not_null", {"column": "played_at"}),
        # A landed play is one row of its load: its id names it, whatever it lacks.
        ("unique_together", {"column_list": ["load_id", "play_id"]}),
    ],
    "lake.spotify_export__extended_plays": [*_EXPORT_RECORDS, ("not_null", {"column": "ts"})],
    "lake.spotify_export__account_plays": [
        *_EXPORT_RECORDS, ("not_null", {"column": "end_time"}),
    ],
    "lake.audio_features": [
        ("not_null", {"column": "track_id"}),
        *[("between", {"column": name, "min_value": 0, "max_value": 1})
          for name in AUDIO_FEATURES],
    ],
    "lake.recommendations": [
        *[("not_null", {"column": name})
          for name in ("run_id", "user_id", "seed_track_id", "recommended_track_id")],
        ("between", {"column": "rank", "min_value": 1, "max_value": None}),
        ("unique_together", {"column_list": ["load_id", "run_id", "user_id", "seed_track_id",
                                             "rank", "recommended_track_id"]}),
    ],
    "lake.loads": [
        ("unique", {"column": "load_id"}),
        ("equal", {"column_A": "rows_in", "column_B": "rows_accounted"}),
    ],
    "reconcile.loads": [
        ("equal", {"column_A": "rows_rejected", "column_B": "rejects_in_lake"}),
        ("in_set", {"column": "in_marts", "value_set": [True]}),
    ],
    # Each load's rows per entity: as its manifest row says = in its file = what dbt's source
    # reads (a file lost, replaced or cut short after landing shows here).
    "reconcile.lake": [
        ("equal", {"column_A": "manifest_rows", "column_B": "lake_rows"}),
        ("equal", {"column_A": "lake_rows", "column_B": "source_rows"}),
    ],
}  # fmt: skip

# The columns that name a failing row in a data set's examples.
KEYS: dict[str, list[str]] = {
    "lake.plays": ["load_id", "play_id"],
    "lake.spotify_export__extended_plays": ["load_id", "source_file", "record_number"],
    "lake.spotify_export__account_plays": ["load_id", "source_file", "record_number"],
    "lake.audio_features": ["load_id", "track_id"],
    "lake.recommendations": ["load_id", "run_id", "user_id", "seed_track_id"],
    "lake.loads": ["load_id", "source_file"],
    "reconcile.loads": ["load_id", "source_file"],
    "reconcile.lake": ["load_id", "entity"],
}

# Reconciliations over the lake's committed files (registered as lake_<entity>, read here)
# and the load ids the marts hold (marts_load_ids, from the warehouse).
LAKE_RECONCILIATIONS: dict[str, str] = {
    # Each load's rejected rows are in the lake, and the load reached the marts.
    "reconcile.loads": """
        select
            loads.load_id,
            loads.source_file,
            loads.rows_rejected,
            coalesce(rejects.rejects_in_lake, 0) as rejects_in_lake,
            marts_loads.load_id is not null as in_marts
        from lake_loads as loads
        left join (
            select load_id, count(*) as rejects_in_lake from lake_rejects group by load_id
        ) as rejects on loads.load_id = rejects.load_id
        left join marts_load_ids as marts_loads on loads.load_id = marts_loads.load_id
    """,
}

MARTS_READ = ("fct_loads",)

# Data sets of the lake's rows (not its manifest): validated load by load, in batches of files
# of about BATCH_ROWS rows.
ROW_SETS = tuple(name for name in CHECKS if name.startswith("lake.") and name != "lake.loads")
BATCH_ROWS = 1_000_000
# The loads a passing checkpoint validated, and under which checks (in the builds' folder).
CHECKED_LOADS = "checked-loads.json"


@dataclass
class DatasetResult:
    name: str
    rows: int
    evaluated: int
    failures: list[str] = field(default_factory=list)


@dataclass
class QualityReport:
    results: list[DatasetResult]
    # Loads whose rows were validated (the others passed an earlier checkpoint).
    loads_checked: int = 0
    loads_committed: int = 0

    @property
    def success(self) -> bool:
        return not any(result.failures for result in self.results)

    @property
    def expectations(self) -> int:
        return sum(result.evaluated for result in self.results)

    def summary(self) -> str:
        head = (
            f"quality checkpoint: {len(self.results)} data sets, {self.expectations} expectations"
            f" (the rows of {self.loads_checked} of {self.loads_committed} loads; the others"
            " passed before)"
            if self.loads_checked < self.loads_committed
            else f"quality checkpoint: {len(self.results)} data sets, "
            f"{self.expectations} expectations"
        )
        failures = [failure for result in self.results for failure in result.failures]
        if not failures:
            return f"{head}, all passed"
        return "\n  ".join([f"{head}, {len(failures)} failed:", *failures])


def _register_lake(connection: duckdb.DuckDBPyConnection, lake: Lake, entity: str) -> None:
    """lake_<entity>: the entity's committed rows, read by path (no glob), for this connection
    only."""
    connection.register(f"lake_{entity}", lake.committed(entity).read())


def _lake_rows(warehouse: Warehouse, lake: Lake) -> pd.DataFrame:
    """One row per (load, entity) the manifest says the load wrote (loads landed before the
    manifest counted rows per entity are not listed)."""
    rows = []
    read: dict[str, dict[str, int]] = {}
    in_lake: dict[str, Counter[str]] = {}
    state = lake.files()
    manifest = state.manifest
    loads = (
        manifest.select(["load_id", "entity_rows"]).to_pylist()
        if "entity_rows" in manifest.column_names
        else []
    )
    for load in loads:
        try:
            counts = json.loads(load["entity_rows"] or "{}")
        except json.JSONDecodeError:
            counts = {"(unreadable entity_rows)": -1}
        for entity, count in counts.items():
            if entity not in ENTITIES:  # a manifest naming no entity: nothing can match it
                rows.append({"load_id": load["load_id"], "entity": entity,
                             "manifest_rows": count, "lake_rows": 0, "source_rows": 0})  # fmt: skip
                continue
            if entity not in read:
                read[entity] = dict(
                    warehouse.rows(f"select load_id, count(*) from lake.{entity} group by load_id")
                )
                # Its own file's rows, or its rows in the compacted file that holds them.
                in_lake[entity] = state.entity(entity).rows_by_load()
            rows.append(
                {
                    "load_id": load["load_id"],
                    "entity": entity,
                    "manifest_rows": count,
                    "lake_rows": in_lake[entity][load["load_id"]],
                    "source_rows": read[entity].get(load["load_id"], 0),
                }
            )
    columns = ["load_id", "entity", "manifest_rows", "lake_rows", "source_rows"]
    return pd.DataFrame(rows, columns=columns)


def _read_frames(settings: Settings, lake: Lake) -> dict[str, pd.DataFrame]:
    """The manifest and the reconciliations, whole: one row per load (and entity)."""
    frames: dict[str, pd.DataFrame] = {}
    with open_warehouse(settings) as warehouse, duckdb.connect() as connection:
        warehouse.require_marts(*MARTS_READ)
        warehouse.require_lake()
        for entity in ("loads", "rejects"):
            _register_lake(connection, lake, entity)
        connection.register(
            "marts_load_ids", warehouse.arrow("select load_id from marts.fct_loads")
        )
        frames["lake.loads"] = connection.sql("select * from lake_loads").df()
        frames["reconcile.lake"] = _lake_rows(warehouse, lake)
        for name, sql in LAKE_RECONCILIATIONS.items():
            frames[name] = connection.sql(sql).df()
    loads = frames["lake.loads"]
    # GX compares column pairs: derive the side that must equal rows_in.
    frames["lake.loads"] = loads.assign(rows_accounted=loads.rows_landed + loads.rows_rejected)
    return frames


def _columns(name: str) -> list[str]:
    """What a data set's checks and failure examples read."""
    wanted = list(KEYS[name])
    for _, kwargs in CHECKS[name]:
        wanted += [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]
        wanted += kwargs.get("column_list", [])
    return list(dict.fromkeys(wanted))


def _row_batches(lake: Lake, name: str, loads: set[str]) -> Iterator[pd.DataFrame]:
    entity = name.split(".", 1)[1]
    for batch in lake.committed(entity).batches(_columns(name), loads, BATCH_ROWS):
        yield batch.to_pandas()


def _fingerprint() -> str:
    return stable_hash("checks", repr(CHECKS), repr(KEYS), length=32)


def checked_loads(settings: Settings) -> set[str]:
    """Loads a passing checkpoint validated under today's checks (none if the checks changed)."""
    try:
        record = json.loads((settings.builds_dir / CHECKED_LOADS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(record, dict) or record.get("checks") != _fingerprint():
        return set()
    return {load for load in record.get("loads", []) if isinstance(load, str)}


def _remember(settings: Settings, loads: set[str]) -> None:
    """Record the loads a passing checkpoint covered. A data dir this process may not write (a
    reader's `spotiflow check`) keeps no record: the next build validates those loads again."""
    record = {"checks": _fingerprint(), "loads": sorted(loads)}
    with contextlib.suppress(OSError, StorageError):
        settings.builds_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomically(settings.builds_dir / CHECKED_LOADS, json.dumps(record) + "\n")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _describe(kind: str, kwargs: dict[str, Any], result: dict[str, Any], keys: list[str]) -> str:
    text = KINDS[kind][1].format(
        columns=", ".join(kwargs.get("column_list", [])),
        **{k: ("" if v is None else v) for k, v in kwargs.items()},
    )
    rows = result.get("partial_unexpected_index_list") or []
    if rows:
        # The row's key first, then the values checked.
        ordered = [{k: row[k] for k in [*keys, *sorted(set(row) - set(keys))] if k in row}
                   for row in rows[:2]]  # fmt: skip
        examples = "; ".join(
            ", ".join(f"{k}={_plain(v)!r}" for k, v in row.items()) for row in ordered
        )
    else:
        examples = ", ".join(
            repr(value) for value in (result.get("partial_unexpected_list") or [])[:3]
        )
    failing = result.get("unexpected_count")
    count = f"{failing} of {result.get('element_count')} rows fail" if failing is not None else ""
    return f"{text}: {count}" + (f" (e.g. {examples})" if examples else "")


def _merged(first: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    """One check's failures over several batches: counts add up, the first examples stay."""
    if first is None:
        return dict(result)
    first["unexpected_count"] = (first.get("unexpected_count") or 0) + (
        result.get("unexpected_count") or 0
    )
    return first


def run_checkpoint(settings: Settings, *, new_loads_only: bool = False) -> QualityReport:
    """Validate every data set in CHECKS; the report says what failed, where and how often.
    With `new_loads_only` (a build), rows of loads an earlier checkpoint passed are not read
    again. A passing checkpoint records the loads it covered."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    lake = Lake(settings.lake_dir)
    committed = lake.committed_load_ids()
    to_check = committed - checked_loads(settings) if new_loads_only else committed
    frames = _read_frames(settings, lake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # After the import: GX sets its loggers' levels as it loads.
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("great_expectations."):
                logging.getLogger(name).setLevel(logging.ERROR)

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        datasource = context.data_sources.add_pandas("spotiflow")
        results = []
        for name, checks in CHECKS.items():
            suite = context.suites.add(gx.ExpectationSuite(name=name))
            for kind, kwargs in checks:
                expectation = getattr(gxe, KINDS[kind][0])
                suite.add_expectation(expectation(**kwargs))
            batch = datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
            checkpoint = context.checkpoints.add(
                gx.Checkpoint(
                    name=f"spotiflow {name}",
                    validation_definitions=[definition],
                    result_format={
                        "result_format": "SUMMARY",
                        "unexpected_index_column_names": KEYS[name],
                    },
                )
            )
            batches = _row_batches(lake, name, to_check) if name in ROW_SETS else [frames[name]]
            result = DatasetResult(name=name, rows=0, evaluated=len(checks))
            failed: list[dict[str, Any] | None] = [None] * len(checks)
            errors: list[str | None] = [None] * len(checks)
            for frame in batches:
                result.rows += len(frame)
                outcome = checkpoint.run(batch_parameters={"dataframe": frame})
                for validation in outcome.run_results.values():
                    for index, check in enumerate(validation.results):
                        if check.success:
                            continue
                        failed[index] = _merged(failed[index], check.result)
                        if check.exception_info.get("raised_exception") and not errors[index]:
                            errors[index] = str(check.exception_info.get("exception_message"))
            for (kind, kwargs), failure, error in zip(checks, failed, errors, strict=True):
                if failure is None:
                    continue
                failure["element_count"] = result.rows
                text = _describe(kind, kwargs, failure, KEYS[name])
                if error is not None:
                    text += f" could not be evaluated ({error})"
                result.failures.append(f"{name}: {text}")
            results.append(result)
    report = QualityReport(results, loads_checked=len(to_check), loads_committed=len(committed))
    if report.success:
        _remember(settings, committed)
    return report
