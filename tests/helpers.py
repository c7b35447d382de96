"""Paths and small helpers shared by the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ingest.settings import Settings
from ingest.warehouse import connect

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT_DIR = Path(__file__).resolve().parent.parent
SAMPLE_CSV = PROJECT_DIR / "ingest" / "samples" / "listening_history.csv"
SAMPLE_CATALOG = PROJECT_DIR / "ingest" / "samples" / "spotify-2023.csv"
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


def _writing(settings: Settings) -> bool:
    """A build has dbt writing its own file (DuckDB's write-ahead log beside it)."""
    return any(settings.builds_dir.glob("*/*.duckdb.wal"))


@contextlib.contextmanager
def paused_build(settings: Settings) -> Iterator[subprocess.Popen]:
    """`spotiflow build` in another process, stopped (SIGSTOP) while dbt writes: whatever the
    block does happens during a build. Continued (or killed by the block) at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", "build", "--no-checks"],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
