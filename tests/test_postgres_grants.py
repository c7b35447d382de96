"""PostgreSQL's reader role (SPOTIFLOW_POSTGRES_READER_ROLE): a real server, where the role the
DBA created reads every mart after build upon build (dbt rebuilds most marts as new tables,
which have no grants), and nothing else: not the lake, its raw rejects, staging, intermediate,
the seeds or the build logs."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import pytest
from psycopg2 import errors, sql

from spotiflow.cli import main
from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings
from tests.support.helpers import FIXTURES, PROJECT_DIR, SAMPLE_CSV
from tests.support.postgres_server import READER_ROLE

# Schemas the build writes that the reader must not read: the lake (its rejects hold rows as
# they came, unparsed), the layers below the marts, the seeds, and the build logs.
UNREADABLE = ("lake", "staging", "intermediate", "reference", "build_logs")


@pytest.fixture
def on_postgres_with_reader(
    settings: Settings, database: str, reader_role: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The bundled sample and a file with rejected rows landed; the CLI set to build on
    PostgreSQL, in the test's database, granting the marts to the reader role."""
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["ingest", "legacy-csv", str(FIXTURES / "legacy_bad_rows.csv")]) == 0
    monkeypatch.setenv("SPOTIFLOW_ENGINE", "postgres")
    monkeypatch.setenv("PGDATABASE", database)
    monkeypatch.setenv("SPOTIFLOW_POSTGRES_READER_ROLE", reader_role)
    yield database


def _relations(connection, schemas: tuple[str, ...]) -> dict[str, int]:
    """Every table and view in the schemas (`schema.name`), with its rows, read as the owner."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = any(%s) order by 1, 2",
            [list(schemas)],
        )
        names = cursor.fetchall()
        counts = {}
        for schema, name in names:
            cursor.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name)))
            counts[f"{schema}.{name}"] = cursor.fetchone()[0]
    return counts


def _select_all(connection, relation: str) -> list[tuple]:
    schema, name = relation.split(".")
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("select * from {}").format(sql.Identifier(schema, name)))
        return cursor.fetchall()


@pytest.mark.engines
def test_the_reader_role_reads_every_mart_after_every_build_and_nothing_else(
    on_postgres_with_reader: str,
):
    database = on_postgres_with_reader
    # The first build makes every mart; the second rebuilds most as new tables (no grants of
    # their own) and merges into the incremental ones: the grants hold after both.
    for _ in range(2):
        assert main(["build", "--no-checks"]) == 0

    owner = psycopg2.connect(dbname=database)
    reader = psycopg2.connect(dbname=database, user=READER_ROLE)
    reader.autocommit = True  # each refused select on its own
    try:
        marts = _relations(owner, ("marts",))
        models = {path.stem for path in (PROJECT_DIR / "models" / "marts").glob("*.sql")}
        assert set(marts) == {f"marts.{model}" for model in models}
        assert marts["marts.fct_plays"] > 0 and marts["marts.fct_rejected_rows"] > 0
        # Every mart, every row, as the reader.
        read = {relation: len(_select_all(reader, relation)) for relation in marts}
        assert read == marts
        # Select, and nothing more.
        with reader.cursor() as cursor:
            cursor.execute(
                "select table_name, privilege_type from information_schema.table_privileges "
                "where grantee = %s and privilege_type <> 'SELECT'",
                [READER_ROLE],
            )
            assert cursor.fetchall() == []
            with pytest.raises(errors.InsufficientPrivilege):
                cursor.execute("delete from marts.fct_plays")

        # Nothing else the build wrote: not the lake's tables (its raw rejects among them),
        # staging's views, intermediate's tables, the seeds or the build logs.
        others = _relations(owner, UNREADABLE)
        schemas = {relation.split(".")[0] for relation in others}
        assert schemas == set(UNREADABLE)
        assert others["lake.rejects"] > 0 and others["lake.plays"] > 0
        refused = set()
        for relation in others:
            with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
                _select_all(reader, relation)
            refused.add(relation)
        assert refused == set(others)
        with owner.cursor() as cursor:
            cursor.execute(
                "select nspname from pg_namespace "
                "where has_schema_privilege(%s, oid, 'usage') and nspname = any(%s)",
                [READER_ROLE, [*UNREADABLE[:-1], "marts"]],
            )
            assert cursor.fetchall() == [("marts",)]
    finally:
        owner.close()
        reader.close()


@pytest.mark.engines
def test_a_reader_role_the_server_lacks_stops_the_build_before_dbt(
    on_postgres_with_reader: str, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.setenv("SPOTIFLOW_POSTGRES_READER_ROLE", "no_such_reader")
    assert main(["build", "--no-checks"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        "spotiflow: error: SPOTIFLOW_POSTGRES_READER_ROLE=no_such_reader: no such role on the "
        "PostgreSQL server; create it first (`create role no_such_reader login password '…'`) "
        "or unset the setting"
    )
    # Nothing was built.
    connection = psycopg2.connect(dbname=on_postgres_with_reader)
    with connection.cursor() as cursor:
        cursor.execute("select from pg_namespace where nspname = 'marts'")
        assert cursor.fetchall() == []
    connection.close()


@pytest.mark.parametrize("role", ["BI_Reader", "bi reader", "bi;drop", "1reader", "a" * 64])
def test_a_reader_role_is_a_plain_lower_case_name(role: str):
    # dbt writes it unquoted into `grant select … to ROLE`: it must be the role it names.
    with pytest.raises(SpotiflowError, match="SPOTIFLOW_POSTGRES_READER_ROLE="):
        Settings.from_env({"SPOTIFLOW_POSTGRES_READER_ROLE": role})
    named = Settings.from_env({"SPOTIFLOW_POSTGRES_READER_ROLE": " bi_reader "})
    assert named.postgres_reader_role == "bi_reader"
    assert Settings.from_env({}).postgres_reader_role is None
