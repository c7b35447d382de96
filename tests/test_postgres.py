"""The project on PostgreSQL: a real server (throwaway, 127.0.0.1), the lake copied in load by
load, every model and test built, every mart equal to DuckDB's, incremental equal to full."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.lake.compaction import withdraw
from ingest.lake.landing import Lake
from spotiflow.cli import main
from spotiflow.errors import SpotiflowError
from spotiflow.serve.dashboard.marts import Marts
from spotiflow.serve.export import export_marts
from spotiflow.settings import Settings
from spotiflow.simulate.append_day import append
from spotiflow.warehouse.build import build
from spotiflow.warehouse.engines import open_warehouse
from spotiflow.warehouse.engines.postgres import publish_lake
from tests.support.engine_parity import INCREMENTAL_MODELS, differences, snapshot
from tests.support.macro_checks import (
    assert_holm_agrees_with_statsmodels,
    assert_normal_and_chi_square_agree_with_scipy,
    assert_student_t_agrees_with_scipy,
)
from tests.support.postgres_server import on_postgres

pytestmark = pytest.mark.engines


def test_the_demo_on_postgres_equals_duckdb(demo_settings: Settings, database: str, tmp_path):
    postgres = on_postgres(demo_settings, database)
    # Every model, seed, data and unit test, then the quality checkpoint, on PostgreSQL.
    build(postgres)
    with open_warehouse(postgres) as warehouse:
        assert warehouse.value("select count(*) from marts.fct_plays") > 10_000

    # Every mart, as each engine's export writes it: the same rows (floats within 1e-9), the
    # same columns and types.
    exported = {}
    for side, settings in (("duckdb", demo_settings), ("postgres", postgres)):
        written = export_marts(settings, "parquet", tmp_path / side)
        exported[side] = {table.mart: pq.read_table(table.path) for table in written}
    assert len(exported["duckdb"]) >= 27
    assert differences(exported["duckdb"], exported["postgres"], tolerance=1e-9) == {}
    assert {mart: table.schema for mart, table in exported["duckdb"].items()} == {
        mart: table.schema for mart, table in exported["postgres"].items()
    }


def _generate(users: int, days: int, seed: int) -> None:
    arguments = ["--users", str(users), "--days", str(days), "--seed", str(seed), "--tracks", "500"]
    assert main(["generate", *arguments]) == 0


def _rebuilt(settings: Settings) -> set[tuple]:
    with open_warehouse(settings) as warehouse:
        return set(
            warehouse.rows(
                "select model_name, rebuilt_everything from build_logs.incremental_builds "
                "where built_at = (select max(built_at) from build_logs.incremental_builds)"
            )
        )


def test_an_incremental_run_on_postgres_equals_a_full_refresh(settings: Settings, database: str):
    postgres = on_postgres(settings, database)
    _generate(users=40, days=28, seed=7)
    # Twice: each set of schemas a build writes (spotiflow/warehouse/publish.py) holds a build
    # to catch up.
    build(postgres, run_checks=False)
    build(postgres, run_checks=False)
    # A new day, late plays from two weeks back, and an export repeating recent plays 20 s
    # later (duplicates of the generated ones).
    landed = append(settings.data_dir, late=True, duplicates=True)
    assert all(rows > 0 for rows in landed.values()), landed
    build(postgres)
    assert _rebuilt(postgres) == {(model, False) for model in INCREMENTAL_MODELS}
    incremental = snapshot(postgres)
    build(postgres, run_checks=False, full_refresh=True)
    full = snapshot(postgres)
    assert differences(incremental, full) == {}
    assert all(full[model].num_rows for model in INCREMENTAL_MODELS)

    # Nothing new: an incremental build changes nothing.
    build(postgres, run_checks=False)
    again = snapshot(postgres)
    assert differences(again, full) == {}


def _lake_counts(settings: Settings) -> dict[str, int]:
    with open_warehouse(settings) as warehouse:
        return dict(warehouse.rows("select entity, count(*) from lake._copied_loads group by 1"))


def test_the_lake_is_copied_once_per_load_and_withdrawn_loads_leave(
    settings: Settings, database: str, tmp_path: Path
):
    postgres = on_postgres(settings, database)
    _generate(users=5, days=15, seed=3)
    lake = Lake(settings.lake_dir)
    lake.ensure_layout()
    first = publish_lake(postgres, lake)
    assert first.copied > 0 and first.rows > 0
    again = publish_lake(postgres, lake)
    assert (again.copied, again.rows, again.withdrawn) == (0, 0, 0)
    with open_warehouse(postgres) as warehouse:
        copied = warehouse.value("select count(*) from lake.plays")
    assert copied == sum(pq.read_metadata(path).num_rows for path in lake.committed_files("plays"))

    # A load withdrawn from the manifest (`spotiflow forget`) is deleted from PostgreSQL too.
    plays_load = lake.committed_files("plays")[0].stem
    withdraw(lake, plays_load)
    withdrawn = publish_lake(postgres, lake)
    assert withdrawn.withdrawn >= 1 and withdrawn.copied == 0
    with open_warehouse(postgres) as warehouse:
        assert (
            warehouse.value("select count(*) from lake.plays where load_id = ?", [plays_load]) == 0
        )

    # A committed load's file that is gone stops the copy, naming the load.
    _generate(users=3, days=15, seed=4)
    lost = lake.committed_files("plays")[-1]
    lost.unlink()
    with pytest.raises(SpotiflowError, match=f"{lost.stem}.*spotiflow forget {lost.stem}"):
        publish_lake(postgres, lake)

    # Another lake is not mixed into this one's database.
    other = Lake(tmp_path / "other" / "lake")
    other.ensure_layout()
    with pytest.raises(SpotiflowError, match="holds the loads of another lake"):
        publish_lake(postgres, other)


def test_every_command_reads_postgres(
    settings: Settings, database: str, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
):
    _generate(users=6, days=15, seed=5)
    monkeypatch.setenv("SPOTIFLOW_ENGINE", "postgres")
    monkeypatch.setenv("PGDATABASE", database)
    assert main(["build"]) == 0
    assert main(["check"]) == 0
    assert main(["summary"]) == 0
    assert f"PostgreSQL database {database}" in capsys.readouterr().out
    assert main(["export", "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "fct_plays.csv").read_text().count("\n") > 10
    postgres = on_postgres(settings, database)
    marts = Marts.from_settings(postgres)
    assert marts.missing_marts() == []
    assert len(marts.listeners()) == 6
    assert_student_t_agrees_with_scipy(postgres)
    assert_holm_agrees_with_statsmodels(postgres)
    assert_normal_and_chi_square_agree_with_scipy(postgres)
