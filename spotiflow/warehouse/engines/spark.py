"""Reading what Spark built without a Spark session: DuckDB over the tables' Parquet files.

dbt-spark writes every table as Parquet under the Spark warehouse (profiles.yml's
spark.sql.warehouse.dir): `<schema>.db/<table>/`, partitioned tables in `<column>=<value>/`
folders, the default schema's tables at the top. The reader opens an in-memory DuckDB in which
each of them is a view `<schema>.<table>`, columns in the order and types of the model's
contract where it has one (Spark puts partition columns last and writes INT96 timestamps), so
every consumer reads the marts as on any engine, no JVM started, no metastore locked. The
lake's sources (`lake.<entity>`) are its committed loads' files, as Spark's views read them.

Spark builds its tables in place, and a table it rebuilds is dropped and written anew, so
readers never read the tables a build writes: `spotiflow build` publishes a build that passed
every test as a snapshot of them, <data dir>/spark/published/<name>/ (hard links to each table's
files: Spark never rewrites a file, it writes new ones and deletes the old, so a linked file
keeps its rows), with the contracts it was built to and its publication record, and makes it
the one readers read by replacing one link, `published/current`. A reader opens one snapshot
and keeps it; the snapshot before the current one is kept too, for readers that opened it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.lake.landing import Lake, fsync_dir, write_text_atomically
from ingest.lake.schemas import ENTITIES
from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings
from spotiflow.warehouse.engines.reader import sql_literal

DEFAULT_SCHEMA = "default"
CURRENT = "current"  # the link to the snapshot readers read
CONTRACTS = "contracts.json"
RECORD = "publication.json"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _contracts(settings: Settings) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) -> [(column, type)] of models whose YAML lists their columns, from the
    project's last parse (target/manifest.json)."""
    manifest = settings.dbt_target_path / "manifest.json"
    try:
        nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {})
    except (OSError, ValueError):
        return {}
    found = {}
    for node in nodes.values():
        columns = [
            (name, (column.get("data_type") or "").lower())
            for name, column in (node.get("columns") or {}).items()
        ]
        if node.get("resource_type") == "model" and columns and all(t for _, t in columns):
            found[(node["schema"], node["alias"])] = columns
    return found


def _table_files(folder: Path) -> list[str]:
    return sorted(
        str(path)
        for path in folder.rglob("*.parquet")
        if not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
    )


def _view(connection, schema: str, table: str, files: list[str], contract) -> None:
    relation = f"{_quoted(schema)}.{_quoted(table)}"
    if not files:
        if not contract:
            return  # an empty table no contract describes: nothing to say what it holds
        columns = ", ".join(f"cast(null as {kind}) as {_quoted(name)}" for name, kind in contract)
        connection.execute(f"create view {relation} as select {columns} where false")
        return
    source = (
        f"read_parquet([{', '.join(map(sql_literal, files))}], hive_partitioning = true, "
        "union_by_name = true)"
    )
    described = connection.execute(f"describe select * from {source}").fetchall()
    types = {row[0]: row[1] for row in described}
    order = [name for name, _ in contract] if contract else list(types)
    wanted = dict(contract or [])
    columns = []
    for name in order:
        if name not in types:
            continue
        # DuckDB reads every engine's contract type names (string, double precision, ...).
        kind = wanted.get(name)
        if not kind and types[name].startswith("TIMESTAMP"):
            kind = "timestamp"  # Spark's INT96 instants, in the session zone (UTC)
        columns.append(
            f"cast({_quoted(name)} as {kind}) as {_quoted(name)}" if kind else _quoted(name)
        )
    connection.execute(f"create view {relation} as select {', '.join(columns)} from {source}")


def _lake_views(connection, settings: Settings) -> None:
    lake = Lake(settings.lake_dir).files()
    connection.execute("create schema if not exists lake")
    for entity in ENTITIES:
        committed = lake.entity(entity)
        files = [str(committed.folder / "_schema.parquet"), *map(str, committed.files)]
        # Rows of withdrawn loads a compacted file still holds are left out.
        keep = (
            f" where load_id not in ({', '.join(map(sql_literal, committed.withdrawn))})"
            if committed.withdrawn
            else ""
        )
        connection.execute(
            f"create view lake.{_quoted(entity)} as select * from read_parquet("
            f"[{', '.join(map(sql_literal, files))}], union_by_name = true){keep}"
        )


def _tables(root: Path) -> Iterator[tuple[str, str, Path]]:
    """(schema, table, folder) of each table under a Spark warehouse folder (or a snapshot)."""
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        if folder.name.endswith(".db"):
            for table in sorted(path for path in folder.iterdir() if path.is_dir()):
                yield folder.name[: -len(".db")], table.name, table
        else:  # a table of the default schema
            yield DEFAULT_SCHEMA, folder.name, folder


def holds_tables(settings: Settings) -> bool:
    """Whether Spark's warehouse holds a table (a build, published or not, wrote it)."""
    root = settings.spark_warehouse_dir
    return root.is_dir() and next(_tables(root), None) is not None


def _published_snapshot(settings: Settings) -> Path | None:
    try:
        return (settings.spark_published_dir / CURRENT).resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        return None


def published_record(settings: Settings) -> dict | None:
    """The publication record of the snapshot readers read; None before the first."""
    snapshot = _published_snapshot(settings)
    if snapshot is None:
        return None
    try:
        return json.loads((snapshot / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links (or another device): copy it
        shutil.copyfile(source, target)


def publish_tables(building: Settings, record: dict | None) -> None:
    """Publish what the build wrote: a snapshot of its tables, their contracts and `record`,
    made the one readers read by replacing the link `current` (one rename)."""
    root = building.spark_warehouse_dir
    published = building.spark_published_dir
    published.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    snapshot = published / name
    for _, _, folder in _tables(root):
        target = snapshot / "tables" / folder.relative_to(root)
        target.mkdir(parents=True)
        for file in map(Path, _table_files(folder)):
            linked = target / file.relative_to(folder)
            linked.parent.mkdir(parents=True, exist_ok=True)
            _link(file, linked)
    contracts = [
        [schema, table, columns] for (schema, table), columns in _contracts(building).items()
    ]
    write_text_atomically(snapshot / CONTRACTS, json.dumps(contracts))
    if record is not None:
        write_text_atomically(snapshot / RECORD, json.dumps(record, default=str))
    current = published / CURRENT
    before = _published_snapshot(building)
    temporary = published / f".{CURRENT}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(name, temporary)
    os.replace(temporary, current)
    fsync_dir(published)
    # Kept: the snapshot published now, and the one before it (a reader may still read it).
    for old in published.iterdir():
        if (
            old.is_dir()
            and not old.is_symlink()
            and old.name not in {name, getattr(before, "name", None)}
        ):
            shutil.rmtree(old, ignore_errors=True)


def _snapshot_contracts(snapshot: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    try:
        rows = json.loads((snapshot / CONTRACTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        (schema, table): [tuple(column) for column in columns] for schema, table, columns in rows
    }


def adopt_tables_built_in_place(settings: Settings, record: dict | None) -> None:
    """Before a data dir's first build that publishes snapshots: the tables an earlier release
    (or a plain dbt) built in place become the published snapshot, with the record it kept, so
    readers keep them while the build rewrites them."""
    settings.spark_published_dir.mkdir(parents=True, exist_ok=True)
    if _published_snapshot(settings) is None and holds_tables(settings):
        publish_tables(settings, record)


def _read_in_place(settings: Settings) -> bool:
    # No build of this release has run here: an earlier one's tables are what readers had.
    return not settings.spark_published_dir.exists()


def unrecorded_tables(settings: Settings) -> bool:
    """Whether readers read tables built without a publication record (by an earlier release
    or a plain dbt, in place)."""
    if _read_in_place(settings):
        return holds_tables(settings)
    snapshot = _published_snapshot(settings)
    return snapshot is not None and not (snapshot / RECORD).exists()


def _tables_to_read(settings: Settings) -> tuple[Path, dict]:
    """The tables a reader reads, and their contracts: within a build the tables Spark writes;
    otherwise the published snapshot (before any, the tables an earlier release built in
    place)."""
    if settings.spark_building or _read_in_place(settings):
        return settings.spark_warehouse_dir, _contracts(settings)
    snapshot = _published_snapshot(settings)
    if snapshot is None:
        raise SpotiflowError(
            f"no Spark build has been published in {settings.spark_published_dir} yet: run "
            "`SPOTIFLOW_ENGINE=spark spotiflow build`"
        )
    return snapshot / "tables", _snapshot_contracts(snapshot)


def description(settings: Settings) -> str:
    if settings.spark_building:
        return f"the Spark tables under {settings.spark_warehouse_dir} (the build's own)"
    return f"the Spark tables published under {settings.spark_published_dir}"


@contextlib.contextmanager
def parquet_tables(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    root, contracts = _tables_to_read(settings)
    if not root.is_dir():
        raise SpotiflowError(
            f"no Spark warehouse in {settings.spark_warehouse_dir}: run "
            "`SPOTIFLOW_ENGINE=spark spotiflow build` first"
        )
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        for schema, table, folder in _tables(root):
            connection.execute(f"create schema if not exists {_quoted(schema)}")
            _view(connection, schema, table, _table_files(folder), contracts.get((schema, table)))
        _lake_views(connection, settings)
        yield connection
