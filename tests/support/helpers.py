"""Paths and small helpers shared by the tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ingest.lake.landing import Lake
from ingest.lake.records import ReadResult
from ingest.lake.schemas import ENTITIES
from spotiflow.settings import Settings
from spotiflow.warehouse.duckdb_file import connect

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
SAMPLE_CSV = PROJECT_DIR / "spotiflow" / "samples" / "listening_history.csv"
SAMPLE_CATALOG = PROJECT_DIR / "spotiflow" / "samples" / "spotify-2023.csv"
TEST_SALT = "pytest-salt"


def make_settings(data_dir: Path) -> Settings:
    return Settings.from_env(
        {
            "SPOTIFLOW_PROJECT_DIR": str(PROJECT_DIR),
            "SPOTIFLOW_DATA_DIR": str(data_dir),
            "SPOTIFLOW_USER_ID_SALT": TEST_SALT,
            "DBT_TARGET_PATH": os.environ.get("DBT_TARGET_PATH", ""),
        }
    )


def dbt_target() -> Path:
    """Where dbt wrote its artifacts for this test process (each pytest-xdist worker has its
    own, tests/conftest.py): the last dbt call's manifest, compiled SQL and results."""
    return make_settings(PROJECT_DIR / "data").dbt_target_path


DEMO_ARTIFACTS = ("manifest.json", "semantic_manifest.json")


def keep_demo_artifacts(settings: Settings) -> None:
    """Keep the demo build's dbt artifacts beside its data dir: a later dbt call of the same
    process (a PostgreSQL build, whose schemas differ) rewrites dbt's target folder."""
    kept = settings.data_dir.parent / "dbt-artifacts"
    kept.mkdir(exist_ok=True)
    for name in DEMO_ARTIFACTS:
        shutil.copyfile(dbt_target() / name, kept / name)


def demo_artifacts(settings: Settings) -> Path:
    """The folder holding the demo build's manifest.json and semantic_manifest.json (dbt's
    target folder when the demo data dir is reused, SPOTIFLOW_TEST_DEMO_DIR)."""
    kept = settings.data_dir.parent / "dbt-artifacts"
    return kept if kept.exists() else dbt_target()


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    with connect(settings, read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def sample_user_id(settings: Settings) -> str:
    """The lake's id of the user the demo lands the bundled sample for."""
    from ingest.identity import user_id_for

    return user_id_for(settings.sample_user, settings)


def zip_folder(folder: Path, target: Path) -> Path:
    """A folder zipped as Spotify mails an export: its files, paths relative to the folder."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def build_in_another_process() -> subprocess.Popen:
    """`spotiflow build --no-checks` in a process of its own, as cron starts it; its output
    (stdout and stderr) piped, as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "spotiflow.cli", "build", "--no-checks"],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _writing(settings: Settings) -> bool:
    """A build has dbt writing its own file (DuckDB's write-ahead log beside it)."""
    return any(settings.builds_dir.glob("*/*.duckdb.wal"))


@contextlib.contextmanager
def paused_build(settings: Settings) -> Iterator[subprocess.Popen]:
    """`spotiflow build` in another process, stopped (SIGSTOP) while dbt writes: whatever the
    block does happens during a build. Continued (or killed by the block) at the end."""
    process = build_in_another_process()
    try:
        deadline = time.monotonic() + 120
        while not _writing(settings):
            assert process.poll() is None, f"the build ended first: {process.stdout.read()}"
            assert time.monotonic() < deadline, "the build did not start writing in 120 s"
            time.sleep(0.01)
        process.send_signal(signal.SIGSTOP)
        yield process
    finally:
        process.send_signal(signal.SIGCONT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=300)
        if process.poll() is None:
            process.kill()
            process.wait()


def land_a_play_twice_under_one_id(settings: Settings) -> str:
    """A new load whose two plays (two listeners, a day after the last play) share an id: only
    dbt's uniqueness test of the staged plays can see it. Returns the load id."""
    lake = Lake(settings.lake_dir)
    plays = lake.committed("plays").read(ENTITIES["plays"].names)
    latest = pc.max(plays["played_at"]).as_py()
    users = pc.unique(plays["user_id"]).to_pylist()[:2]
    rows = [
        {**plays.slice(0, 1).to_pylist()[0], "play_id": "one-id-twice", "user_id": user,
         "played_at": latest + timedelta(days=1, minutes=index),
         # To the second, as the API and exports give it: a day's plays get ids of their own.
         "played_at_precision": "second"}
        for index, user in enumerate(users)
    ]  # fmt: skip
    table = pa.Table.from_pylist(rows, schema=plays.schema)
    result = ReadResult(
        kind="generated",
        path=settings.data_dir / "twice.json",
        rows_in=table.num_rows,
        tables={"plays": table},
        checksum="one-id-twice",
    )
    return lake.land(result).load_id
