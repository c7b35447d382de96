"""The semantic layer: valid under `dbt parse`, and `mf query` answers as the marts do."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spotiflow.settings import Settings
from tests.support.helpers import PROJECT_DIR, demo_artifacts, query

MF = Path(sys.executable).with_name("mf")


def mf_query(settings: Settings, tmp_path: Path, *args: str) -> list[dict]:
    """Run `mf query` on the settings' warehouse and read its CSV answer."""
    out = tmp_path / "answer.csv"
    # mf reads <project>/target/semantic_manifest.json whatever DBT_TARGET_PATH says: the
    # demo build's (kept apart from a pytest-xdist worker's own dbt target) is put there.
    semantic_manifest = demo_artifacts(settings) / "semantic_manifest.json"
    expected = PROJECT_DIR / "target" / "semantic_manifest.json"
    if semantic_manifest != expected:
        expected.parent.mkdir(exist_ok=True)
        copying = expected.with_name(f".{expected.name}.{os.getpid()}")
        shutil.copyfile(semantic_manifest, copying)
        os.replace(copying, expected)
    env = {
        **os.environ,
        "SPOTIFLOW_DATA_DIR": str(settings.data_dir),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_TARGET": settings.dbt_target,
    }
    completed = subprocess.run(
        [str(MF), "query", *args, "--csv", str(out)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    with out.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _number(value: str) -> float | None:
    return float(value) if value not in ("", None) else None


def test_the_semantic_manifest_names_the_metrics(demo_settings: Settings) -> None:
    manifest = json.loads((demo_artifacts(demo_settings) / "semantic_manifest.json").read_text())
    metrics = {metric["name"] for metric in manifest["metrics"]}
    assert {
        "plays", "minutes_listened", "energy_score", "musicality_score", "positivity_score",
        "skip_rate", "completion_rate", "hit_rate", "ndcg_at_k", "mean_reciprocal_rank",
        "graded_ndcg_at_k", "map_at_k", "mean_average_precision", "r_precision",
    } <= metrics  # fmt: skip
    assert manifest["project_configuration"]["time_spines"][0]["node_relation"]["alias"] == (
        "dim_dates"
    )


def test_weekly_plays_and_minutes_equal_the_marts(demo_settings: Settings, tmp_path: Path) -> None:
    rows = mf_query(
        demo_settings,
        tmp_path,
        "--metrics", "plays,minutes_listened",
        "--group-by", "metric_time__week",
        "--order", "metric_time__week",
    )  # fmt: skip
    expected = {
        str(week): (plays, minutes)
        for week, plays, minutes in query(
            demo_settings,
            "select week_start, sum(plays), sum(minutes_listened) from marts.fct_weekly_listening "
            "group by week_start",
        )
    }
    answered = {row["metric_time__week"][:10]: row for row in rows if _number(row["plays"])}
    assert set(answered) == set(expected)
    for week, (plays, minutes) in expected.items():
        assert _number(answered[week]["plays"]) == plays
        assert _number(answered[week]["minutes_listened"]) == pytest.approx(minutes, rel=1e-9)


def test_population_scores_are_over_plays(demo_settings: Settings, tmp_path: Path) -> None:
    [row] = mf_query(
        demo_settings, tmp_path, "--metrics", "energy_score,positivity_score,skip_rate"
    )
    [(danceability, energy, liveness, valence, skip_rate)] = query(
        demo_settings,
        "select avg(case when is_music_stream then danceability end), "
        "avg(case when is_music_stream then energy end), "
        "avg(case when is_music_stream then liveness end), "
        "avg(case when is_music_stream then valence end), "
        "avg(case when content_type = 'music' then cast(is_skipped as int) end) "
        "from marts.fct_plays",
    )
    assert _number(row["energy_score"]) == pytest.approx((danceability + energy + liveness) / 3)
    assert _number(row["positivity_score"]) == pytest.approx(valence)
    assert _number(row["skip_rate"]) == pytest.approx(skip_rate)


def test_hit_rate_per_model_equals_the_model_mart(demo_settings: Settings, tmp_path: Path):
    rows = mf_query(
        demo_settings,
        tmp_path,
        "--metrics", "hit_rate,ndcg_at_k",
        "--group-by", "recommendation_list__model_name,recommendation_list__model_version",
    )  # fmt: skip
    answered = {
        (row["recommendation_list__model_name"], row["recommendation_list__model_version"]): row
        for row in rows
    }
    performance = query(
        demo_settings,
        "select model_name, model_version, hit_rate, mean_ndcg_at_k "
        "from marts.fct_model_performance",
    )
    assert len(performance) == len(answered) == 3
    for name, version, hit_rate, ndcg in performance:
        assert _number(answered[(name, version)]["hit_rate"]) == pytest.approx(hit_rate, rel=1e-9)
        assert _number(answered[(name, version)]["ndcg_at_k"]) == pytest.approx(ndcg, rel=1e-9)
