"""A data dir that cannot be written (disk full, read-only): one line naming the path, exit 2,
nothing half-committed, and dbt's file log never floods the terminal."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.lake import landing
from ingest.lake.landing import Lake
from spotiflow.cli import main
from spotiflow.settings import Settings
from tests.support.helpers import SAMPLE_CATALOG, SAMPLE_CSV, query

DEV_FULL = Path("/dev/full")  # every write to it fails with ENOSPC, as on a full disk


def _full_disk_for(folder: str):
    """pq.write_table as on a disk that fills up when the lake writes into `folder`."""
    write_table = landing.pq.write_table

    def write(table: object, where: object, **kwargs: object) -> None:
        if f"/{folder}/" in str(getattr(where, "name", where)):
            with DEV_FULL.open("wb") as full:
                full.write(b"\0" * (1 << 20))
                full.flush()
        write_table(table, where, **kwargs)

    return write


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize("folder", ["plays", "loads"])
def test_a_full_disk_while_landing_names_the_path_and_commits_nothing(
    settings: Settings, capsys: pytest.CaptureFixture[str], folder: str
) -> None:
    """The disk fills at the load's first file, or at its manifest row (the last write)."""
    lake = Lake(settings.lake_dir)
    lake.ensure_layout()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(landing.pq, "write_table", _full_disk_for(folder))
        assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 2
    error = _one_line(capsys.readouterr().err)
    assert f"{settings.lake_dir}/{folder}/" in error and "No space left on device" in error
    assert "nothing of it was committed" in error
    assert lake.committed_load_ids() == set()
    assert not [path for path in settings.lake_dir.rglob("*") if path.name.endswith(".tmp")]

    assert main(["build", "--no-checks"]) == 0
    assert query(settings, "select count(*) from marts.fct_plays") == [(0,)]
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert "1350 rows in, 1350 landed" in capsys.readouterr().out


def test_dbt_logging_to_a_full_disk_does_not_flood_the_terminal(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "dbt.log").symlink_to(DEV_FULL)
    capsys.readouterr()
    main(["build", "--no-checks"])
    captured = capsys.readouterr()
    assert "Logging error" not in captured.err + captured.out
    assert len((captured.err + captured.out).splitlines()) < 10, captured


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """The folder and all in it made read-only; as root (whom modes do not stop) immutable."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root without chattr cannot make a folder read-only")
        done = subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True)
        if done.returncode:
            pytest.skip(f"chattr +i refused: {done.stderr.decode().strip()}")
        undo = ["chattr", "-R", "-i", str(folder)]
    else:
        subprocess.run(["chmod", "-R", "a-w", str(folder)], check=True)
        undo = ["chmod", "-R", "u+w", str(folder)]
    try:
        yield
    finally:
        subprocess.run(undo, check=True)


@pytest.mark.parametrize(
    "command",
    [
        ["ingest", "catalog", str(SAMPLE_CATALOG)],
        ["build", "--no-checks"],
        ["user", "sample-user", "--time-zone", "Europe/Berlin"],
    ],
)
def test_a_read_only_data_dir_is_one_line_naming_the_path(
    settings: Settings, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    capsys.readouterr()
    with _read_only(settings.data_dir):
        assert main(command) == 2
        error = _one_line(capsys.readouterr().err)
    assert str(settings.data_dir) in error
    assert "unexpected" not in error and "Traceback" not in error
    assert len(Lake(settings.lake_dir).committed_load_ids()) == 1
