"""A refresh's data tests read what changed since the last passing build, and nothing less:
a defect in a new load fails it, and every refresh after, until a build passes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ingest.lake.landing import Lake
from spotiflow.cli import main
from spotiflow.errors import BuildError
from spotiflow.settings import Settings
from spotiflow.simulate.append_day import append
from spotiflow.warehouse import publish
from spotiflow.warehouse.build import build
from tests.support.helpers import dbt_target, land_a_play_twice_under_one_id

DUPLICATE_PLAY_WINDOW = timedelta(seconds=90)  # var duplicate_play_window_seconds


def _compiled(folder: str, name: str) -> str:
    # Compiled tests of the last dbt call (dbt's target folder).
    return (dbt_target() / "run" / "spotiflow" / folder / f"{name}.sql").read_text()


def _where_of(sql: str, relation: str) -> str | None:
    """The filter a compiled test reads `relation` through; None when it reads every row."""
    marker = f'"{relation}" where '
    if marker not in sql:
        assert f'"{relation}"' in sql
        return None
    return sql.split(marker, 1)[1].split(") dbt_subquery", 1)[0]


@pytest.fixture
def built(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A generated population, built twice by `spotiflow build` (both build places passed)."""
    monkeypatch.delenv("SPOTIPY_CLIENT_ID", raising=False)
    arguments = ["--users", "12", "--days", "15", "--seed", "5", "--tracks", "300"]
    assert main(["generate", *arguments]) == 0
    build(settings, run_checks=False)
    build(settings, run_checks=False)
    return settings


def _newest_load(settings: Settings) -> dict:
    manifest = Lake(settings.lake_dir).manifest().to_pylist()
    return max(manifest, key=lambda row: row["finished_at"])


STG_PLAYS = "models/staging/lake/_lake__models.yml"
# The staged plays' grain: a load lands a play once (its copies in other loads are repeats).
UNIQUE_PLAYS = "unique_combination_of_columns_stg_lake__plays_play_id__load_id"


def test_a_refresh_tests_the_plays_of_new_loads_and_a_build_every_play(built: Settings) -> None:
    # A refresh just after a passing build: nothing is new, nothing is read.
    build(built, run_checks=False, new_data_only=True)
    unique_plays = _compiled(STG_PLAYS, UNIQUE_PLAYS)
    assert _where_of(unique_plays, "stg_lake__plays") == "1 = 0"

    landed = append(built.data_dir)["next day"]
    assert landed > 0
    plays_from = _newest_load(built)["plays_from"]
    build(built, run_checks=False, new_data_only=True)
    # From the new load's earliest play, less the window in which a play can repeat it.
    bound = (plays_from - DUPLICATE_PLAY_WINDOW).strftime("%Y-%m-%d %H:%M:%S")
    expected = f"(played_at >= cast('{bound}' as timestamp) or played_at is null)"
    unique_plays = _compiled(STG_PLAYS, UNIQUE_PLAYS)
    assert _where_of(unique_plays, "stg_lake__plays") == expected
    # No recommendation run is new: none of the runs' rows is read.
    runs = _compiled(STG_PLAYS, "not_null_stg_lake__recommendations_run_id")
    assert _where_of(runs, "stg_lake__recommendations") == "1 = 0"
    # The rows the marts' play tests read start no later: fct_plays rebuilt from there.
    marts = _compiled("models/marts/fct_plays.yml", "unique_fct_plays_play_id")
    marts_bound = _where_of(marts, "fct_plays")
    assert marts_bound is not None and marts_bound <= expected
    counted = (
        dbt_target() / "run/spotiflow/tests/data/singular/every_staged_play_is_counted_once.sql"
    ).read_text()
    assert counted.count(f"where {marts_bound}") == 3

    # `spotiflow build` (the same without new_data_only) reads every row.
    build(built, run_checks=False)
    unique_plays = _compiled(STG_PLAYS, UNIQUE_PLAYS)
    assert _where_of(unique_plays, "stg_lake__plays") is None
    counted = (
        dbt_target() / "run/spotiflow/tests/data/singular/every_staged_play_is_counted_once.sql"
    ).read_text()
    assert "played_at >=" not in counted


def test_a_defect_in_a_new_load_fails_every_refresh_until_a_build_passes(
    built: Settings,
) -> None:
    before = publish.published(built)
    load_id = land_a_play_twice_under_one_id(built)
    for _ in range(2):  # the second refresh brings nothing new: the defect is still untested
        with pytest.raises(BuildError, match=UNIQUE_PLAYS):
            build(built, run_checks=False, new_data_only=True)
        assert publish.published(built) == before
    # Withdrawn, the load leaves the lake; the next refresh rebuilds without it, and passes.
    assert main(["forget", load_id, "--no-build"]) == 0
    build(built, run_checks=False, new_data_only=True)
    assert publish.published(built) != before
