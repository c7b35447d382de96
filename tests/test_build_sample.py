"""The bundled sample end to end: marts equal the original workbook's formulas on the CSV."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from statistics import fmean

import pyarrow.parquet as pq
import pytest

from ingest.identity import surrogate_track_id
from ingest.sources.text import repair_text
from spotiflow.cli import main
from spotiflow.settings import Settings
from tests.support.helpers import SAMPLE_CATALOG, SAMPLE_CSV, make_settings, query, sample_user_id

FEATURES = ("acousticness", "danceability", "energy", "instrumentalness", "liveness",
            "speechiness", "valence")  # fmt: skip


def _csv_rows() -> list[dict]:
    with SAMPLE_CSV.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _workbook_vibe(avg_valence: float) -> str:
    # The original workbook's calculated field, as written there.
    if avg_valence < 0.25:
        return "Is Everything Okay?"
    if avg_valence < 0.5:
        return "Slightly Sad"
    if avg_valence < 0.75:
        return "Feeling Great"
    return "A Little Too Happy"


def test_every_csv_row_is_a_play(demo_settings: Settings) -> None:
    user = [sample_user_id(demo_settings)]
    assert query(
        demo_settings,
        "select count(*), count(distinct play_id) from marts.fct_plays where user_id = ?",
        user,
    ) == [(1350, 1350)]
    by_day = dict(
        query(
            demo_settings,
            "select listen_date, count(*) from marts.fct_plays where user_id = ? group by 1",
            user,
        )
    )
    expected = Counter(date.fromisoformat(row["Day_Played"]) for row in _csv_rows())
    assert by_day == dict(expected)


def test_daily_listening_equals_the_workbook_formulas(demo_settings: Settings) -> None:
    days: dict[date, list[dict]] = defaultdict(list)
    for row in _csv_rows():
        days[date.fromisoformat(row["Day_Played"])].append(row)
    marts = {
        row[0]: row[1:]
        for row in query(
            demo_settings,
            "select listen_date, plays, minutes_listened, energy_score, musicality_score, "
            "positivity_score, listening_vibe from marts.fct_daily_listening where user_id = ?",
            [sample_user_id(demo_settings)],
        )
    }
    assert set(marts) == set(days)
    for day, rows in days.items():

        def avg(name: str, rows: list[dict] = rows) -> float:
            return fmean(float(row[name]) for row in rows)

        expected = (
            len(rows),
            sum(float(row["duration_ms"]) / 1000 / 60 for row in rows),
            (avg("danceability") + avg("energy") + avg("liveness")) / 3,
            (avg("acousticness") + avg("instrumentalness")) / 2,
            avg("valence"),
        )
        plays, minutes, energy, musicality, positivity, vibe = marts[day]
        assert plays == expected[0]
        assert (minutes, energy, musicality, positivity) == pytest.approx(expected[1:], abs=1e-9)
        assert vibe == _workbook_vibe(avg("valence"))


def test_weekly_top_songs_rank_by_plays_then_minutes_then_id(demo_settings: Settings) -> None:
    weeks: dict[date, Counter] = defaultdict(Counter)
    minutes: dict[tuple, float] = defaultdict(float)
    for row in _csv_rows():
        played = date.fromisoformat(row["Day_Played"])
        week = played - timedelta(days=played.weekday())
        weeks[week][row["Track ID"]] += 1
        minutes[(week, row["Track ID"])] += float(row["duration_ms"]) / 60000
    for week, counts in weeks.items():
        expected = sorted(counts, key=lambda t: (-counts[t], -round(minutes[(week, t)], 9), t))
        ranked = query(
            demo_settings,
            "select track_id, plays from marts.fct_weekly_top_songs where week_start = ? "
            "and user_id = ? order by song_rank",
            [week, sample_user_id(demo_settings)],
        )
        assert [t for t, _ in ranked] == expected
        assert [p for _, p in ranked] == [counts[t] for t in expected]


def _features_by_track() -> dict[str, dict[str, float]]:
    features = {row["Track ID"]: {f: float(row[f]) for f in FEATURES} for row in _csv_rows()}
    with SAMPLE_CATALOG.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            # Ids are derived from the names as repaired at the door.
            name, artist = repair_text(row["track_name"]), repair_text(row["artist(s)_name"])
            track_id = surrogate_track_id(name, artist)
            # A track repeated in the catalog keeps its first row's values.
            features.setdefault(track_id, {f: int(row[f"{f}_%"]) / 100 for f in FEATURES})
    return features


def test_predicted_vs_actual_has_seven_features_per_top_song(demo_settings: Settings) -> None:
    groups = query(
        demo_settings,
        "select user_id, week_start, model_name, model_version, top_song_index, count(*) "
        "from marts.fct_predicted_vs_actual where user_id = ? group by all",
        [sample_user_id(demo_settings)],
    )
    assert len(groups) == 10  # 2 weeks x top 5 songs, one model
    assert {row[-1] for row in groups} == {7}
    assert {row[4] for row in groups} == {1, 2, 3, 4, 5}


def test_predicted_value_is_the_mean_of_the_recommended_tracks(demo_settings: Settings) -> None:
    features = _features_by_track()
    # The demo's generated population adds its catalog, which the recommender may pick from.
    for path in (demo_settings.lake_dir / "audio_features").glob("*generated*.parquet"):
        for row in pq.read_table(path).to_pylist():
            features[row["track_id"]] = {f: row[f] for f in FEATURES}
    outputs = list((demo_settings.models_output_dir).glob("*.parquet"))
    assert len(outputs) == 1
    lists: dict[tuple, list[str]] = defaultdict(list)
    user = sample_user_id(demo_settings)
    for rec in pq.read_table(outputs[0]).to_pylist():
        if rec["user_id"] != user:
            continue
        week = (rec["generated_at"] - timedelta(days=7)).date()
        lists[(week, rec["seed_track_id"])].append(rec["recommended_track_id"])
    rows = query(
        demo_settings,
        "select week_start, track_id, audio_feature, predicted_value, actual_value, difference "
        "from marts.fct_predicted_vs_actual where user_id = ?",
        [user],
    )
    assert len(rows) == 70
    for week, seed, feature, predicted, actual, difference in rows:
        recommended = lists[(week, seed)]
        assert len(recommended) == 5 and seed not in recommended
        assert predicted == pytest.approx(
            fmean(features[t][feature] for t in recommended), abs=1e-12
        )
        assert actual == pytest.approx(features[seed][feature], abs=1e-12)
        assert difference == pytest.approx(predicted - actual, abs=1e-12)


def _marts_fingerprint(settings: Settings) -> dict[str, str]:
    tables = [
        name for (name,) in query(
            settings,
            "select table_name from information_schema.tables where table_schema = 'marts'",
        )
    ]  # fmt: skip
    fingerprint = {}
    for table in sorted(tables):
        if table == "fct_loads":
            rows = query(settings, f"select * exclude (started_at, finished_at) from marts.{table}")
        else:
            rows = query(settings, f"select * from marts.{table}")
        fingerprint[table] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    return fingerprint


def test_running_the_demo_again_changes_no_mart(demo_settings: Settings, monkeypatch) -> None:
    before = _marts_fingerprint(demo_settings)
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(demo_settings.data_dir))
    assert main(["demo"]) == 0
    assert _marts_fingerprint(demo_settings) == before
    assert query(
        demo_settings,
        "select count(*) from marts.fct_plays where user_id = ?",
        [sample_user_id(demo_settings)],
    ) == [(1350,)]


def test_rejects_are_queryable_and_overlapping_files_do_not_duplicate_plays(
    tmp_path: Path, monkeypatch
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(data_dir))
    settings = make_settings(data_dir)
    # A second export that repeats the sample and adds one more play: a new checksum, a new load.
    overlapping = tmp_path / "overlapping.csv"
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    overlapping.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    from tests.support.helpers import FIXTURES

    for path in (SAMPLE_CSV, overlapping, FIXTURES / "legacy_bad_rows.csv"):
        assert main(["ingest", "legacy-csv", str(path), "--user", "alice"]) == 0
    assert main(["build", "--no-checks"]) == 0
    assert query(settings, "select count(*) from marts.fct_plays") == [(1351,)]
    loads = query(
        settings,
        "select source_file, rows_in, rows_landed, rows_rejected from marts.fct_loads order by 1",
    )
    assert loads == [
        ("legacy_bad_rows.csv", 8, 3, 5),
        ("listening_history.csv", 1350, 1350, 0),
        ("overlapping.csv", 1351, 1351, 0),
    ]
    rejected = query(
        settings, "select source_file, source_line, reason from marts.fct_rejected_rows order by 2"
    )
    assert [row[1] for row in rejected] == [4, 5, 6, 7, 8]
    assert rejected[0] == (
        "legacy_bad_rows.csv",
        4,
        "Day_Played '04/09/2024' is not a date (YYYY-MM-DD)",
    )
