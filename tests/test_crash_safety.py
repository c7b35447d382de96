"""kill -9 at any moment of an ingest, and two processes at once: no partial, no duplicate data."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.lake.landing import SCHEMA_FILE, Lake
from spotiflow.cli import main
from spotiflow.settings import Settings
from tests.support.helpers import SAMPLE_CSV

ROWS = 40_000


def _big_legacy_csv(path: Path) -> Path:
    """The sample's rows over many days: big enough that landing takes a moment to kill."""
    with SAMPLE_CSV.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for number in range(ROWS):
            row = dict(rows[number % len(rows)])
            row["Day_Played"] = str(date(2024, 1, 1) + timedelta(days=number // len(rows)))
            writer.writerow(row)
    return path


def _spotiflow(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "spotiflow.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _landed_rows(lake: Lake, entity: str) -> int:
    """Rows of committed loads only (what a build reads after recovery)."""
    committed = lake.committed_load_ids()
    files = [p for p in lake.entity_dir(entity).glob("*.parquet") if p.name != SCHEMA_FILE]
    return sum(pq.read_metadata(p).num_rows for p in files if p.stem in committed)


def _assert_settled(lake: Lake) -> None:
    """After recovery: no temporary file, no data file without its manifest row."""
    lake.recover()
    committed = lake.committed_load_ids()
    for path in lake.root.rglob("*"):
        assert not path.name.endswith(".tmp"), path
        if path.suffix == ".parquet" and path.name != SCHEMA_FILE:
            assert path.stem in committed, path


@pytest.mark.parametrize("delays", [(0.3, 0.8, 1.3, 1.8, 2.3, 2.8)])
def test_kill_9_during_an_ingest_leaves_nothing_partial(
    settings: Settings, tmp_path: Path, delays: tuple[float, ...]
) -> None:
    source = _big_legacy_csv(tmp_path / "big.csv")
    lake = Lake(settings.lake_dir)
    killed_mid_run = 0
    for delay in delays:
        process = _spotiflow("ingest", "legacy-csv", str(source), "--user", "crash-user")
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        process.communicate()
        if lake.root.exists():
            _assert_settled(lake)
            # Either the load committed whole or nothing of it is visible.
            assert _landed_rows(lake, "plays") in (0, ROWS)
    assert killed_mid_run >= 2, "the ingest finished too fast to be killed: grow ROWS"

    # The next run completes the work, once.
    assert main(["ingest", "legacy-csv", str(source), "--user", "crash-user"]) == 0
    assert _landed_rows(lake, "plays") == ROWS
    assert lake.manifest().num_rows == 1
    assert main(["ingest", "legacy-csv", str(source), "--user", "crash-user"]) == 0
    assert _landed_rows(lake, "plays") == ROWS


def test_an_ingest_while_another_holds_the_lake_exits_clearly(
    settings: Settings, tmp_path: Path
) -> None:
    source = _big_legacy_csv(tmp_path / "big.csv")
    lake = Lake(settings.lake_dir)
    with lake.locked("landing spotify-export my_spotify_data.zip"):
        second = _spotiflow("ingest", "legacy-csv", str(source), "--user", "second")
        _, err = second.communicate(timeout=120)
    assert second.returncode == 2
    assert f"another spotiflow process (pid {os.getpid()}, landing spotify-export" in err
    assert "is using the lake" in err and "Traceback" not in err
    assert lake.manifest().num_rows == 0


def test_two_ingests_at_once_never_corrupt_the_lake(settings: Settings, tmp_path: Path) -> None:
    source = _big_legacy_csv(tmp_path / "big.csv")
    lake = Lake(settings.lake_dir)
    users = ["racer-a", "racer-b", "racer-c"]
    processes = {user: _spotiflow("ingest", "legacy-csv", str(source), "--user", user)
                 for user in users}  # fmt: skip
    errors = {user: p.communicate(timeout=120)[1] for user, p in processes.items()}
    outcomes = [(p.returncode, errors[user]) for user, p in processes.items()]
    landed = [user for user, p in processes.items() if p.returncode == 0]
    for code, err in outcomes:
        assert code in (0, 2), err
        if code == 2:
            assert "is using the lake" in err and "Traceback" not in err
    _assert_settled(lake)
    assert lake.manifest().num_rows == len(landed)
    assert _landed_rows(lake, "plays") == len(landed) * ROWS
    # Whoever was turned away lands on the next try.
    for user in set(users) - set(landed):
        assert main(["ingest", "legacy-csv", str(source), "--user", user]) == 0
    assert _landed_rows(lake, "plays") == len(users) * ROWS


def test_a_build_waits_for_no_landing_and_removes_what_a_crash_left(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(settings.lake_dir)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    # What a landing killed before its manifest row leaves behind.
    orphan = lake.entity_dir("plays") / "20990101T000000000000-legacy-csv-deadbeef.parquet"
    orphan.write_bytes((next(lake.entity_dir("plays").glob("2*.parquet"))).read_bytes())
    with lake.locked("a test holding the lake"):
        assert main(["build", "--no-checks"]) == 2
    assert "(pid" in capsys.readouterr().err
    assert main(["build", "--no-checks"]) == 0
    assert "removed 1 file(s) an interrupted landing left" in capsys.readouterr().out
    assert not orphan.exists()
