"""Incremental builds: after new loads, `dbt run` gives exactly the rows of a full refresh."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from ingest.lake.landing import Lake
from ingest.lake.records import ReadResult
from ingest.lake.schemas import ENTITIES
from spotiflow.cli import main
from spotiflow.settings import Settings
from spotiflow.simulate.append_day import append
from spotiflow.warehouse.dbt import run_dbt
from tests.support.engine_parity import INCREMENTAL_MODELS, differences, snapshot
from tests.support.helpers import query
from tests.support.incremental import (
    LONELY_PLAYED_AT,
    land_a_day_a_better_source_empties,
    land_the_better_source,
    lonely_listener,
)


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


# The models downstream of recommendation runs, which rebuild the local weeks a rebuilt run's
# lists answer for.
RUN_CHAIN = ("int_recommendation_lists_matched", "fct_predicted_vs_actual",
             "fct_prediction_similarity", "int_recommendation_lists_scored")  # fmt: skip


def _land_a_new_run_and_a_corrected_one(settings: Settings) -> tuple[str, str]:
    """A recommender's output file as a team lands it (CSV, the reader's columns): a new run
    for the latest week's top songs, and a corrected list of a run already landed (the run
    is then whole from both loads). Returns the two run ids."""
    week_start, user_id, seed = query(
        settings,
        "select week_start, user_id, track_id from marts.fct_weekly_top_songs "
        "where song_rank = 1 order by week_start desc, user_id limit 1",
    )[0]
    tracks = [row[0] for row in query(
        settings, "select track_id from marts.dim_tracks order by track_id limit 6"
    )]  # fmt: skip
    old_run, old_user, old_seed, old_model, old_version, old_at = query(
        settings,
        "select run_id, user_id, seed_track_id, model_name, model_version, generated_at "
        "from staging.stg_lake__recommendations order by generated_at, run_id limit 1",
    )[0]
    generated_at = datetime.combine(week_start + timedelta(days=7), datetime.min.time())
    rows = [
        f"refresh-run,knn,9,,{generated_at:%Y-%m-%dT%H:%M:%SZ},{user_id},{seed},{rank},{track},0.5"
        for rank, track in enumerate(tracks[:3], start=1)
    ] + [
        f"{old_run},{old_model},{old_version},,{old_at:%Y-%m-%dT%H:%M:%SZ},{old_user},"
        f"{old_seed},{rank},{track},0.25"
        for rank, track in enumerate(tracks[3:], start=1)
    ]
    path = settings.data_dir / "recommendations.csv"
    header = "run_id,model_name,model_version,variant,generated_at,user_id,seed_track_id,rank"
    path.write_text(
        "\n".join([header + ",recommended_track_id,score", *rows]) + "\n", encoding="utf-8"
    )
    assert main(["ingest", "recommendations", str(path)]) == 0
    return "refresh-run", old_run


def test_an_incremental_run_equals_a_full_refresh(settings: Settings) -> None:
    _generate(users=40, days=28, seed=7)
    assert run_dbt(settings, "build").success
    plays_before = query(settings, "select count(*), max(listen_date) from marts.fct_plays")[0]

    # The next refresh: a new day, late plays from two weeks back, and an export that holds
    # some of the last three weeks' plays again, 20 s later (which makes the generated ones
    # duplicates: the earliest of those lies before every new play).
    landed = append(settings.data_dir, late=True, duplicates=True)
    assert all(rows > 0 for rows in landed.values()), landed
    rebuilt_runs = _land_a_new_run_and_a_corrected_one(settings)
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
    # duplicate-play window (90 s); the recommendation runs they bring, whole, and the weeks
    # downstream from the earliest list of those runs, where that is earlier.
    assert all(not everything for _, everything, _ in builds)
    plays_window = late_from - timedelta(seconds=90)
    (runs_from,) = query(
        settings,
        "select min(generated_at) from staging.stg_lake__recommendations where run_id in (?, ?)",
        list(rebuilt_runs),
    )[0]
    assert runs_from is not None
    expected = {model: plays_window for model in INCREMENTAL_MODELS}
    expected["int_recommendations_positioned"] = runs_from
    for model in RUN_CHAIN:
        expected[model] = min(plays_window, runs_from)
    assert {model: rebuilt_from for model, _, rebuilt_from in builds} == expected
    plays_after = query(settings, "select count(*), max(listen_date) from marts.fct_plays")[0]
    duplicates = query(settings, "select count(*) from marts.fct_duplicate_plays")[0][0]
    assert duplicates >= landed["export duplicates"]
    new_plays = landed["next day"] + landed["late plays"] + landed["export duplicates"]
    assert plays_after[0] == plays_before[0] + new_plays - duplicates
    assert plays_after[1] > plays_before[1]

    incremental = snapshot(settings, intermediate=None)
    assert run_dbt(settings, "run", "--full-refresh").success
    full = snapshot(settings, intermediate=None)
    assert set(full) >= INCREMENTAL_MODELS
    assert differences(incremental, full) == {}
    assert all(full[table].num_rows > 0 for table in INCREMENTAL_MODELS)

    # Nothing new: an incremental run rebuilds nothing and changes nothing.
    assert run_dbt(settings, "run").success
    assert {(everything, rebuilt_from) for _, everything, rebuilt_from in _builds(settings)} == {
        (False, None)
    }
    incremental = snapshot(settings, intermediate=None)
    assert run_dbt(settings, "run", "--full-refresh").success
    full = snapshot(settings, intermediate=None)
    assert differences(incremental, full) == {}


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
    # Deduplication and recommendation runs do not depend on time zones: only what does is
    # rebuilt, all of it.
    unaffected = {"int_plays_deduplicated", "int_recommendations_positioned"}
    assert {(model, everything) for model, everything, _ in _builds(settings)} == {
        (model, model not in unaffected) for model in INCREMENTAL_MODELS
    }
    assert query(
        settings, "select distinct time_zone from marts.fct_plays where user_id = ?", [user_id]
    ) == [(moved_to,)]
    incremental = snapshot(settings, intermediate=None)
    assert run_dbt(settings, "run", "--full-refresh").success
    full = snapshot(settings, intermediate=None)
    assert differences(incremental, full) == {}


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


def test_a_day_a_better_source_empties_is_emptied_incrementally(settings: Settings) -> None:
    _generate(users=10, days=15, seed=11)
    assert run_dbt(settings, "build").success
    land_a_day_a_better_source_empties(settings)
    assert run_dbt(settings, "run").success
    user_id, first = lonely_listener(settings), LONELY_PLAYED_AT
    lonely_days = "select listen_date from marts.fct_daily_listening where user_id = ?"
    assert query(settings, lonely_days, [user_id]) == [(first.date(),)]

    land_the_better_source(settings)
    assert run_dbt(settings, "run").success
    assert query(settings, lonely_days, [user_id]) == [(first.date() + timedelta(days=1),)]
    assert query(
        settings,
        "select source, duplicate_reason from marts.fct_duplicate_plays where user_id = ?",
        [user_id],
    ) == [("spotify-api", "cross_source")]
    incremental = snapshot(settings, intermediate=None)
    assert run_dbt(settings, "run", "--full-refresh").success
    full = snapshot(settings, intermediate=None)
    assert differences(incremental, full) == {}
