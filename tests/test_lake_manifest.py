"""The manifest decides what is in the lake: dbt reads committed loads only, whoever runs it; a
committed load whose file is gone stops the build naming it; the data dir may be any path."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ingest.lake.landing import Lake
from spotiflow.cli import main
from spotiflow.settings import Settings
from spotiflow.warehouse.dbt import run_dbt
from spotiflow.warehouse.quality import run_checkpoint
from tests.support.helpers import SAMPLE_CSV, make_settings, query

SAMPLE_PLAYS = 1350


def _plays_file(lake: Lake, load_id: str) -> Path:
    return lake.entity_dir("plays") / f"{load_id}.parquet"


def _only_load(lake: Lake) -> str:
    (load_id,) = lake.committed_load_ids()
    return load_id


def _fct_plays(settings: Settings) -> int:
    return query(settings, "select count(*) from marts.fct_plays")[0][0]


def _killed_landing(lake: Lake, load_id: str) -> Path:
    """The file a landing killed before its manifest row leaves: a load of its own."""
    orphan_id = "20990101T000000000000-legacy-csv-deadbeef"
    table = pq.read_table(_plays_file(lake, load_id))
    table = table.set_column(
        table.schema.get_field_index("load_id"),
        "load_id",
        pa.repeat(pa.scalar(orphan_id), table.num_rows),
    )
    table = table.set_column(
        table.schema.get_field_index("play_id"),
        "play_id",
        pc.binary_join_element_wise(table["play_id"], pa.scalar("-orphan"), ""),
    )
    orphan = _plays_file(lake, orphan_id)
    pq.write_table(table, orphan)
    return orphan


def test_a_raw_dbt_build_reads_committed_loads_only(settings: Settings) -> None:
    lake = Lake(settings.lake_dir)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    orphan = _killed_landing(lake, _only_load(lake))
    # What the README documents: dbt itself, without spotiflow's recovery.
    run_dbt(settings, "build")
    assert orphan.exists()
    assert _fct_plays(settings) == SAMPLE_PLAYS
    assert main(["build"]) == 0
    assert not orphan.exists()
    assert _fct_plays(settings) == SAMPLE_PLAYS


def test_a_committed_load_whose_file_is_gone_stops_the_build_naming_it(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(settings.lake_dir)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["build", "--no-checks"]) == 0
    load_id = _only_load(lake)
    _plays_file(lake, load_id).unlink()
    capsys.readouterr()

    assert main(["build"]) == 1
    error = capsys.readouterr().err
    assert f"plays/{load_id}.parquet of load {load_id}" in error
    assert f"spotiflow forget {load_id}" in error
    assert "Traceback" not in error
    # A raw dbt build refuses the same way: nothing downstream runs on the wrong lake.
    assert not run_dbt(settings, "build", raise_on_failure=False).success

    # Withdrawing the load rebuilds the marts without it, and its input can land again.
    assert main(["forget", load_id]) == 0
    assert load_id not in lake.committed_load_ids()
    assert _fct_plays(settings) == 0
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert "already landed" not in capsys.readouterr().out
    assert main(["build"]) == 0
    assert _fct_plays(settings) == SAMPLE_PLAYS


def test_a_load_forgotten_without_a_build_leaves_the_marts_at_the_next_build(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(settings.lake_dir)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["build", "--no-checks"]) == 0
    assert main(["forget", _only_load(lake), "--no-build"]) == 0
    # A plain build (cron's): incremental models cannot see a load leave, so all is rebuilt.
    assert main(["build"]) == 0
    assert "rebuilding every model in full" in capsys.readouterr().out
    assert _fct_plays(settings) == 0
    # The next build writes the other of the two build files, built before the withdrawal:
    # rebuilt in full too; the one after that is incremental again.
    assert main(["build", "--no-checks"]) == 0
    assert "rebuilding every model in full" in capsys.readouterr().out
    assert _fct_plays(settings) == 0
    assert main(["build", "--no-checks"]) == 0
    assert "rebuilding every model in full" not in capsys.readouterr().out
    assert _fct_plays(settings) == 0


def test_forgetting_a_load_that_is_not_committed_exits_2(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    for name in ("no-such-load", "../plays/x", "_schema"):
        assert main(["forget", name, "--no-build"]) == 2
        assert "no committed load" in capsys.readouterr().err


def test_a_file_replaced_after_landing_fails_the_reconciliation(settings: Settings) -> None:
    lake = Lake(settings.lake_dir)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    load_id = _only_load(lake)
    path = _plays_file(lake, load_id)
    pq.write_table(pq.read_table(path).slice(0, 1000), path)
    assert main(["build", "--no-checks"]) == 0

    report = run_checkpoint(settings)
    failures = [f for f in report.summary().splitlines() if "reconcile.lake" in f]
    assert len(failures) == 1, report.summary()
    assert "manifest_rows = lake_rows: 1 of" in failures[0]
    assert f"load_id='{load_id}', entity='plays'" in failures[0]


def test_a_data_dir_of_any_characters_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "it's [1]" read as a pattern would match "it's 1" beside it: a lake of other plays.
    decoy = make_settings(tmp_path / "it's 1" / "data")
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(decoy.data_dir))
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "someone-else"]) == 0
    Lake(decoy.lake_dir).ensure_layout()

    settings = make_settings(tmp_path / "it's [1]" / "da*ta")
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(settings.data_dir))
    half = tmp_path / "half.csv"
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    half.write_text("".join(lines[:501]), encoding="utf-8")
    assert main(["ingest", "legacy-csv", str(half)]) == 0
    assert main(["build"]) == 0
    assert _fct_plays(settings) == 500
    shutil.rmtree(decoy.data_dir)


@pytest.mark.parametrize("name", ["data?x=1", "data#1", "back\\slash"])
def test_a_data_dir_dbt_or_duckdb_cannot_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(tmp_path / name))
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 2
    assert "may hold any character but ?, # and \\" in capsys.readouterr().err


@pytest.mark.parametrize("played_at", ["0001-01-01 00:00:30", "9999-12-31 23:59:59"])
def test_a_landed_play_of_any_date_never_fails_a_later_build(
    settings: Settings, played_at: str
) -> None:
    """The readers reject such dates now; a lake landed before they did may hold them."""
    lake = Lake(settings.lake_dir)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    path = _plays_file(lake, _only_load(lake))
    table = pq.read_table(path)
    times = table["played_at"].to_pylist()
    times[0] = datetime.fromisoformat(played_at)
    table = table.set_column(
        table.schema.get_field_index("played_at"),
        table.schema.field("played_at"),
        pa.array(times, type=table.schema.field("played_at").type),
    )
    pq.write_table(table, path)
    assert main(["build"]) == 0
    # An incremental build after a new load reaches back from its plays: still fine.
    half = settings.data_dir.parent / "later.csv"
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    half.write_text(lines[0] + "".join(line.replace(",2024-", ",2025-") for line in lines[1:50]))
    assert main(["ingest", "legacy-csv", str(half)]) == 0
    assert main(["build"]) == 0
    # The time spine spans every listen date, the odd one included (dbt tests it too).
    assert query(
        settings,
        "select count(*) from marts.fct_plays as plays left join marts.dim_dates as days "
        "on plays.listen_date = days.date_day where days.date_day is null",
    ) == [(0,)]
    assert query(settings, "select count(*) from marts.fct_plays") == [(SAMPLE_PLAYS + 49,)]
