"""The quality checkpoint: passes on the sample, names data set, column and problem when not."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.cli import main
from ingest.landing import write_parquet_atomically
from ingest.quality import CHECKS, run_checkpoint
from ingest.schemas import lake_schema
from ingest.settings import Settings
from ingest.warehouse import connect
from tests.helpers import make_settings, query


def test_the_sample_passes_every_expectation(demo_settings: Settings) -> None:
    report = run_checkpoint(demo_settings)
    assert report.success, report.summary()
    assert len(report.results) == len(CHECKS) == 11
    assert report.expectations == sum(len(checks) for checks in CHECKS.values())
    assert report.summary().endswith("all passed")
    rows = {result.name: result.rows for result in report.results}
    (plays,) = query(demo_settings, "select count(*) from marts.fct_plays")[0]
    assert rows["marts.fct_plays"] == plays > 1350
    assert rows["marts.fct_experiment_results"] == 3


@pytest.fixture
def corrupted(demo_settings: Settings, tmp_path: Path, monkeypatch) -> Settings:
    """A copy of the demo's data with one defect of each kind the checkpoint looks for."""
    shutil.copytree(demo_settings.data_dir, tmp_path / "data")
    settings = make_settings(tmp_path / "data")
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(settings.data_dir))
    with connect(settings) as warehouse:
        warehouse.execute(
            "update marts.fct_plays set minutes_played = -1 "
            "where play_id = (select min(play_id) from marts.fct_plays)"
        )
        warehouse.execute(
            "insert into marts.fct_plays select * from marts.fct_plays "
            "where play_id = (select max(play_id) from marts.fct_plays)"
        )
        warehouse.execute(
            "update marts.dim_tracks set energy = 1.5 "
            "where track_id = (select min(track_id) from marts.dim_tracks)"
        )
    now = datetime(2026, 1, 1)
    manifest_row = {
        "kind": "legacy-csv", "source_file": "forged.csv", "input_checksum": "0" * 64,
        "load_key": "f" * 64, "options": "{}", "rows_in": 10, "rows_landed": 8,
        "rows_rejected": 1, "started_at": now, "finished_at": now, "notes": None,
        "source": "legacy-csv", "load_id": "forged", "_loaded_at": now,
    }  # fmt: skip
    table = pa.Table.from_pylist([manifest_row], schema=lake_schema("loads"))
    write_parquet_atomically(table, settings.lake_dir / "loads" / "forged.parquet")
    return settings


def test_defects_fail_and_are_named(corrupted: Settings) -> None:
    report = run_checkpoint(corrupted)
    assert not report.success
    summary = report.summary()
    assert summary.startswith("quality checkpoint: 11 data sets")
    (plays,) = query(corrupted, "select count(*) from marts.fct_plays")[0]
    assert (
        f"marts.fct_plays: minutes_played within 0..: 1 of {plays} rows fail (e.g. -1.0)" in summary
    )
    assert f"marts.fct_plays: play_id is unique: 2 of {plays} rows fail" in summary
    assert "marts.dim_tracks: energy within 0..1: 1 of" in summary
    assert "lake.loads: rows_in = rows_accounted: 1 of" in summary
    failed = {result.name for result in report.results if result.failures}
    assert failed == {"marts.fct_plays", "marts.dim_tracks", "lake.loads"}


def test_check_command_exits_1_on_failure(corrupted: Settings, capsys) -> None:
    assert main(["check"]) == 1
    assert "4 failed" in capsys.readouterr().out


def test_build_fails_readably_when_a_load_does_not_add_up(corrupted: Settings, capsys) -> None:
    # dbt rebuilds the marts from the lake; the forged manifest row still fails the build.
    assert main(["build"]) == 1
    captured = capsys.readouterr()
    assert "fct_loads" in captured.err and "expression_is_true" in captured.err
    assert "Traceback" not in captured.err
