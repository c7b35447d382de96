"""Write-audit-publish on PostgreSQL: a build writes its own schemas (spotiflow_next_*) and is
published by swapping them with the readers' in one transaction, only when it passed. A build
that fails halfway, or is killed while dbt writes, leaves every reader (psycopg2 on schema
marts, `spotiflow export`, the reader role) on the previous build, whole; a passing build
switches them from the old build to the new at once."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import psycopg2
import pyarrow.parquet as pq
import pytest

from spotiflow.cli import main
from spotiflow.settings import Settings
from spotiflow.warehouse import publish
from tests.support.engine_parity import differences, snapshot
from tests.support.helpers import (
    FIXTURES,
    PROJECT_DIR,
    SAMPLE_CSV,
    TEST_SALT,
    build_in_another_process,
)
from tests.support.postgres_server import READER_ROLE, on_postgres

pytestmark = pytest.mark.engines

EXTENDED = FIXTURES / "spotify_export" / "extended"
BUILDING = "spotiflow_next_"
# One statement, one snapshot: the load count and the play count readers see together.
COUNTS = "select (select count(*) from marts.fct_loads), (select count(*) from marts.fct_plays)"


def _counts(database: str, user: str | None = None) -> tuple[int, int]:
    connection = psycopg2.connect(dbname=database, **({"user": user} if user else {}))
    try:
        with connection.cursor() as cursor:
            cursor.execute(COUNTS)
            return tuple(cursor.fetchone())
    finally:
        connection.close()


def _exported(tmp_path: Path, name: str) -> tuple[int, int]:
    folder = tmp_path / name
    assert main(["export", "--format", "parquet", "--out", str(folder)]) == 0
    return tuple(
        pq.read_metadata(folder / f"{mart}.parquet").num_rows for mart in ("fct_loads", "fct_plays")
    )


def _execute(database: str, sql: str) -> None:
    connection = psycopg2.connect(dbname=database)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def _values(database: str, sql: str, params: list) -> set:
    """The first column of a query's rows, as the owner reads them."""
    connection = psycopg2.connect(dbname=database)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {row[0] for row in cursor.fetchall()}
    connection.close()
    return found


def _reader_schemas(database: str) -> set[str]:
    """The schemas of the project the reader role may use."""
    sql = (
        "select nspname from pg_namespace where has_schema_privilege(%s, oid, 'usage') "
        "and nspname not like 'pg\\_%%' and nspname <> 'information_schema'"
    )
    return _values(database, sql, [READER_ROLE]) - {"public"}


@pytest.fixture
def published_on_postgres(
    settings: Settings, database: str, reader_role: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, tuple[int, int]]:
    """The bundled sample built twice (each set of schemas holds a build with its record) and
    published; an export landed since, not yet built. Returns the database and the published
    (loads, plays)."""
    monkeypatch.setenv("SPOTIFLOW_ENGINE", "postgres")
    monkeypatch.setenv("PGDATABASE", database)
    monkeypatch.setenv("SPOTIFLOW_POSTGRES_READER_ROLE", reader_role)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    for _ in range(2):
        assert main(["build", "--no-checks"]) == 0
    before = _counts(database)
    assert before == (1, 1350)
    assert main(["ingest", "spotify-export", str(EXTENDED), "--user", "x"]) == 0
    return database, before


def test_a_build_failing_halfway_leaves_every_reader_on_the_previous_build(
    published_on_postgres, settings: Settings, tmp_path: Path, capsys
) -> None:
    database, before = published_on_postgres
    postgres = on_postgres(settings, database)
    record = publish.published(postgres)
    assert record is not None
    # The server refuses to make fct_plays or the table its new rows are staged in (in whichever
    # schema a build writes): the build fails halfway, after other marts (fct_loads among them)
    # were rebuilt with the export.
    _execute(
        database,
        """
        create function refuse_fct_plays() returns event_trigger language plpgsql as $$
        declare made record;
        begin
            for made in select * from pg_event_trigger_ddl_commands() loop
                if made.object_identity ~ '\\.fct_plays(__dbt|$)' then
                    raise exception 'planted failure: %', made.object_identity;
                end if;
            end loop;
        end $$;
        create event trigger refuse_fct_plays on ddl_command_end
            when tag in ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
            execute function refuse_fct_plays();
        """,
    )
    capsys.readouterr()
    assert main(["build", "--no-checks"]) == 1
    out = capsys.readouterr().out
    assert f"readers keep the build published {publish.when(record.published_at)}" in out
    # Every reader reads the previous build, whole: its loads and its plays.
    assert _counts(database) == before
    # Half built, in the build's own schemas: the new load reached its fct_loads.
    connection = psycopg2.connect(dbname=database)
    with connection.cursor() as cursor:
        cursor.execute(f"select count(*) from {BUILDING}marts.fct_loads")
        assert cursor.fetchone()[0] == before[0] + 1
    connection.close()

    assert _counts(database, READER_ROLE) == before
    assert _exported(tmp_path, "failed") == before
    assert _reader_schemas(database) == {"marts"}
    assert publish.published(postgres) == record
    assert main(["summary"]) == 0
    assert "failed and was not published (dbt build:" in capsys.readouterr().out

    # Once the server builds fct_plays again, the next build publishes the export.
    _execute(database, "drop event trigger refuse_fct_plays")
    assert main(["build", "--no-checks"]) == 0
    after = _counts(database, READER_ROLE)
    assert after[0] == before[0] + 1 and after[1] > before[1]
    assert _exported(tmp_path, "passed") == after


def _relation_oid(database: str, name: str) -> set[int]:
    sql = (
        "select c.oid from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "where c.relname = %s and n.nspname like '%%marts'"
    )
    return _values(database, sql, [name])


def test_a_build_killed_while_dbt_writes_leaves_readers_on_the_previous_build(
    published_on_postgres, settings: Settings, tmp_path: Path
) -> None:
    database, before = published_on_postgres
    postgres = on_postgres(settings, database)
    record = publish.published(postgres)
    known = _relation_oid(database, "fct_loads")
    build = build_in_another_process()
    try:
        # Killed as soon as dbt committed a new fct_loads (the export's load in it).
        deadline = time.monotonic() + 300
        while not _relation_oid(database, "fct_loads") - known:
            assert build.poll() is None, f"the build ended first: {build.stdout.read()}"
            assert time.monotonic() < deadline, "dbt wrote no fct_loads in 300 s"
            time.sleep(0.02)
        assert build.poll() is None, "the build ended before it was killed"
        build.send_signal(signal.SIGKILL)
        build.wait(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    # The server ends the killed build's sessions (their transactions roll back).
    deadline = time.monotonic() + 60
    while True:
        connection = psycopg2.connect(dbname=database)
        with connection.cursor() as cursor:
            cursor.execute(
                "select count(*) from pg_stat_activity where datname = %s and pid <> "
                "pg_backend_pid()",
                [database],
            )
            others = cursor.fetchone()[0]
        connection.close()
        if not others or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    assert _counts(database) == before
    assert _counts(database, READER_ROLE) == before
    assert _exported(tmp_path, "killed") == before
    assert _reader_schemas(database) == {"marts"}
    assert publish.published(postgres) == record

    # The next build catches up from what the kill left in its schemas, and publishes: its
    # marts are a full refresh's.
    assert main(["build", "--no-checks"]) == 0
    after = _counts(database, READER_ROLE)
    assert after[0] == before[0] + 1 and after[1] > before[1]
    caught_up = snapshot(postgres)
    assert main(["build", "--full-refresh", "--no-checks"]) == 0
    assert differences(caught_up, snapshot(postgres)) == {}


def test_a_passing_build_switches_readers_from_the_old_build_to_the_new_at_once(
    published_on_postgres, settings: Settings, tmp_path: Path
) -> None:
    database, before = published_on_postgres
    postgres = on_postgres(settings, database)
    record = publish.published(postgres)
    seen: set[tuple[int, int]] = set()
    errors: list[str] = []
    stop = threading.Event()

    def read_all_along() -> None:
        # The reader role, as a BI tool, asking again and again while the build runs.
        connection = psycopg2.connect(dbname=database, user=READER_ROLE)
        connection.autocommit = True
        try:
            while not stop.is_set():
                try:
                    with connection.cursor() as cursor:
                        cursor.execute(COUNTS)
                        seen.add(tuple(cursor.fetchone()))
                except psycopg2.Error as error:
                    errors.append(str(error).splitlines()[0])
                time.sleep(0.01)
        finally:
            connection.close()

    reader = threading.Thread(target=read_all_along)
    reader.start()
    try:
        assert main(["build"]) == 0
        time.sleep(0.2)
    finally:
        stop.set()
        reader.join()
    after = _counts(database, READER_ROLE)
    assert after[0] == before[0] + 1 and after[1] > before[1]
    # Only ever the old build or the new, never a mix, never an error.
    assert errors == []
    assert seen == {before, after}
    assert _exported(tmp_path, "published") == after
    assert _reader_schemas(database) == {"marts"}
    assert publish.published(postgres).published_at > record.published_at


# The last release where PostgreSQL built in place (its marts in the readers' schemas, the build
# logs in public, the record in a file).
IN_PLACE_RELEASE = "a466b2a340fe6976d25aeb138e40e323f527729f"


def _run_in_place_release(release: Path, settings: Settings, database: str, *args: str) -> None:
    environment = {
        **{name: value for name, value in os.environ.items() if name.startswith("PG")},
        "PATH": "/usr/bin:/bin",
        "HOME": str(settings.data_dir.parent),
        "PYTHONPATH": str(release),
        "SPOTIFLOW_PROJECT_DIR": str(release),
        "SPOTIFLOW_DATA_DIR": str(settings.data_dir),
        "SPOTIFLOW_USER_ID_SALT": TEST_SALT,
        "SPOTIFLOW_ENGINE": "postgres",
        "PGDATABASE": database,
        "SPOTIFLOW_POSTGRES_READER_ROLE": READER_ROLE,
        "DBT_PROFILES_DIR": str(release),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    done = subprocess.run(
        # The earlier release's command, from its own tree (PYTHONPATH).
        [sys.executable, "-m", "ingest.cli", *args],
        cwd=release, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_database_built_in_place_stays_published_until_the_first_build_is(
    settings: Settings,
    database: str,
    reader_role: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    found = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "archive", "--format=tar", IN_PLACE_RELEASE],
        capture_output=True,
    )
    assert found.returncode == 0, found.stderr.decode(errors="replace")
    release = tmp_path / "release"
    with tarfile.open(fileobj=io.BytesIO(found.stdout)) as archive:
        archive.extractall(release, filter="data")
    _run_in_place_release(release, settings, database, "ingest", "legacy-csv", str(SAMPLE_CSV))
    _run_in_place_release(release, settings, database, "build", "--no-checks")
    before = _counts(database, READER_ROLE)
    assert before == (1, 1350)

    monkeypatch.setenv("SPOTIFLOW_ENGINE", "postgres")
    monkeypatch.setenv("PGDATABASE", database)
    monkeypatch.setenv("SPOTIFLOW_POSTGRES_READER_ROLE", reader_role)
    postgres = on_postgres(settings, database)
    assert publish.published(postgres) is None
    assert "the marts they had in PostgreSQL" in publish.what_readers_read(postgres)
    assert main(["ingest", "spotify-export", str(EXTENDED), "--user", "x"]) == 0
    assert main(["build", "--no-checks"]) == 0
    after = _counts(database, READER_ROLE)
    assert after[0] == before[0] + 1 and after[1] > before[1]
    assert _reader_schemas(database) == {"marts"}
    published = snapshot(postgres)
    # The retired set (the in-place build) has no record: the next build rebuilds it in full.
    capsys.readouterr()
    assert main(["build", "--no-checks"]) == 0
    out = capsys.readouterr().out
    assert (
        f"build: schema set {BUILDING}* has no record of what built it (an earlier release or "
        "a plain dbt built it): rebuilding every model in full"
    ) in out
    assert differences(published, snapshot(postgres)) == {}
    assert _counts(database, READER_ROLE) == after
