"""Reading the DuckDB warehouse the dbt build writes (marts in schema `marts`)."""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Iterator

import duckdb

from ingest.errors import SpotiflowError
from ingest.settings import Settings

MARTS_SCHEMA = "marts"
# DuckDB's words when another process holds the file: "Conflicting lock is held in
# /usr/bin/python3 (PID 4242)".
_LOCK_CONFLICT = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


def lock_holder(message: str) -> str | None:
    """Who holds the warehouse, if the message is DuckDB's lock conflict: the program's name
    and pid only (its full path may name a home folder, and so a user)."""
    found = _LOCK_CONFLICT.search(message)
    if found:
        return f"{os.path.basename(found.group(1).strip())} (PID {found.group(2)})"
    return "another process" if "Conflicting lock" in message else None


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
    return _open_when_free(settings)


@contextlib.contextmanager
def held(settings: Settings) -> Iterator[None]:
    """Hold the warehouse for this process while the block runs (dbt, in-process): DuckDB hands
    this process's later opens the same database, so a reader cannot slip in between them."""
    if not settings.warehouse_path.exists():
        yield
        return
    with _open_when_free(settings):
        yield


def _open_when_free(settings: Settings) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + settings.warehouse_lock_wait
    while True:
        try:
            # Read-write on purpose: dbt runs in this same process, and DuckDB refuses to open
            # one file read-only and read-write at once within a process.
            return duckdb.connect(str(settings.warehouse_path), config=warehouse_config(settings))
        except duckdb.IOException as exc:
            holder = lock_holder(str(exc))
            if holder is None:
                raise SpotiflowError(
                    f"cannot open {settings.warehouse_path}: {str(exc).splitlines()[0]}"
                ) from None
            # Another process holds the file: a reader lets go soon; wait for it a while.
            if time.monotonic() > deadline:
                raise SpotiflowError(
                    f"{settings.warehouse_path} is held by {holder} (a build, the dashboard or "
                    f"a BI tool) and was not let go of within {settings.warehouse_lock_wait} s: "
                    "try again when it has finished, or set SPOTIFLOW_WAREHOUSE_LOCK_WAIT"
                ) from None
        # Often, at no fixed beat: a reader that holds the file for moments is soon beaten.
        time.sleep(random.uniform(0.05, 0.25))


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


def require_lake_views(connection: duckdb.DuckDBPyConnection) -> None:
    """The views over the lake's committed loads, which every dbt run makes."""
    [(found,)] = connection.execute(
        "select count(*) from information_schema.tables where table_schema = 'lake'"
    ).fetchall()
    if not found:
        raise SpotiflowError("the warehouse has no views of the lake yet: run `spotiflow build`")
