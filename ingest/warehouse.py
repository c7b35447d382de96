"""Reading the DuckDB warehouse the dbt build writes (marts in schema `marts`)."""

from __future__ import annotations

import time

import duckdb

from ingest.errors import SpotiflowError
from ingest.settings import Settings

MARTS_SCHEMA = "marts"


def warehouse_config(settings: Settings) -> dict[str, str]:
    """What the warehouse is opened with (profiles.yml's config_options): within one process
    DuckDB opens a file only with one configuration."""
    return {"temp_directory": str(settings.duckdb_temp_directory)}


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse; a clear message when it has not been built."""
    if not settings.warehouse_path.exists():
        raise SpotiflowError(
            f"no warehouse at {settings.warehouse_path}: run `spotiflow build` first"
        )
    deadline = time.monotonic() + settings.warehouse_lock_wait
    pause = 0.2
    while True:
        try:
            # Read-write on purpose: dbt runs in this same process, and DuckDB refuses to open
            # one file read-only and read-write at once within a process.
            return duckdb.connect(str(settings.warehouse_path), config=warehouse_config(settings))
        except duckdb.IOException as exc:
            # Another process holds the file: a reader lets go soon; wait for it a while.
            if "Conflicting lock" not in str(exc) or time.monotonic() + pause > deadline:
                raise SpotiflowError(
                    f"cannot open {settings.warehouse_path} ({exc}); is a build running?"
                ) from None
        time.sleep(pause)
        pause = min(pause * 2, 5.0)


def mart_exists(connection: duckdb.DuckDBPyConnection, name: str) -> bool:
    # fetchall, not fetchone: DuckDB 2 keeps the connection busy until a result is drained.
    [(found,)] = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [MARTS_SCHEMA, name],
    ).fetchall()
    return bool(found)


def require_marts(connection: duckdb.DuckDBPyConnection, *names: str) -> None:
    missing = [name for name in names if not mart_exists(connection, name)]
    if missing:
        raise SpotiflowError(
            "the warehouse has no "
            + ", ".join(f"{MARTS_SCHEMA}.{n}" for n in missing)
            + ": run `spotiflow build` first"
        )
