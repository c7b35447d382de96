"""The project on Apache Spark (a local session, as dbt-spark's `method: session` runs it):
the lake as external tables, every model and test built, every mart equal to DuckDB's built from
the same lake, incremental equal to full refresh, every command reading Spark's tables.

A Spark session keeps the warehouse and metastore it started with for the life of the process,
so every test here shares one data dir (module scope), in the order written.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spotiflow.cli import main
from spotiflow.errors import BuildError
from spotiflow.serve.dashboard.marts import Marts
from spotiflow.serve.export import export_marts
from spotiflow.settings import Settings
from spotiflow.simulate.append_day import append
from spotiflow.warehouse import publish
from spotiflow.warehouse.build import build
from spotiflow.warehouse.dbt import run_dbt
from spotiflow.warehouse.engines import open_warehouse
from tests.support.engine_parity import INCREMENTAL_MARTS, INCREMENTAL_MODELS, differences, snapshot
from tests.support.helpers import land_a_play_twice_under_one_id, make_settings
from tests.support.incremental import (
    LONELY_PLAYED_AT,
    land_a_day_a_better_source_empties,
    land_the_better_source,
    lonely_listener,
)
from tests.support.macro_checks import (
    assert_holm_agrees_with_statsmodels,
    assert_normal_and_chi_square_agree_with_scipy,
    assert_student_t_agrees_with_scipy,
)

pytestmark = pytest.mark.engines


def on_spark(settings: Settings) -> Settings:
    return dataclasses.replace(settings, engine="spark", dbt_target="spark")


@pytest.fixture(scope="module")
def lake(demo_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo's lake, and a listener whose only play of a day a later export will make a
    duplicate: built on DuckDB and on Spark, side by side in one data dir."""
    data_dir = tmp_path_factory.mktemp("spark") / "data"
    shutil.copytree(demo_settings.data_dir / "lake", data_dir / "lake")
    duckdb = make_settings(data_dir)
    land_a_day_a_better_source_empties(duckdb)
    build(duckdb)
    # Every model, seed, data and unit test, then the quality checkpoint, on Spark.
    build(on_spark(duckdb))
    return duckdb


def test_the_lake_on_spark_equals_duckdb(lake: Settings, tmp_path: Path) -> None:
    spark = on_spark(lake)
    # Every mart, as each engine's export writes it: the same rows (floats within 1e-9), the
    # same columns and types.
    exported = {}
    for side, settings in (("duckdb", lake), ("spark", spark)):
        written = export_marts(settings, "parquet", tmp_path / side)
        exported[side] = {table.mart: pq.read_table(table.path) for table in written}
    assert len(exported["duckdb"]) >= 27
    assert exported["spark"]["fct_plays"].num_rows > 10_000
    assert differences(exported["duckdb"], exported["spark"], tolerance=1e-9) == {}
    assert {mart: table.schema for mart, table in exported["duckdb"].items()} == {
        mart: table.schema for mart, table in exported["spark"].items()
    }
    # Spark's lake: the committed loads' rows, as the lake's manifest has them.
    with open_warehouse(spark) as warehouse, open_warehouse(lake) as duckdb:
        for entity in ("plays", "tracks", "recommendations", "loads"):
            sql = f"select count(*) from lake.{entity}"
            assert warehouse.value(sql) == duckdb.value(sql) > 0


def test_student_t_on_spark_agrees_with_scipy(lake: Settings) -> None:
    # Spark reads literals such as 0.5 as decimals, which lost the t-test 9 digits once.
    assert_student_t_agrees_with_scipy(on_spark(lake))
    assert_holm_agrees_with_statsmodels(on_spark(lake))
    assert_normal_and_chi_square_agree_with_scipy(on_spark(lake))


def test_every_command_reads_spark(
    lake: Settings, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(lake.data_dir))
    monkeypatch.setenv("SPOTIFLOW_ENGINE", "spark")
    assert main(["check"]) == 0
    assert main(["summary"]) == 0
    assert "the Spark tables published under" in capsys.readouterr().out
    assert main(["export", "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "fct_plays.csv").read_text().count("\n") > 10_000
    marts = Marts.from_settings(on_spark(lake))
    assert marts.missing_marts() == []
    assert marts.listeners() == Marts.from_settings(lake).listeners()


def test_an_incremental_run_on_spark_equals_a_full_refresh(lake: Settings) -> None:
    # dbt's own runs, read where Spark writes them (a build's own place): they publish nothing.
    spark = dataclasses.replace(on_spark(lake), spark_building=True)
    # A new day, late plays from two weeks back, an export repeating recent plays 20 s later,
    # and the export that leaves the lonely listener's day without a play.
    landed = append(lake.data_dir, late=True, duplicates=True)
    assert all(rows > 0 for rows in landed.values()), landed
    user_id, first = lonely_listener(lake), LONELY_PLAYED_AT
    land_the_better_source(lake)

    # The incremental models alone (their parents as the lake's build left them, in both runs):
    # what an incremental run writes is what a full refresh of the same models writes. The
    # union of the plays, a view elsewhere, is a table on Spark: it reads the new loads first.
    assert run_dbt(spark, "run", "--select", "int_plays_unioned").success

    def run(*flags: str) -> None:
        assert run_dbt(spark, "run", "--select", "config.materialized:incremental", *flags).success

    run()
    with open_warehouse(spark) as warehouse:
        rebuilt = set(
            warehouse.rows(
                'select model_name, rebuilt_everything from "default".incremental_builds '
                'where built_at = (select max(built_at) from "default".incremental_builds)'
            )
        )
        lonely = warehouse.rows(
            "select listen_date from marts.fct_daily_listening where user_id = ?", [user_id]
        )
    # Day and week partitions from the window's first day were overwritten; the models keyed
    # by recommendation run or list have no day to partition by and are rebuilt whole, and so
    # is what follows the runs.
    whole = {
        "fct_recommendation_accuracy", "int_recommendations_positioned",
        "int_recommendation_lists_scored", "int_recommendation_lists_matched",
        "fct_predicted_vs_actual", "fct_prediction_similarity",
    }  # fmt: skip
    assert rebuilt == {(model, model in whole) for model in INCREMENTAL_MODELS}
    assert lonely == [(first.date() + timedelta(days=1),)]
    incremental = snapshot(spark, INCREMENTAL_MARTS)
    run("--full-refresh")
    full = snapshot(spark, INCREMENTAL_MARTS)
    assert differences(incremental, full) == {}
    assert all(full[model].num_rows for model in INCREMENTAL_MODELS)

    # Nothing new: an incremental run changes nothing (and empties nothing).
    run()
    assert differences(snapshot(spark, INCREMENTAL_MARTS), full) == {}


def _published_plays(settings: Settings) -> int:
    with open_warehouse(settings) as warehouse:
        return warehouse.value("select count(*) from marts.fct_plays")


def test_readers_read_the_published_build_never_the_one_spark_writes(lake: Settings) -> None:
    spark = on_spark(lake)
    building = dataclasses.replace(spark, spark_building=True)
    # dbt's runs above rewrote Spark's tables with the days appended since: readers still read
    # the build published before them, as DuckDB's readers do.
    assert _published_plays(spark) == _published_plays(lake) < _published_plays(building)
    published = publish.published(spark)
    assert published is not None
    # A build that fails a data test (two plays under one id) rewrites the tables in place and
    # publishes nothing: readers keep the build they had, and are told so.
    land_a_play_twice_under_one_id(lake)
    with pytest.raises(BuildError, match="unique_combination_of_columns_stg_lake__plays"):
        build(spark, run_checks=False)
    assert publish.published(spark) == published
    assert _published_plays(spark) == _published_plays(lake)
    assert publish.what_readers_read(spark) == (
        f"the build published {publish.when(published.published_at)}"
    )
