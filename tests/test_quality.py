"""The quality checkpoint: passes on the sample, names data set, column and problem when not."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ingest.lake.landing import Lake, write_parquet_atomically
from ingest.lake.schemas import lake_schema
from spotiflow.cli import main
from spotiflow.errors import StorageError
from spotiflow.settings import Settings
from spotiflow.warehouse.dbt import run_dbt
from spotiflow.warehouse.duckdb_file import connect
from spotiflow.warehouse.quality import CHECKED_LOADS, CHECKS, checked_loads, run_checkpoint
from tests.support.helpers import FIXTURES, make_settings, query


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


@pytest.fixture
def copied(demo_settings: Settings, tmp_path: Path, monkeypatch) -> Settings:
    shutil.copytree(demo_settings.data_dir, tmp_path / "data", symlinks=True)
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(tmp_path / "data"))
    return make_settings(tmp_path / "data")


def _plays_files(settings: Settings) -> list[Path]:
    return sorted(Lake(settings.lake_dir).committed_files("plays"))


def test_a_build_validates_the_rows_of_new_loads_only(copied: Settings) -> None:
    assert run_checkpoint(copied).success  # every load validated, and recorded
    committed = Lake(copied.lake_dir).committed_load_ids()
    assert checked_loads(copied) == committed
    export = FIXTURES / "spotify_export" / "extended"
    assert main(["ingest", "spotify-export", str(export)]) == 0
    assert main(["build", "--no-checks"]) == 0
    (new_load,) = Lake(copied.lake_dir).committed_load_ids() - committed
    report = run_checkpoint(copied, new_loads_only=True)
    assert report.success, report.summary()
    rows = {result.name: result.rows for result in report.results}
    # The rows of the new load only; the manifest and the reconciliations, every load.
    landed = query(copied, "select count(*) from lake.spotify_export__extended_plays "
                           "where load_id = ?", [new_load])[0][0]  # fmt: skip
    assert rows["lake.spotify_export__extended_plays"] == landed > 0
    assert rows["lake.plays"] == rows["lake.recommendations"] == 0
    assert rows["lake.loads"] == len(committed) + 1
    assert (report.loads_checked, report.loads_committed) == (1, len(committed) + 1)
    assert f"the rows of 1 of {len(committed) + 1} loads" in report.summary()
    assert checked_loads(copied) == committed | {new_load}


def test_changed_checks_validate_every_load_again(copied: Settings, monkeypatch) -> None:
    assert run_checkpoint(copied).success
    assert checked_loads(copied)
    changed = {
        **CHECKS,
        "lake.plays": [*CHECKS["lake.plays"], ("not_null", {"column": "track_id"})],
    }
    monkeypatch.setattr("spotiflow.warehouse.quality.CHECKS", changed)
    assert checked_loads(copied) == set()
    report = run_checkpoint(copied, new_loads_only=True)
    assert report.loads_checked == report.loads_committed


def test_row_defects_are_counted_across_batches(copied: Settings, monkeypatch) -> None:
    """Two loads' files altered after landing (same row counts, so no reconciliation sees it),
    one play id each made null; validated one file per batch, the failures add up."""
    files = _plays_files(copied)[:2]
    assert len(files) == 2
    total = sum(pq.read_metadata(path).num_rows for path in _plays_files(copied))
    for path in files:
        table = pq.read_table(path)
        ids = table["play_id"].to_pylist()
        ids[0] = None
        table = table.set_column(table.schema.get_field_index("play_id"), "play_id",
                                 pa.array(ids, table.schema.field("play_id").type))  # fmt: skip
        write_parquet_atomically(table, path)
    monkeypatch.setattr("spotiflow.warehouse.quality.BATCH_ROWS", 1)
    (copied.builds_dir / CHECKED_LOADS).unlink(missing_ok=True)
    report = run_checkpoint(copied)
    assert not report.success
    assert f"lake.plays: play_id is never null: 2 of {total} rows fail" in report.summary()
    assert checked_loads(copied) == set()  # a failing checkpoint records no load as checked


def test_batches_hold_whole_loads_and_only_those_asked(demo_settings: Settings) -> None:
    lake = Lake(demo_settings.lake_dir)
    files = lake.committed("plays")
    loads = {path.stem for path in _plays_files(demo_settings)}
    asked = set(sorted(loads)[1:])
    batches = list(files.batches(["play_id"], asked, max_rows=1))
    every = files.read(["load_id", "play_id"])
    expected = every.filter(pc.is_in(every["load_id"], pa.array(sorted(asked))))
    assert len(batches) == len(asked)  # a file is never split, one file a batch at one row
    assert sorted(load for batch in batches for load in set(batch["load_id"].to_pylist())) == (
        sorted(asked)
    )
    assert sum(batch.num_rows for batch in batches) == expected.num_rows
    assert list(files.batches(["play_id"], set(), max_rows=10)) == []


def test_a_data_dir_it_may_not_write_keeps_no_record(copied: Settings, monkeypatch) -> None:
    """A reader's `spotiflow check` where the data dir cannot be written: it still answers."""
    (copied.builds_dir / CHECKED_LOADS).unlink(missing_ok=True)

    def refuse(target: Path, text: str) -> None:
        raise StorageError(target, PermissionError(13, "Permission denied"))

    monkeypatch.setattr("spotiflow.warehouse.quality.write_text_atomically", refuse)
    report = run_checkpoint(copied)
    assert report.success, report.summary()
    assert checked_loads(copied) == set()
