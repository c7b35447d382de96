"""Reading what Spark built without a Spark session: DuckDB over the tables' Parquet files.

dbt-spark writes every table as Parquet under the Spark warehouse (profiles.yml's
spark.sql.warehouse.dir): `<schema>.db/<table>/`, partitioned tables in `<column>=<value>/`
folders, the default schema's tables at the top. The reader opens an in-memory DuckDB in which
each of them is a view `<schema>.<table>`, columns in the order and types of the model's
contract where it has one (Spark puts partition columns last and writes INT96 timestamps), so
every consumer reads the marts as on any engine, no JVM started, no metastore locked. The
lake's sources (`lake.<entity>`) are its committed loads' files, as Spark's views read them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb

from ingest.engines.reader import sql_literal
from ingest.errors import SpotiflowError
from ingest.landing import Lake
from ingest.schemas import ENTITIES
from ingest.settings import Settings

DEFAULT_SCHEMA = "default"


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


@contextlib.contextmanager
def parquet_tables(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    root = settings.spark_warehouse_dir
    if not root.is_dir():
        raise SpotiflowError(
            f"no Spark warehouse in {root}: run `SPOTIFLOW_ENGINE=spark spotiflow build` first"
        )
    contracts = _contracts(settings)
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        for folder in sorted(path for path in root.iterdir() if path.is_dir()):
            if folder.name.endswith(".db"):
                schema = folder.name[: -len(".db")]
                connection.execute(f"create schema if not exists {_quoted(schema)}")
                for table in sorted(path for path in folder.iterdir() if path.is_dir()):
                    _view(connection, schema, table.name, _table_files(table),
                          contracts.get((schema, table.name)))  # fmt: skip
            else:  # a table of the default schema
                connection.execute(f"create schema if not exists {_quoted(DEFAULT_SCHEMA)}")
                _view(connection, DEFAULT_SCHEMA, folder.name, _table_files(folder), None)
        _lake_views(connection, settings)
        yield connection
