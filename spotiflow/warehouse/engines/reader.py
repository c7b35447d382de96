"""One reader over any engine's warehouse: a DB-API connection (DuckDB's or psycopg2's)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from spotiflow.errors import SpotiflowError

MARTS_SCHEMA = "marts"
# The project's schemas a consumer names (`marts.x`): within a PostgreSQL build they are the
# build's own, prefixed (spotiflow/warehouse/publish.py); the lake's are shared.
PROJECT_SCHEMAS = ("staging", "intermediate", "marts", "reference")
_PROJECT_RELATION = re.compile(
    r"(?<![\w.\"'])(" + "|".join(PROJECT_SCHEMAS) + r")\.(?=[A-Za-z_\"])"
)
BATCH_ROWS = 100_000
_CURSORS = itertools.count()  # names for PostgreSQL's server-side cursors

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


_PG_NUMERIC = 1700


def _pg_field(column: Any) -> pa.Field:
    """A PostgreSQL result column as Arrow: a numeric of declared precision and scale (an exact
    sum) as that decimal, as DuckDB gives it; the rest by type oid."""
    if column.type_code == _PG_NUMERIC and column.precision and column.scale is not None:
        return pa.field(column.name, pa.decimal128(column.precision, column.scale))
    return pa.field(column.name, _PG_TYPES.get(column.type_code, pa.string()))


def _pg_column(values: list, data_type: pa.DataType) -> pa.Array:
    if pa.types.is_floating(data_type):
        # An undeclared numeric arrives as Decimal, which Arrow will not make a double.
        values = [None if value is None else float(value) for value in values]
    return pa.array(values, data_type)


def sql_literal(text: str) -> str:
    """A string as an SQL literal (DuckDB's and PostgreSQL's quoting alike)."""
    return "'" + text.replace("'", "''") + "'"


_NULLABLE_INTEGERS = {
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}


class Warehouse:
    """Queries over one warehouse connection; SQL uses `?` placeholders whatever the engine."""

    def __init__(self, connection: Any, description: str, schema_prefix: str = "") -> None:
        self._connection = connection
        self.description = description
        # PostgreSQL within a build: `marts.x` in a consumer's SQL reads the build's own schema.
        self._schema_prefix = schema_prefix
        # DuckDB (its file, or Spark's tables) or else psycopg2's PostgreSQL.
        self._duckdb = isinstance(connection, duckdb.DuckDBPyConnection)

    def _sql(self, sql: str) -> str:
        if self._duckdb:
            return sql
        if self._schema_prefix:
            sql = _PROJECT_RELATION.sub(lambda m: self._schema_prefix + m.group(0), sql)
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

    def batches(
        self, sql: str, params: Sequence[Any] = (), rows: int = BATCH_ROWS
    ) -> pa.RecordBatchReader:
        """The result as a stream of Arrow batches of `rows` rows, typed as the engine typed it:
        a result larger than memory is never held whole (PostgreSQL keeps it in a server-side
        cursor). Read the stream before the next query on this warehouse."""
        if self._duckdb:
            # The connection itself, not a cursor: a cursor would not share its session's
            # settings (the Spark reader's time zone).
            return self._connection.sql(sql, params=list(params) or None).to_arrow_reader(rows)
        cursor = self._connection.cursor(name=f"spotiflow_{next(_CURSORS)}", withhold=True)
        cursor.execute(self._sql(sql), list(params))
        try:
            chunk = cursor.fetchmany(rows)  # a named cursor describes its columns on first fetch
            schema = pa.schema([_pg_field(column) for column in cursor.description])
        except BaseException:
            cursor.close()
            raise

        def stream(chunk: list[tuple]) -> Iterator[pa.RecordBatch]:
            with cursor:
                while chunk:
                    yield pa.record_batch(
                        [
                            _pg_column([row[i] for row in chunk], f.type)
                            for i, f in enumerate(schema)
                        ],
                        schema=schema,
                    )
                    chunk = cursor.fetchmany(rows)

        return pa.RecordBatchReader.from_batches(schema, stream(chunk))

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The result as one Arrow table, typed as the engine typed it."""
        return self.batches(sql, params).read_all()

    def copy_to(
        self,
        sql: str,
        path: Path,
        options: str,
        select: Callable[[pa.Schema], str] | None = None,
    ) -> int:
        """Write a query's result to a file with DuckDB's COPY (`options` its own), streamed
        through Arrow from every engine alike, so every engine's file is the same: Arrow carries
        the types, and every column is optional (what a column may hold is the contract's and
        its tests' to say, not what one engine happens to infer). `select`, given the result's
        Arrow schema, writes the select list COPY reads (DuckDB's SQL over the stream, whatever
        the engine), instead of every column as it is. Returns the rows written."""
        with duckdb.connect() as writer:
            result = self.batches(sql)
            writer.register("result", result)
            columns = select(result.schema) if select else "*"
            copy = f"copy (select {columns} from result) to {sql_literal(str(path))} ({options})"
            return writer.execute(copy).fetchone()[0]

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
                [self._schema_prefix + schema if schema in PROJECT_SCHEMAS else schema],
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
