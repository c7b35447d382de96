"""Incremental builds: after new loads, `dbt run` gives exactly the rows of a full refresh."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from bench.append_day import append
from ingest.cli import main
from ingest.dbt import run_dbt
from ingest.landing import Lake
from ingest.records import ReadResult
from ingest.schemas import ENTITIES
from ingest.settings import Settings
from tests.helpers import query

INCREMENTAL_MODELS = {
    "int_plays_deduplicated",
    "int_plays_enriched",
    "fct_plays",
    "fct_daily_listening",
    "fct_daily_track_plays",
    "fct_recommendation_accuracy",
}


def _differences(left: Path, right: Path) -> dict[str, tuple[int, int, int]]:
    """Per table of the marts and intermediate schemas: (rows, only in left, only in right)."""
    with duckdb.connect(str(right), read_only=True) as connection:
        connection.execute(f"attach '{left}' as left_db (read_only)")
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() and schema_name in ('marts', 'intermediate')"
        ).fetchall()
        result = {}
        for schema, table in tables:
            one, two = f"left_db.{schema}.{table}", f"{schema}.{table}"
            counts = connection.execute(
                f"select (select count(*) from {two}),"
                f" (select count(*) from (select * from {one} except all select * from {two})),"
                f" (select count(*) from (select * from {two} except all select * from {one}))"
            ).fetchall()[0]
            result[table] = counts
        return result


def _snapshot(settings: Settings, name: str) -> Path:
    """A copy of the warehouse as it is now (checkpointed: dbt ran in this process)."""
    query(settings, "checkpoint")
    copy = settings.data_dir.parent / name
    shutil.copy(settings.warehouse_path, copy)
    return copy


def _builds(settings: Settings) -> list[tuple]:
    return query(
        settings,
        "select model_name, rebuilt_everything, rebuilt_from from main.incremental_builds "
        "where built_at = (select max(built_at) from main.incremental_builds) "
        "order by model_name",
    )


def _generate(users: int, days: int, seed: int) -> None:
    arguments = ["--users", str(users), "--days", str(days), "--seed", str(seed), "--tracks", "500"]
    assert main(["generate", *arguments]) == 0


def test_an_incremental_run_equals_a_full_refresh(settings: Settings) -> None:
    _generate(users=40, days=28, seed=7)
    assert run_dbt(settings, "build").success
    plays_before = query(settings, "select count(*), max(listen_date) from marts.fct_plays")[0]

    # The next refresh: a new day, late plays from two weeks back, and an export that holds
    # some of the last three weeks' plays again, 20 s later (which makes the generated ones
    # duplicates: the earliest of those lies before every new play).
    landed = append(settings.data_dir, late=True, duplicates=True)
    assert all(rows > 0 for rows in landed.values()), landed
    incremental = run_dbt(settings, "build")
    assert incremental.success, incremental.failures
    # (The warehouse sees the lake as its manifest stood when this build began.)
    late_from = min(
        row[0]
        for row in query(
            settings,
            "select min(plays_from) from staging.stg_lake__loads "
            "where source_file in ('late-plays', 'export', 'next-day')",
        )
    )
    builds = _builds(settings)
    assert {model for model, _, _ in builds} == INCREMENTAL_MODELS
    # Only the window the new loads reach was rebuilt: from their earliest play, less the
    # duplicate-play window (90 s).
    assert all(not everything for _, everything, _ in builds)
    assert {rebuilt_from for _, _, rebuilt_from in builds} == {late_from - timedelta(seconds=90)}
    plays_after = query(settings, "select count(*), max(listen_date) from marts.fct_plays")[0]
    duplicates = query(settings, "select count(*) from marts.fct_duplicate_plays")[0][0]
    assert duplicates >= landed["export duplicates"]
    new_plays = landed["next day"] + landed["late plays"] + landed["export duplicates"]
    assert plays_after[0] == plays_before[0] + new_plays - duplicates
    assert plays_after[1] > plays_before[1]

    incremental_copy = _snapshot(settings, "incremental.duckdb")
    assert run_dbt(settings, "run", "--full-refresh").success
    differences = _differences(incremental_copy, _snapshot(settings, "full_refresh.duckdb"))
    assert set(differences) >= INCREMENTAL_MODELS
    assert {table: diff for table, diff in differences.items() if diff[1:] != (0, 0)} == {}
    assert all(differences[table][0] > 0 for table in INCREMENTAL_MODELS)

    # Nothing new: an incremental run rebuilds nothing and changes nothing.
    assert run_dbt(settings, "run").success
    assert {(everything, rebuilt_from) for _, everything, rebuilt_from in _builds(settings)} == {
        (False, None)
    }
    incremental_copy = _snapshot(settings, "incremental.duckdb")
    assert run_dbt(settings, "run", "--full-refresh").success
    differences = _differences(incremental_copy, _snapshot(settings, "full_refresh.duckdb"))
    assert {table: diff for table, diff in differences.items() if diff[1:] != (0, 0)} == {}


def test_a_time_zone_change_rebuilds_everything_and_still_equals_a_full_refresh(
    settings: Settings,
) -> None:
    _generate(users=20, days=15, seed=5)
    assert run_dbt(settings, "seed").success
    assert run_dbt(settings, "run").success
    user_id, zone = query(
        settings, "select user_id, time_zone from staging.stg_lake__user_profiles limit 1"
    )[0]
    moved_to = "Pacific/Auckland" if zone != "Pacific/Auckland" else "America/Los_Angeles"
    profile = pa.table(
        {"user_id": [user_id], "time_zone": [moved_to], "set_at": [datetime(2026, 11, 1)]}
    )
    Lake(settings.data_dir / "lake").land(
        ReadResult(
            kind="user-profile",
            path=settings.data_dir / "profile",
            rows_in=1,
            tables={"user_profiles": profile.cast(ENTITIES["user_profiles"])},
            checksum="moved",
        )
    )
    assert run_dbt(settings, "run").success
    # Deduplication does not depend on time zones: only what does is rebuilt, all of it.
    assert {(model, everything) for model, everything, _ in _builds(settings)} == {
        (model, model != "int_plays_deduplicated") for model in INCREMENTAL_MODELS
    }
    assert query(
        settings, "select distinct time_zone from marts.fct_plays where user_id = ?", [user_id]
    ) == [(moved_to,)]
    incremental_copy = _snapshot(settings, "incremental.duckdb")
    assert run_dbt(settings, "run", "--full-refresh").success
    differences = _differences(incremental_copy, _snapshot(settings, "full_refresh.duckdb"))
    assert {table: diff for table, diff in differences.items() if diff[1:] != (0, 0)} == {}


def test_a_restated_time_zone_is_not_landed_again(settings: Settings) -> None:
    lake = Lake(settings.data_dir / "lake")

    def land(zone: str, set_at: datetime, name: str):
        profile = pa.table({"user_id": ["u1"], "time_zone": [zone], "set_at": [set_at]})
        return lake.land(
            ReadResult(
                kind="user-profile",
                path=settings.data_dir / name,
                rows_in=1,
                tables={"user_profiles": profile.cast(ENTITIES["user_profiles"])},
                checksum=name,
            )
        )

    first = land("Europe/Berlin", datetime(2026, 1, 1), "first")
    again = land("Europe/Berlin", datetime(2026, 2, 1), "again")
    moved = land("Asia/Tokyo", datetime(2026, 3, 1), "moved")
    assert (first.entity_rows, again.entity_rows, moved.entity_rows) == (
        {"user_profiles": 1},
        {"user_profiles": 0},
        {"user_profiles": 1},
    )
    assert again.notes == ["1 time zone(s) already in effect, not landed again"]
    manifest = lake.manifest().sort_by("started_at").to_pylist()
    assert [row["entities"] for row in manifest] == ["user_profiles", "", "user_profiles"]
    assert {row["plays_from"] for row in manifest} == {None}


def _one_play(user_id: str, track_id: str, played_at: datetime, play_id: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "play_id": play_id, "user_id": user_id, "track_id": track_id,
                "played_at": played_at, "played_at_precision": "second", "play_seq": 0,
                "ms_played": 200_000, "content_type": "music",
            }
        ],
        schema=ENTITIES["plays"],
    )  # fmt: skip


def land_a_day_a_better_source_empties(settings: Settings) -> tuple[str, datetime]:
    """A listener's only play of a day, from the Web API at 23:59:40 UTC; later, an export
    holding the same listen at 00:00:10 the next day. The export's play is the better one, so
    the day has no play left: every incremental model must lose the day, as a full build has
    it. (A strategy that replaces only the keys of the new rows would keep it.)"""
    lake = Lake(settings.data_dir / "lake")
    track_id = min(lake.known_values("tracks", "track_id"))
    first = datetime(2024, 5, 6, 23, 59, 40)
    lake.land(
        ReadResult(
            kind="spotify-api",
            path=settings.data_dir / "api-poll",
            rows_in=1,
            tables={"plays": _one_play("lonely", track_id, first, "api-1")},
            checksum="api-poll",
        )
    )
    return track_id, first


def land_the_better_source(settings: Settings, track_id: str, first: datetime) -> None:
    Lake(settings.data_dir / "lake").land(
        ReadResult(
            kind="spotify-export",
            path=settings.data_dir / "export",
            rows_in=1,
            tables={"plays": _one_play("lonely", track_id, first + timedelta(seconds=30), "x-1")},
            checksum="export",
        )
    )


def test_a_day_a_better_source_empties_is_emptied_incrementally(settings: Settings) -> None:
    _generate(users=10, days=15, seed=11)
    assert run_dbt(settings, "build").success
    track_id, first = land_a_day_a_better_source_empties(settings)
    assert run_dbt(settings, "run").success
    lonely_days = "select listen_date from marts.fct_daily_listening where user_id = 'lonely'"
    assert query(settings, lonely_days) == [(first.date(),)]

    land_the_better_source(settings, track_id, first)
    assert run_dbt(settings, "run").success
    assert query(settings, lonely_days) == [(first.date() + timedelta(days=1),)]
    assert query(
        settings, "select play_id from marts.fct_duplicate_plays where user_id = 'lonely'"
    ) == [("api-1",)]
    incremental_copy = _snapshot(settings, "incremental.duckdb")
    assert run_dbt(settings, "run", "--full-refresh").success
    differences = _differences(incremental_copy, _snapshot(settings, "full_refresh.duckdb"))
    assert {table: diff for table, diff in differences.items() if diff[1:] != (0, 0)} == {}
