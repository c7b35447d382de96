"""Running dbt in-process against the project, with SpotiFlow's settings in its environment."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spotiflow.errors import STORAGE_FAILURES, BuildError, SpotiflowError
from spotiflow.settings import Settings
from spotiflow.warehouse.duckdb_file import held, lock_holder


@dataclass
class DbtOutcome:
    """What a dbt command did: counts by status and the nodes that failed."""

    command: str
    success: bool
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = ", ".join(f"{count} {status}" for status, count in sorted(self.statuses.items()))
        return f"dbt {self.command}: {counts or 'nothing ran'}"


@contextlib.contextmanager
def dbt_environment(settings: Settings) -> Iterator[None]:
    """dbt reads its settings from the environment: set them for the call, then restore."""
    values = {
        "SPOTIFLOW_DATA_DIR": str(settings.data_dir),
        # The DuckDB file dbt builds: a build's own, never the one readers open.
        "SPOTIFLOW_DUCKDB_PATH": str(settings.warehouse_path),
        # Spelled out, so dbt opens the warehouse with the very config this process uses.
        "SPOTIFLOW_DUCKDB_TEMP_DIRECTORY": str(settings.duckdb_temp_directory),
        "DBT_PROFILES_DIR": str(settings.project_dir),
        "DBT_TARGET": settings.dbt_target,
        "DBT_TARGET_PATH": str(settings.dbt_target_path),
        "SPOTIFLOW_ENGINE": settings.engine,
        # The database the lake was copied into (profiles.yml reads libpq's variable).
        "PGDATABASE": settings.postgres_database,
        # The role the marts are granted to on PostgreSQL (dbt_project.yml); empty: none.
        "SPOTIFLOW_POSTGRES_READER_ROLE": settings.postgres_reader_role or "",
        # PostgreSQL: a build writes the building schemas (prefixed), never those readers read.
        "SPOTIFLOW_POSTGRES_SCHEMA_PREFIX": settings.postgres_schema_prefix,
        # Spark's session binds the loopback address, never the machine's name, and logs errors
        # only (profiles.yml).
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "SPOTIFLOW_SPARK_LOG_CONFIG": str(
            Path(__file__).parent / "engines" / "log4j2-spark.properties"
        ),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "SPOTIFLOW_DUCKDB_KEEP_OPEN": "true",
        # dbt-duckdb tries at 0, 1, 3, 7 … s (it waits 1, 2, 4 … s between): enough attempts
        # that the last comes after the wait (it gives up by about twice the wait).
        "SPOTIFLOW_DUCKDB_CONNECT_ATTEMPTS": str(
            math.ceil(math.log2(settings.warehouse_lock_wait + 1)) + 1
        ),
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _invoke(settings: Settings, cli_args: list[str], manifest=None):  # -> dbtRunnerResult
    from dbt.cli.main import dbtRunner  # imported late: dbt takes ~1.5 s to import

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # A log file that cannot be written (disk full) must not print a traceback per line.
    raise_exceptions, logging.raiseExceptions = logging.raiseExceptions, False
    try:
        with dbt_environment(settings), warnings.catch_warnings():
            # pyspark warns, on import, that it does not yet support pandas 3 fully.
            warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
            return dbtRunner(manifest=manifest).invoke(cli_args)
    finally:
        logging.raiseExceptions = raise_exceptions
        _release_warehouse()


def _release_warehouse() -> None:
    """Close the DuckDB file dbt-duckdb kept open for the call (SPOTIFLOW_DUCKDB_KEEP_OPEN):
    readers must not wait for this process to end."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with contextlib.suppress(Exception):  # nothing was opened (another target, a parse)
        DuckDBConnectionManager.env().close()
    DuckDBConnectionManager.close_all_connections()


def _outcome(command: str, result) -> DbtOutcome:
    outcome = DbtOutcome(command=command, success=result.success)
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status))
        outcome.statuses[status] += 1
        if status in {"error", "fail"}:
            node = node_result.node
            message = (node_result.message or "").strip().splitlines()
            outcome.failures.append(
                f"{node.resource_type} {node.name}: {message[0] if message else status}"
            )
    if result.exception is not None and not outcome.failures:
        # "Compilation Error in operation …" then the message: say both, on one line.
        lines = [line.strip() for line in str(result.exception).strip().splitlines()]
        outcome.failures.append(": ".join(line for line in lines if line))
    return outcome


def _lock_holder(outcome: DbtOutcome) -> str | None:
    """Who holds the warehouse, when a failure is DuckDB's lock conflict (else None)."""
    for failure in outcome.failures:
        holder = lock_holder(failure)
        if holder is not None:
            return holder
    return None


class DbtSession:
    """One dbt for a whole `spotiflow build`: the project is parsed once, in this process, and
    every command after reuses that parse (dbt's own runner, given the manifest), so a build
    pays dbt's fixed cost once. `parse_seconds` says what the parse cost."""

    def __init__(self, settings: Settings, *, parse_once: bool = True) -> None:
        self.settings = settings
        self.parse_once = parse_once
        self.parse_seconds: float | None = None
        self._manifest = None

    def _common_args(self) -> list[str]:
        return [
            "--project-dir", str(self.settings.project_dir),
            "--profiles-dir", str(self.settings.project_dir),
            "--target", self.settings.dbt_target,
            "--log-path", str(self.settings.data_dir / "logs"),
            "--quiet",
        ]  # fmt: skip

    def _parsed(self):  # -> Manifest | None
        if self._manifest is None and self.parse_once:
            started = time.monotonic()
            result = _invoke(self.settings, ["parse", *self._common_args()])
            if result.success:
                self._manifest = result.result
                self.parse_seconds = time.monotonic() - started
        return self._manifest

    def run(self, *args: str, raise_on_failure: bool = True) -> DbtOutcome:
        """Invoke dbt (quietly: errors only) and summarise the results.

        A reader holding the DuckDB file (a plain dbt's, or a BI tool on a file this process
        writes) would keep dbt from opening it: this process waits for the file
        (SPOTIFLOW_WAREHOUSE_LOCK_WAIT seconds) and holds it for the call, then names the
        holder if it could not. (A plain `dbt` has dbt-duckdb's retries, profiles.yml.)
        """
        settings = self.settings
        # The command's words, before its options ("build", "source freshness").
        command = " ".join(itertools.takewhile(lambda arg: not arg.startswith("-"), args))
        # A project that does not parse: the command itself says why, as it would alone.
        manifest = self._parsed()
        holding = held(settings) if settings.engine == "duckdb" else contextlib.nullcontext()
        with holding:
            result = _invoke(settings, [*args, *self._common_args()], manifest)
            outcome = _outcome(command, result)
        holder = _lock_holder(outcome)
        if holder is not None:
            raise SpotiflowError(
                f"{settings.warehouse_path} is held by {holder} (a dashboard, BI tool or other "
                f"reader) and was not let go of within {settings.warehouse_lock_wait} s: close "
                "it, or set SPOTIFLOW_WAREHOUSE_LOCK_WAIT"
            )
        storage = [f for f in outcome.failures if any(text in f for text in STORAGE_FAILURES)]
        if storage:
            # Not a failing model: the data dir cannot take the build's writes.
            raise SpotiflowError(
                f"{outcome.summary()}: the warehouse cannot be written: {storage[0]}"
            )
        if raise_on_failure and not outcome.success:
            detail = "\n  ".join(outcome.failures) or "see the log in " + str(
                settings.data_dir / "logs"
            )
            raise BuildError(f"{outcome.summary()}\n  {detail}")
        return outcome


def run_dbt(settings: Settings, *args: str, raise_on_failure: bool = True) -> DbtOutcome:
    """One dbt command, which parses the project itself (see DbtSession.run)."""
    return DbtSession(settings, parse_once=False).run(*args, raise_on_failure=raise_on_failure)
