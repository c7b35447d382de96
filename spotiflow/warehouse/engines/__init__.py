"""The engines a warehouse is built on (SPOTIFLOW_ENGINE): what each needs before dbt runs, and
one reader of its marts for every consumer (summary, export, checkpoint, recommender, dashboard).

Consumers write SQL that DuckDB and PostgreSQL both read (`?` placeholders), over relations
named `<schema>.<table>`: `marts.*`, `intermediate.*` and the lake's sources `lake.*`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ingest.lake.landing import Lake
from spotiflow.settings import Settings
from spotiflow.warehouse import duckdb_file
from spotiflow.warehouse.engines import postgres, spark
from spotiflow.warehouse.engines.reader import Warehouse

__all__ = ["Warehouse", "built_at", "mark_built", "open_warehouse", "prepare_lake"]


def prepare_lake(settings: Settings, lake: Lake) -> None:
    """What the engine needs of the lake before dbt runs (the lake's lock is held)."""
    if settings.engine == "postgres":
        copy = postgres.publish_lake(settings, lake)
        if copy.copied or copy.withdrawn:
            print(
                f"build: copied {copy.copied} load file(s) ({copy.rows} rows) into PostgreSQL"
                + (f", withdrew {copy.withdrawn}" if copy.withdrawn else "")
            )


@contextlib.contextmanager
def open_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The warehouse the engine built, for reading: the last published build, or within a
    build (spotiflow/warehouse/publish.py) the build's own, which its checkpoint reads."""
    if settings.engine == "postgres":
        with postgres.connect(settings) as connection:
            connection.set_session(readonly=True, autocommit=True)
            prefix = settings.postgres_schema_prefix
            yield Warehouse(
                connection,
                f"PostgreSQL database {settings.postgres_database}"
                + (f" (the build's schemas, {prefix}*)" if prefix else ""),
                schema_prefix=prefix,
            )
        return
    if settings.engine == "spark":
        with spark.parquet_tables(settings) as connection:
            yield Warehouse(connection, spark.description(settings))
        return
    # The published file is only ever read (DuckDB lets many processes read it at once).
    read_only = settings.building_warehouse is None
    with duckdb_file.connect(settings, read_only=read_only) as connection:
        yield Warehouse(connection, f"the warehouse {settings.warehouse_path}")


def _build_stamp(settings: Settings) -> Path:
    if settings.engine == "duckdb":
        return settings.warehouse_path
    return settings.data_dir / f".built-{settings.engine}"


def mark_built(settings: Settings) -> None:
    """Note a finished build (DuckDB's file changes by itself): readers' caches key on it."""
    if settings.engine != "duckdb":
        _build_stamp(settings).touch()


def built_at(settings: Settings) -> float | None:
    """When the warehouse was last built (seconds since the epoch), None before any build."""
    try:
        return _build_stamp(settings).stat().st_mtime
    except FileNotFoundError:
        return None
