"""PostgreSQL as the engine: the lake's committed loads copied in, and a reader of the marts.

PostgreSQL cannot read Parquet, so before dbt runs each committed load's rows (from its own file,
or the compacted file that holds them) are copied into `lake.<entity>` (COPY), one transaction
per load and entity that also records it in
`lake._copied_loads`: a load is copied once however often builds run, and a load withdrawn from
the manifest (`spotiflow forget`) is deleted again. The server is libpq's: PGHOST, PGPORT,
PGUSER, PGPASSWORD and PGDATABASE (the database defaults to `spotiflow`). The role the marts are
granted to (SPOTIFLOW_POSTGRES_READER_ROLE; dbt's grants config) must exist before a build.

A build is published by swapping schema names (warehouse/publish.py): it writes the set prefixed
POSTGRES_BUILDING_PREFIX and, once it passed, the two sets trade names in one transaction.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from ingest.lake.files import conform
from ingest.lake.landing import MANIFEST_ENTITY, Lake
from ingest.lake.schemas import ENTITIES, lake_schema
from spotiflow.errors import SpotiflowError
from spotiflow.settings import POSTGRES_BUILDING_PREFIX, Settings

LAKE_SCHEMA = "lake"
COPIED_LOADS = "_copied_loads"
# Which lake the copies come from: one database holds one lake's loads, never two mixed.
LAKE_ORIGIN = "_lake_origin"
DEFAULT_DATABASE = "spotiflow"


def _pg_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int8(arrow_type) or pa.types.is_int16(arrow_type):
        return "smallint"
    if pa.types.is_int32(arrow_type):
        return "integer"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    raise TypeError(f"no PostgreSQL type for {arrow_type}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(entity: str) -> str:
    return f"{_ident(LAKE_SCHEMA)}.{_ident(entity)}"


@contextlib.contextmanager
def connect(settings: Settings) -> Iterator:  # -> psycopg2 connection
    """A connection to the server in libpq's environment; one line when there is none."""
    import psycopg2

    try:
        connection = psycopg2.connect(dbname=settings.postgres_database)
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        raise SpotiflowError(
            f"cannot reach PostgreSQL (PGHOST, PGPORT, PGUSER, PGDATABASE): {reason}"
        ) from None
    try:
        yield connection
    finally:
        connection.close()


def _claim(cursor, settings: Settings, lake: Lake) -> None:
    """Record this lake as the database's, or refuse when it holds another lake's loads."""
    cursor.execute(f"create table if not exists {_table(LAKE_ORIGIN)} (lake_dir text not null)")
    cursor.execute(f"select lake_dir from {_table(LAKE_ORIGIN)}")
    found = [row[0] for row in cursor.fetchall()]
    if not found:
        cursor.execute(f"insert into {_table(LAKE_ORIGIN)} values (%s)", [str(lake.root)])
    elif found[0] != str(lake.root):
        raise SpotiflowError(
            f"PostgreSQL database {settings.postgres_database} holds the loads of another lake "
            f"({found[0]}), not {lake.root}: set PGDATABASE to a database of its own, or drop "
            "its schema lake (`drop schema lake cascade`) to copy this lake in instead"
        )


def _check_reader_role(cursor, settings: Settings) -> None:
    """The role the marts are granted to (SPOTIFLOW_POSTGRES_READER_ROLE) is the DBA's to
    create: without it every mart's grant would fail, each with dbt's own message."""
    role = settings.postgres_reader_role
    if role is None:
        return
    cursor.execute(
        "select exists (select from pg_roles where rolname = %s), "
        "exists (select from pg_get_keywords() where word = %s and catcode <> 'U')",
        [role, role],
    )
    exists, keyword = cursor.fetchone()
    if keyword:
        raise SpotiflowError(
            f"SPOTIFLOW_POSTGRES_READER_ROLE={role}: a reserved word in SQL, which grants "
            "cannot name unquoted: name another role"
        )
    if not exists:
        raise SpotiflowError(
            f"SPOTIFLOW_POSTGRES_READER_ROLE={role}: no such role on the PostgreSQL server; "
            f"create it first (`create role {role} login password '…'`) or unset the setting"
        )


def _create_tables(cursor) -> None:
    cursor.execute(
        f"create table if not exists {_table(COPIED_LOADS)} ("
        "entity text not null, load_id text not null, rows_copied bigint not null, "
        "copied_at timestamp not null default (now() at time zone 'UTC'), "
        "primary key (entity, load_id))"
    )
    for entity in ENTITIES:
        schema = lake_schema(entity)
        columns = ", ".join(f"{_ident(f.name)} {_pg_type(f.type)}" for f in schema)
        cursor.execute(f"create table if not exists {_table(entity)} ({columns})")
        # A column the lake's schema gained since the table was made (old loads: null).
        for field in schema:
            cursor.execute(
                f"alter table {_table(entity)} add column if not exists {_ident(field.name)} "
                f"{_pg_type(field.type)}"
            )


def _csv(table: pa.Table) -> io.BytesIO:
    """The rows as CSV for COPY: nulls unquoted and empty, strings quoted (so '' stays '')."""
    buffer = io.BytesIO()
    if table.num_rows:
        pacsv.write_csv(
            table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed")
        )
    buffer.seek(0)
    return buffer


def _without_nul(table: pa.Table) -> pa.Table:
    """PostgreSQL's text cannot hold U+0000; it becomes U+FFFD, as undecodable bytes do."""
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type):
            column = pc.replace_substring(column, "\x00", "\ufffd")
        columns.append(column)
    return pa.table(columns, schema=table.schema)


@dataclass(frozen=True)
class LakeCopy:
    """What one publication of the lake did."""

    copied: int
    rows: int
    withdrawn: int


def _missing_file_error(lake: Lake, path: Path, load_id: str) -> SpotiflowError:
    return SpotiflowError(
        f"the lake in {lake.root} has lost {path.parent.name}/{path.name} of committed load "
        f"{load_id}. Restore the file from a backup, or withdraw the load with `spotiflow "
        f"forget {load_id}` (it rebuilds the marts without the load)."
    )


def _expected_files(lake: Lake) -> list[tuple[str, str]]:
    """(entity, load_id) of every committed load's file, in load order."""
    manifest = lake.manifest()
    expected = []
    for row in manifest.to_pylist():
        entities = [e for e in (row.get("entities") or "").split(",") if e]
        if (row.get("rows_rejected") or 0) > 0:
            entities.append("rejects")
        expected.extend((entity, row["load_id"]) for entity in [*entities, MANIFEST_ENTITY])
    return sorted(expected, key=lambda pair: (pair[1], pair[0]))


def publish_lake(settings: Settings, lake: Lake) -> LakeCopy:
    """Copy the committed loads PostgreSQL does not have yet (each from whichever file holds its
    rows: its own, or a compacted one); delete those withdrawn."""
    expected = _expected_files(lake)
    state = lake.files()
    holders = {entity: state.entity(entity) for entity in {entity for entity, _ in expected}}
    copied = rows = withdrawn = 0
    with connect(settings) as connection:
        with connection, connection.cursor() as cursor:
            _check_reader_role(cursor, settings)
            cursor.execute(f"create schema if not exists {_ident(LAKE_SCHEMA)}")
            _claim(cursor, settings, lake)
            _create_tables(cursor)
            cursor.execute(f"select entity, load_id from {_table(COPIED_LOADS)}")
            present = set(cursor.fetchall())
        for entity, load_id in sorted(present - set(expected)):
            with connection, connection.cursor() as cursor:
                cursor.execute(f"delete from {_table(entity)} where load_id = %s", [load_id])
                cursor.execute(
                    f"delete from {_table(COPIED_LOADS)} where entity = %s and load_id = %s",
                    [entity, load_id],
                )
            withdrawn += 1
        for entity, load_id in expected:
            if (entity, load_id) in present:
                continue
            path = holders[entity].file_of(load_id)
            if not path.exists():
                raise _missing_file_error(lake, path, load_id)
            table = _read_for_copy(holders[entity].load_rows(load_id), entity)
            # The rows and the record of them in one transaction: copied once, or not at all.
            with connection, connection.cursor() as cursor:
                columns = ", ".join(_ident(name) for name in table.column_names)
                cursor.copy_expert(
                    f"copy {_table(entity)} ({columns}) from stdin with (format csv)",
                    _csv(table),
                )
                cursor.execute(
                    f"insert into {_table(COPIED_LOADS)} (entity, load_id, rows_copied) "
                    "values (%s, %s, %s)",
                    [entity, load_id, table.num_rows],
                )
            copied += 1
            rows += table.num_rows
        if copied or withdrawn:
            with connection, connection.cursor() as cursor:
                for entity in ENTITIES:
                    cursor.execute(f"analyze {_table(entity)}")
    return LakeCopy(copied=copied, rows=rows, withdrawn=withdrawn)


def _read_for_copy(table: pa.Table, entity: str) -> pa.Table:
    """A load's rows with the entity's columns (older files lack newer ones: null)."""
    return _without_nul(conform(table, entity))


# The schemas of a build (its set; a build writes them prefixed), the record's table in the
# first, and the names the swap passes through.
BUILD_SCHEMAS = ("build_logs", "staging", "intermediate", "marts", "reference")
RECORD_TABLE = "spotiflow_publication"
SWAP_PREFIX = "spotiflow_swap_"
# The publication record's columns (spotiflow/warehouse/publish.py's Publication).
RECORD_COLUMNS = {
    "published_at": "timestamp", "build_started_at": "timestamp", "data_as_of": "timestamp",
    "withdrawal": "text", "project": "text", "full_refresh": "text",
}  # fmt: skip


def _schemas_present(cursor, names: list[str]) -> set[str]:
    cursor.execute("select nspname from pg_namespace where nspname = any(%s)", [names])
    return {row[0] for row in cursor.fetchall()}


def published_record(settings: Settings, prefix: str) -> dict | None:
    """The publication record in the set of schemas named with `prefix` ("": the readers')."""
    table = f"{_ident(prefix + BUILD_SCHEMAS[0])}.{_ident(RECORD_TABLE)}"
    with connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("select to_regclass(%s)", [table])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"select * from {table}")
        names = [column[0] for column in cursor.description]
        row = cursor.fetchone()
    return dict(zip(names, row, strict=True)) if row else None


def holds_marts(settings: Settings, prefix: str) -> bool:
    """Whether the set of schemas named with `prefix` has its marts (a build made them)."""
    with connect(settings) as connection, connection.cursor() as cursor:
        return bool(_schemas_present(cursor, [prefix + "marts"]))


def publish_schemas(building: Settings, record: dict) -> None:
    """Swap the building schemas with the published ones in one transaction: plain -> temporary,
    prefixed -> plain, temporary -> prefixed, with the record, and the reader role's usage moved
    to the marts now published (a schema's grants go with it when it is renamed)."""
    prefix = building.postgres_schema_prefix
    assert prefix == POSTGRES_BUILDING_PREFIX, "a build publishes its own (prefixed) schemas"
    logs = _ident(prefix + BUILD_SCHEMAS[0])
    table = f"{logs}.{_ident(RECORD_TABLE)}"
    columns = ", ".join(f"{name} {kind}" for name, kind in RECORD_COLUMNS.items())
    with connect(building) as connection, connection, connection.cursor() as cursor:
        # One transaction: readers see every schema swapped, or none (a query that started
        # before it ends on the old build's relations).
        cursor.execute(f"create schema if not exists {logs}")
        cursor.execute(f"drop table if exists {table}")
        cursor.execute(f"create table {table} ({columns})")
        cursor.execute(
            f"insert into {table} values ({', '.join(['%s'] * len(RECORD_COLUMNS))})",
            [record[name] for name in RECORD_COLUMNS],
        )
        names = [n for name in BUILD_SCHEMAS for n in (name, prefix + name)]
        present = _schemas_present(cursor, names)
        for name in BUILD_SCHEMAS:
            plain, building_name, swap = name, prefix + name, SWAP_PREFIX + name
            if building_name not in present:
                # The build made no such schema: readers get an empty one, not the old one.
                cursor.execute(f"create schema {_ident(building_name)}")
            if plain in present:
                cursor.execute(f"alter schema {_ident(plain)} rename to {_ident(swap)}")
            cursor.execute(f"alter schema {_ident(building_name)} rename to {_ident(plain)}")
            if plain in present:
                cursor.execute(f"alter schema {_ident(swap)} rename to {_ident(building_name)}")
        # The retired build's schemas are nobody's to read (their grants moved with them)…
        cursor.execute(
            "select n.nspname, coalesce(r.rolname, 'public') from pg_namespace as n "
            "cross join lateral aclexplode(n.nspacl) as acl "
            "left join pg_roles as r on r.oid = acl.grantee "
            "where n.nspname = any(%s) and acl.grantee <> n.nspowner",
            [[prefix + name for name in BUILD_SCHEMAS]],
        )
        for schema, grantee in sorted(set(cursor.fetchall())):
            target = "public" if grantee == "public" else _ident(grantee)
            cursor.execute(f"revoke all on schema {_ident(schema)} from {target}")
        # …and the reader role reads the marts published (its tables' grants are dbt's).
        role = building.postgres_reader_role
        if role is not None:
            cursor.execute(f"grant usage on schema {_ident('marts')} to {_ident(role)}")
