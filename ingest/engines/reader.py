"""One reader over any engine's warehouse: a DB-API connection (DuckDB's or psycopg2's)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ingest.errors import SpotiflowError

MARTS_SCHEMA = "marts"

# PostgreSQL's type oids (pg_type) -> Arrow, for the types the marts' contracts use.
_PG_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    700: pa.float64(),
    701: pa.float64(),
    1700: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


_NULLABLE_INTEGERS = {
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}


class Warehouse:
    """Queries over one warehouse connection; SQL uses `?` placeholders whatever the engine."""

    def __init__(self, connection: Any, description: str) -> None:
        self._connection = connection
        self.description = description
        # DuckDB (its file, or Spark's tables) or else psycopg2's PostgreSQL.
        self._duckdb = isinstance(connection, duckdb.DuckDBPyConnection)

    def _sql(self, sql: str) -> str:
        if self._duckdb:
            return sql
        return sql.replace("%", "%%").replace("?", "%s")  # psycopg2: %s, a literal % doubled

    def execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Column names and rows."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(self._sql(sql), list(params))
            columns = [column[0] for column in cursor.description or []]
            return columns, [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.execute(sql, params)[1]

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The result as Arrow, typed as the engine typed it."""
        if self._duckdb:
            return self._connection.sql(sql, params=list(params) or None).to_arrow_table()
        cursor = self._connection.cursor()
        try:
            cursor.execute(self._sql(sql), list(params))
            rows = cursor.fetchall()
            fields = [pa.field(c[0], _PG_TYPES.get(c[1], pa.string())) for c in cursor.description]
        finally:
            cursor.close()
        return pa.table(
            {f.name: pa.array([row[i] for row in rows], f.type) for i, f in enumerate(fields)},
            schema=pa.schema(fields),
        )

    def copy_to(self, sql: str, path: Path, options: str) -> int:
        """Write a query's result to a file with DuckDB's COPY (`options` its own), the one
        writer for every engine: in place where the warehouse is DuckDB (the file, Spark's
        tables), through Arrow otherwise. Returns the rows written."""
        target = "'" + str(path).replace("'", "''") + "'"
        if self._duckdb:
            return self._connection.execute(f"copy ({sql}) to {target} ({options})").fetchone()[0]
        with duckdb.connect() as writer:
            writer.register("result", self.arrow(sql))
            return writer.execute(f"copy result to {target} ({options})").fetchone()[0]

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """The result as pandas, typed from Arrow alike on every engine (as DuckDB's own frames:
        dates as datetimes, integers nullable)."""
        return self.arrow(sql, params).to_pandas(
            date_as_object=False, types_mapper=_NULLABLE_INTEGERS.get
        )

    def tables(self, schema: str) -> list[str]:
        """The relations of a schema, by name (on Spark's reader, views over its tables)."""
        return sorted(self.relations(schema))

    def relations(self, schema: str) -> set[str]:
        """Tables and views of a schema."""
        return {
            name
            for (name,) in self.rows(
                "select table_name from information_schema.tables where table_schema = ?",
                [schema],
            )
        }

    def require_marts(self, *names: str) -> None:
        present = self.relations(MARTS_SCHEMA)
        missing = [name for name in names if name not in present]
        if missing:
            raise SpotiflowError(
                f"{self.description} has no "
                + ", ".join(f"{MARTS_SCHEMA}.{name}" for name in missing)
                + ": run `spotiflow build` first"
            )

    def require_lake(self) -> None:
        """The lake's sources, which every dbt run makes (or, on PostgreSQL, copies)."""
        if not self.relations("lake"):
            raise SpotiflowError(
                f"{self.description} has no lake sources yet: run `spotiflow build`"
            )
