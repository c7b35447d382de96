"""The quality checkpoint: passes on the sample, names data set, column and problem when not."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.cli import main
from ingest.dbt import run_dbt
from ingest.landing import write_parquet_atomically
from ingest.quality import CHECKS, run_checkpoint
from ingest.schemas import lake_schema
from ingest.settings import Settings
from ingest.warehouse import connect
from tests.helpers import make_settings, query


def test_the_sample_passes_every_expectation(demo_settings: Settings) -> None:
    report = run_checkpoint(demo_settings)
    assert report.success, report.summary()
    assert len(report.results) == len(CHECKS) == 8
    assert report.expectations == sum(len(checks) for checks in CHECKS.values())
    assert report.summary().endswith("all passed")
    rows = {result.name: result.rows for result in report.results}
    (loads,) = query(demo_settings, "select count(*) from marts.fct_loads")[0]
    assert rows["lake.loads"] == rows["reconcile.loads"] == loads == 5
    assert rows["lake.plays"] > 1350
    # Each load's rows per entity, manifest = lake = source: every load wrote some entity, and
    # most several (the sample: plays, tracks and audio features).
    assert rows["reconcile.lake"] > loads


@pytest.fixture
def corrupted(demo_settings: Settings, tmp_path: Path, monkeypatch) -> Settings:
    """A copy of the demo's data with defects: a play counted twice in the marts (dbt's test
    sees it), and a manifest row that neither adds up nor reached the marts, whose rejected row
    is not in the lake (only the checkpoint can see those)."""
    shutil.copytree(demo_settings.data_dir, tmp_path / "data")
    settings = make_settings(tmp_path / "data")
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(settings.data_dir))
    with connect(settings) as warehouse:
        warehouse.execute(
            "insert into marts.fct_plays select * from marts.fct_plays "
            "where play_id = (select max(play_id) from marts.fct_plays)"
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
    assert summary.startswith("quality checkpoint: 8 data sets")
    (loads,) = query(corrupted, "select count(*) from marts.fct_loads")[0]
    assert (
        f"lake.loads: rows_in = rows_accounted: 1 of {loads + 1} rows fail "
        "(e.g. load_id='forged', source_file='forged.csv', rows_accounted=9, rows_in=10)"
    ) in summary
    assert "reconcile.loads: rows_rejected = rejects_in_lake: 1 of" in summary
    assert "reconcile.loads: in_marts is one of [True]: 1 of" in summary
    assert "(e.g. load_id='forged', source_file='forged.csv'" in summary
    failed = {result.name for result in report.results if result.failures}
    assert failed == {"lake.loads", "reconcile.loads"}


def test_a_play_counted_twice_fails_dbt_s_test(demo_settings: Settings, tmp_path: Path) -> None:
    shutil.copytree(demo_settings.data_dir, tmp_path / "data")
    settings = make_settings(tmp_path / "data")
    with connect(settings) as warehouse:
        warehouse.execute(
            "insert into marts.fct_plays select * from marts.fct_plays "
            "where play_id = (select max(play_id) from marts.fct_plays)"
        )
    outcome = run_dbt(
        settings, "test", "--select", "every_staged_play_is_counted_once",
        raise_on_failure=False,
    )  # fmt: skip
    assert not outcome.success
    assert outcome.failures == [
        "test every_staged_play_is_counted_once: Got 1 result, configured to fail if != 0"
    ]


def test_check_command_exits_1_on_failure(corrupted: Settings, capsys) -> None:
    assert main(["check"]) == 1
    assert "3 failed" in capsys.readouterr().out


def test_build_fails_readably_when_a_load_does_not_add_up(corrupted: Settings, capsys) -> None:
    # The forged manifest row claims a rejects file the lake lacks: no model runs on that lake.
    assert main(["build"]) == 1
    captured = capsys.readouterr()
    assert "rejects/forged.parquet of load forged" in captured.err
    assert "spotiflow forget forged" in captured.err
    assert "Traceback" not in captured.err
