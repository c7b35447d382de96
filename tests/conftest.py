"""Shared fixtures: isolated settings per test, and one built warehouse of the bundled sample."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from spotiflow.settings import Settings
from tests.support.helpers import PROJECT_DIR, TEST_SALT, keep_demo_artifacts, make_settings
from tests.support.postgres_server import READER_ROLE, throwaway_server


def pytest_configure(config: pytest.Config) -> None:
    # Each pytest-xdist worker builds apart: dbt's artifacts (the manifest and results tests
    # read after a build) go to a target folder of its own.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ["DBT_TARGET_PATH"] = str(PROJECT_DIR / "target" / f"pytest-{worker}")
        # A worker's __main__ is bare (no file, no spec): pyspark's Spark Connect modules,
        # which great-expectations imports, take that for a doctest run and exit the process.
        main = sys.modules["__main__"]
        if getattr(main, "__spec__", None) is None and not hasattr(main, "__file__"):
            main.__file__ = sys.argv[0]


# The longest test files, started first: pytest-xdist hands a worker a file at a time, and a
# long file started last would leave the other worker idle at the end.
LONGEST_FIRST = ("test_spark.py", "test_postgres_publication.py", "test_rebuilds.py",
                 "test_postgres.py", "test_dashboard.py")  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file's tests keep their order


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh data dir; the environment agrees, so CLI calls see the same."""
    monkeypatch.setenv("SPOTIFLOW_PROJECT_DIR", str(PROJECT_DIR))
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPOTIFLOW_USER_ID_SALT", TEST_SALT)
    return make_settings(tmp_path / "data")


@contextlib.contextmanager
def cli_environment(data_dir: Path) -> Iterator[None]:
    """The environment the CLI reads, for a session-wide data dir, while the block runs."""
    patch = pytest.MonkeyPatch()
    patch.setenv("SPOTIFLOW_PROJECT_DIR", str(PROJECT_DIR))
    patch.setenv("SPOTIFLOW_DATA_DIR", str(data_dir))
    patch.setenv("SPOTIFLOW_USER_ID_SALT", TEST_SALT)
    try:
        yield
    finally:
        patch.undo()


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The bundled sample landed, built, recommended and built again (what `make demo` does)."""
    from spotiflow.cli import main

    # While iterating on tests, SPOTIFLOW_TEST_DEMO_DIR names a data dir to build once and reuse.
    reuse = os.environ.get("SPOTIFLOW_TEST_DEMO_DIR")
    if reuse and (Path(reuse) / "spotiflow.duckdb").exists():
        yield make_settings(Path(reuse))
        return
    data_dir = Path(reuse) if reuse else tmp_path_factory.mktemp("demo") / "data"
    with cli_environment(data_dir):
        assert main(["demo"]) == 0
        built = make_settings(data_dir)
        keep_demo_artifacts(built)
        yield built


@pytest.fixture(scope="session")
def skewed_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A generated population split 65/35 against its 50/50 plan, generated and built as a
    user would (`spotiflow generate --treatment-share 0.65`, then `spotiflow build`)."""
    from spotiflow.cli import main

    data_dir = tmp_path_factory.mktemp("skewed") / "data"
    with cli_environment(data_dir):
        args = ["generate", "--users", "300", "--days", "56", "--treatment-share", "0.65"]
        assert main(args) == 0
        assert main(["build"]) == 0
        yield make_settings(data_dir)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, str]]:
    """One PostgreSQL server for the session (tests/support/postgres_server.py), its libpq
    environment in os.environ (as a user's is)."""
    # Not under pytest's tmp: its parents are root's alone, and the server runs as postgres.
    with (
        tempfile.TemporaryDirectory(prefix="spotiflow-pg-") as folder,
        throwaway_server(Path(folder)) as environment,
    ):
        patch = pytest.MonkeyPatch()
        for name, value in environment.items():
            patch.setenv(name, value)
        try:
            yield environment
        finally:
            patch.undo()


@pytest.fixture
def database(postgres_server: dict[str, str], request: pytest.FixtureRequest) -> str:
    """A database of the test's own on the session's server (one lake per database)."""
    import psycopg2

    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:50]
    connection = psycopg2.connect(dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'drop database if exists "{name}"')
        cursor.execute(f'create database "{name}"')
    connection.close()
    return name


@pytest.fixture(scope="session")
def reader_role(postgres_server: dict[str, str]) -> str:
    """The role a DBA creates for BI tools (roles are the server's, not a database's):
    READER_ROLE (tests/support/postgres_server.py)."""
    import psycopg2

    connection = psycopg2.connect(dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("select from pg_roles where rolname = %s", [READER_ROLE])
        if cursor.fetchone() is None:
            cursor.execute(f"create role {READER_ROLE} login")
    connection.close()
    return READER_ROLE
