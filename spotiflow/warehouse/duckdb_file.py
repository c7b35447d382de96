"""Reading the DuckDB warehouse the dbt build writes (marts in schema `marts`)."""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Iterator

import duckdb

from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings

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


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse; a clear message when it has not been built. Read-only
    suits a process that never runs dbt (many may read at once)."""
    if not settings.warehouse_path.exists():
        raise SpotiflowError(
            f"no warehouse at {settings.warehouse_path}: run `spotiflow build` first"
        )
    return _open_when_free(settings, read_only=read_only)


@contextlib.contextmanager
def held(settings: Settings) -> Iterator[None]:
    """Hold the warehouse for this process while the block runs (dbt, in-process): DuckDB hands
    this process's later opens the same database, so a reader cannot slip in between them."""
    if not settings.warehouse_path.exists():
        yield
        return
    with _open_when_free(settings):
        yield


def _open_when_free(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + settings.warehouse_lock_wait
    while True:
        try:
            # Read-write unless asked: dbt may run in this same process, and DuckDB refuses to
            # open one file read-only and read-write at once within a process.
            if read_only:
                return duckdb.connect(str(settings.warehouse_path), read_only=True)
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
