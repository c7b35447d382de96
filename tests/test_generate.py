"""`spotiflow generate`: deterministic, idempotent, batched, and landed like any source."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ingest.lake.landing import Lake
from ingest.lake.schemas import LINEAGE_FIELDS
from spotiflow.cli import main
from spotiflow.settings import Settings
from spotiflow.simulate import params as generator_params
from spotiflow.simulate.params import CONTROL_VARIANT, LIST_LENGTH, MODELS, GeneratorParams
from spotiflow.simulate.run import generate

SMALL = GeneratorParams.create(users=12, days=22, seed=3, tracks=400)


def _entity(lake_dir: Path, entity: str) -> pa.Table:
    files = [p for p in sorted((lake_dir / entity).glob("*.parquet")) if p.name[0] != "_"]
    table = pa.concat_tables([pq.read_table(path) for path in files])
    lineage = [field.name for field in LINEAGE_FIELDS]
    table = table.drop_columns(lineage)
    return table.sort_by([(name, "ascending") for name in table.column_names[:4]])


def _land(lake_dir: Path, params: GeneratorParams) -> list:
    return generate(Lake(lake_dir), params, lambda report, rate: None)


def test_the_same_parameters_generate_the_same_rows(tmp_path: Path) -> None:
    _land(tmp_path / "one", SMALL)
    _land(tmp_path / "two", SMALL)
    for entity in ("plays", "recommendations", "tracks", "audio_features", "user_profiles"):
        assert _entity(tmp_path / "one", entity).equals(_entity(tmp_path / "two", entity)), entity
    other_seed = GeneratorParams.create(users=12, days=22, seed=4, tracks=400)
    _land(tmp_path / "three", other_seed)
    assert not _entity(tmp_path / "one", "plays").equals(_entity(tmp_path / "three", "plays"))


def test_generating_again_lands_nothing_new(tmp_path: Path) -> None:
    first = _land(tmp_path, SMALL)
    again = _land(tmp_path, SMALL)
    assert not any(report.already_landed for report in first)
    assert all(report.already_landed for report in again)
    assert len(list((tmp_path / "loads").glob("2*.parquet"))) == len(first)


def test_a_generated_population_is_whole_and_consistent(tmp_path: Path) -> None:
    _land(tmp_path, SMALL)
    plays = _entity(tmp_path, "plays")
    key = ["user_id", "track_id", "played_at", "play_seq"]
    assert plays.group_by(key).aggregate([]).num_rows == plays.num_rows
    assert pc.count_distinct(plays["play_id"]).as_py() == plays.num_rows
    assert pc.min(plays["ms_played"]).as_py() > 0
    assert set(plays["content_type"].to_pylist()) == {"music"}
    tracks = set(_entity(tmp_path, "tracks")["track_id"].to_pylist())
    assert set(plays["track_id"].to_pylist()) <= tracks

    lists = _entity(tmp_path, "recommendations").to_pylist()
    assignments = {
        row["user_id"]: (row["variant"], row["assigned_at"])
        for row in _entity(tmp_path, "experiment_assignments").to_pylist()
    }
    assert len(assignments) == SMALL.users
    by_list: dict[tuple, list[dict]] = {}
    for row in lists:
        by_list.setdefault((row["run_id"], row["user_id"], row["seed_track_id"]), []).append(row)
    for (_, user_id, seed), rows in by_list.items():
        assert sorted(row["rank"] for row in rows) == list(range(1, LIST_LENGTH + 1))
        recommended = {row["recommended_track_id"] for row in rows}
        assert len(recommended) == LIST_LENGTH and seed not in recommended
        # Before assignment everyone has the control model; from it, their arm's model only.
        variant, assigned_at = assignments[user_id]
        expected = variant if rows[0]["generated_at"] >= assigned_at else CONTROL_VARIANT
        assert {row["variant"] for row in rows} == {expected}
    assert {row["model_version"] for row in lists} == {model.model_version for model in MODELS}
    # Assignment comes after a pre-period of whole weeks (here the last week that seeds lists).
    starts = {assigned_at for _, assigned_at in assignments.values()}
    assert min(starts) >= datetime.combine(SMALL.start, time()) + timedelta(weeks=1)


def test_batches_bound_what_is_held_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    large = GeneratorParams.create(users=2_000_000, days=365, seed=1)
    expected_plays = large.users_per_batch * large.days * generator_params.EXPECTED_PLAYS_PER_DAY
    assert expected_plays <= generator_params.PLAYS_PER_BATCH
    assert sum(count for _, count in large.batches()) == large.users

    monkeypatch.setattr(generator_params, "PLAYS_PER_BATCH", 5 * 22 * 12)
    batched = GeneratorParams.create(users=12, days=22, seed=3, tracks=400)
    assert [count for _, count in batched.batches()] == [5, 5, 2]
    reports = _land(tmp_path, batched)
    assert len(reports) == 1 + 3
    plays = _entity(tmp_path, "plays")
    assert pc.count_distinct(plays["user_id"]).as_py() == 12
    assert pc.count_distinct(plays["play_id"]).as_py() == plays.num_rows


def test_the_cli_generates_and_refuses_bad_sizes(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--users", "5", "--days", "15", "--tracks", "300", "--start", "2026-06-03"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "5 listeners, 15 days from 2026-06-01 (a Monday)" in out
    assert "rows/s" in out and "0 rejected" in out
    assert main(argv) == 0
    assert "nothing new landed" in capsys.readouterr().out

    assert main(["generate", "--users", "0", "--days", "30"]) != 0
    assert "--users must be at least 1" in capsys.readouterr().err
    assert main(["generate", "--users", "3", "--days", "10"]) != 0
    assert "--days must be at least 15" in capsys.readouterr().err
    assert main(["generate", "--users", "3", "--days", "20", "--treatment-share", "1"]) == 2
    assert "--treatment-share must be between 0 and 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "--users", "3", "--days", "20", "--start", "June"])
    assert "expected a date like 2026-06-01" in capsys.readouterr().err
    assert GeneratorParams.create(1, 15, 1, start=date(2026, 6, 7)).start == date(2026, 6, 1)
