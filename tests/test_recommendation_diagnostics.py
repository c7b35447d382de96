"""The recommendation diagnostics marts, recomputed independently in Python on the demo warehouse
(the bundled sample plus a generated population) and held to 1e-9 (p-values to 1e-6).

Each metric is computed here from the plays, tracks and recommendations as the README defines
it, with numpy, pandas and scipy, never by reading the marts' own intermediate results.
"""

from __future__ import annotations

import json
import math
import subprocess
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spotiflow.settings import Settings
from spotiflow.simulate.params import MODELS
from spotiflow.warehouse.duckdb_file import connect
from tests.support.helpers import PROJECT_DIR
from tests.support.macro_checks import (
    TOLERANCE,
    assert_close,
    assert_holm_agrees_with_statsmodels,
    assert_normal_and_chi_square_agree_with_scipy,
    assert_student_t_agrees_with_scipy,
)

K = 10
WINDOW = timedelta(days=7)
EXPERIMENT_DAYS = 28
PRE_PERIOD_DAYS = 21
PVA_K = 5
BUCKETS = 10
FEATURES = [
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "liveness",
    "speechiness",
    "valence",
]
PEERS_PYTHON = PROJECT_DIR / ".venv-peers" / "bin" / "python"
LIST_KEY = ["run_id", "user_id", "seed_track_id"]
MODEL = ["model_name", "model_version", "variant"]


def frame(settings: Settings, sql: str) -> pd.DataFrame:
    with connect(settings) as connection:
        return connection.execute(sql).df()


def compare(mart: pd.DataFrame, expected: pd.DataFrame, keys: list[str], columns: list[str]):
    """Every mart row has an expected row with equal keys and values within the tolerance."""
    assert len(mart) == len(expected)
    mart = mart.fillna({key: "" for key in keys}).set_index(keys).sort_index()
    expected = expected.fillna({key: "" for key in keys}).set_index(keys).sort_index()
    assert list(mart.index) == list(expected.index)
    for column in columns:
        for actual, wanted in zip(mart[column], expected[column], strict=True):
            assert_close(None if pd.isna(actual) else actual, None if pd.isna(wanted) else wanted)


@pytest.fixture(scope="module")
def plays(demo_settings: Settings) -> pd.DataFrame:
    return frame(
        demo_settings,
        "select user_id, track_id, played_at, content_type, is_music_stream, minutes_played, "
        f"completion_ratio, is_skipped, {', '.join(FEATURES)} from marts.fct_plays",
    )


@pytest.fixture(scope="module")
def tracks(demo_settings: Settings) -> pd.DataFrame:
    return frame(
        demo_settings, f"select track_id, popularity, {', '.join(FEATURES)} from marts.dim_tracks"
    )


@pytest.fixture(scope="module")
def positioned(demo_settings: Settings) -> pd.DataFrame:
    """Every list with positions 1, 2, ...: by rank then track id, a repeated track once."""
    lists = frame(demo_settings, "select * from staging.stg_lake__recommendations")
    lists = lists.sort_values(
        [*LIST_KEY, "recommendation_rank", "recommended_track_id"], kind="stable"
    )
    lists = lists.drop_duplicates([*LIST_KEY, "recommended_track_id"], keep="first")
    lists["list_position"] = lists.groupby(LIST_KEY).cumcount() + 1
    return lists


@pytest.fixture(scope="module")
def accuracy(positioned: pd.DataFrame, plays: pd.DataFrame) -> pd.DataFrame:
    """Per list: the relevant set from the window's streams, and every accuracy metric."""
    streams = plays[plays["is_music_stream"] & plays["track_id"].notna()]
    by_user = {
        user: (group["played_at"].to_numpy(), group["track_id"].to_numpy())
        for user, group in streams.sort_values("played_at").groupby("user_id")
    }
    horizon = plays["played_at"].max()
    rows = []
    for key, group in positioned.groupby(LIST_KEY):
        run_id, user_id, seed = key
        generated_at = group["generated_at"].max()
        times, track_ids = by_user.get(user_id, (np.array([], "datetime64[us]"), np.array([])))
        first = np.searchsorted(times, np.datetime64(generated_at), side="right")
        last = np.searchsorted(times, np.datetime64(generated_at + WINDOW), side="right")
        streamed = pd.Series(track_ids[first:last]).value_counts().to_dict()
        streamed.pop(seed, None)
        relevant = set(streamed)
        ranking = list(group.sort_values("list_position")["recommended_track_id"])
        top_k = ranking[:K]
        positions = [p for p, t in enumerate(top_k, 1) if t in relevant]
        ideal = sum(1 / math.log2(i + 1) for i in range(1, min(K, len(relevant)) + 1))
        dcg = sum(1 / math.log2(p + 1) for p in positions)
        rows.append(
            {
                "run_id": run_id,
                "user_id": user_id,
                "seed_track_id": seed,
                "model_name": group["model_name"].iloc[0],
                "model_version": group["model_version"].iloc[0],
                "variant": group["variant"].iloc[0],
                "generated_at": generated_at,
                "is_window_complete": generated_at + WINDOW <= horizon,
                "recommended_tracks": len(top_k),
                "relevant_tracks": len(relevant),
                "hits": len(positions),
                "is_hit": bool(positions),
                "precision_at_k": len(positions) / K,
                "recall_at_k": len(positions) / len(relevant) if relevant else None,
                "ndcg_at_k": dcg / ideal if relevant else None,
                "reciprocal_rank": 1 / min(positions) if positions else 0.0,
                # For the peer (ranx): streams of each relevant track, and the whole list.
                "streams": streamed,
                "ranking": ranking,
            }
        )
    return pd.DataFrame(rows)


ACCURACY_METRICS = ["precision_at_k", "recall_at_k", "ndcg_at_k", "reciprocal_rank"]
# Per list, held to ranx (test_every_list_agrees_with_ranx); the rollups take them from the mart.
NEW_ACCURACY_METRICS = [
    "graded_ndcg_at_k",
    "average_precision_at_k",
    "average_precision",
    "r_precision",
]


def test_every_list_is_judged_as_defined(demo_settings: Settings, accuracy: pd.DataFrame) -> None:
    mart = frame(demo_settings, "select * from marts.fct_recommendation_accuracy")
    compare(
        mart,
        accuracy,
        LIST_KEY,
        ["relevant_tracks", "hits", "recommended_tracks", *ACCURACY_METRICS],
    )
    merged = mart.merge(accuracy, on=LIST_KEY, suffixes=("", "_expected"))
    assert (merged["is_hit"] == merged["is_hit_expected"]).all()
    assert (merged["is_window_complete"] == merged["is_window_complete_expected"]).all()
    # The population exercises every branch: hits, misses, windows without a relevant track.
    assert merged["is_hit"].any() and (~merged["is_hit"]).any()
    assert (merged["relevant_tracks"] > K).any()


# Our column and ranx's metric for it. Mappings (the accuracy_formulas doc): ranx's map@k
# divides by |R| where AP@k divides by min(k, |R|); ranx's ndcg with streams as judgements is
# our graded NDCG, with judgements of 1 our binary one.
PEER_METRICS = {
    "precision_at_k": f"precision@{K}",
    "recall_at_k": f"recall@{K}",
    "graded_ndcg_at_k": f"ndcg@{K}",
    "average_precision_at_k": f"map@{K}",
    "average_precision": "map",
    "r_precision": "r-precision",
    "reciprocal_rank": f"mrr@{K}",
    "is_hit": f"hit_rate@{K}",
}


def test_every_list_agrees_with_ranx(demo_settings: Settings, accuracy: pd.DataFrame) -> None:
    """The peer: ranx 0.3.21 on the same lists and windows (streams as graded judgements).

    ranx judges only queries with a relevant document; a list whose window has none is null in
    the mart for the metrics over R (and 0 for precision, MRR, hit), as the unit tests show.
    """
    from ranx import Qrels, Run, evaluate

    judged = accuracy[accuracy["relevant_tracks"] > 0]
    names = ["|".join(key) for key in judged[LIST_KEY].itertuples(index=False)]
    graded = {name: streams for name, streams in zip(names, judged["streams"], strict=True)}
    binary = {name: dict.fromkeys(streams, 1) for name, streams in graded.items()}
    run = {
        name: {track: float(len(ranking) - i) for i, track in enumerate(ranking)}
        for name, ranking in zip(names, judged["ranking"], strict=True)
    }
    peer = evaluate(Qrels(graded), Run(run), list(PEER_METRICS.values()), return_mean=False)
    expected = {column: peer[metric] for column, metric in PEER_METRICS.items()}
    expected["ndcg_at_k"] = evaluate(Qrels(binary), Run(run), f"ndcg@{K}", return_mean=False)

    mart = frame(demo_settings, "select * from marts.fct_recommendation_accuracy")
    mart = mart.set_index(mart[LIST_KEY].agg("|".join, axis=1)).loc[names]
    relevant = mart["relevant_tracks"].to_numpy()
    assert (relevant == judged["relevant_tracks"].to_numpy()).all()
    ours = {column: mart[column].to_numpy(dtype=float, copy=True) for column in expected}
    ours["average_precision_at_k"] *= np.minimum(relevant, K) / relevant
    for column, values in expected.items():
        assert np.abs(ours[column] - values).max() <= TOLERANCE, column
    # The lists exercise what the mappings are about: |R| beyond k, graded judgements, misses.
    assert (relevant > K).any() and (relevant < K).any()
    assert any(max(streams.values()) > 1 for streams in graded.values())
    assert (mart["hits"] == 0).any()
    # Without a relevant track: null where the metric divides by |R|.
    empty = frame(
        demo_settings,
        "select count(*) from marts.fct_recommendation_accuracy where relevant_tracks = 0 and "
        "(graded_ndcg_at_k is not null or average_precision_at_k is not null "
        "or average_precision is not null or r_precision is not null)",
    )
    assert empty.iloc[0, 0] == 0


def _rollup(lists: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    complete = lists[lists["is_window_complete"]].copy()
    complete["hit"] = complete["is_hit"].astype(float)
    for column in ["recall_at_k", "ndcg_at_k", *NEW_ACCURACY_METRICS]:
        complete[column] = complete[column].astype(float)
    grouped = complete.fillna({"variant": ""}).groupby(keys, dropna=False)
    result = grouped.agg(
        lists=("hit", "size"),
        hit_rate=("hit", "mean"),
        mean_precision_at_k=("precision_at_k", "mean"),
        mean_recall_at_k=("recall_at_k", "mean"),
        mean_ndcg_at_k=("ndcg_at_k", "mean"),
        mean_reciprocal_rank=("reciprocal_rank", "mean"),
        **{f"mean_{column}": (column, "mean") for column in NEW_ACCURACY_METRICS},
    )
    return result.reset_index().replace({"variant": {"": None}})


ROLLUP_METRICS = [
    "lists",
    "hit_rate",
    "mean_precision_at_k",
    "mean_recall_at_k",
    "mean_ndcg_at_k",
    "mean_reciprocal_rank",
    *(f"mean_{column}" for column in NEW_ACCURACY_METRICS),
]


def test_accuracy_rolls_up_per_user_day_and_model(
    demo_settings: Settings, accuracy: pd.DataFrame
) -> None:
    per_list = frame(
        demo_settings,
        f"select {', '.join(LIST_KEY + NEW_ACCURACY_METRICS)} "
        "from marts.fct_recommendation_accuracy",
    )
    accuracy = accuracy.merge(per_list, on=LIST_KEY, validate="one_to_one")
    by_user = frame(demo_settings, "select * from marts.fct_recommendation_accuracy_by_user")
    compare(by_user, _rollup(accuracy, ["user_id", *MODEL]), ["user_id", *MODEL], ROLLUP_METRICS)
    daily = frame(demo_settings, "select * from marts.fct_recommendation_accuracy_daily")
    lists = accuracy.assign(generated_date=accuracy["generated_at"].dt.normalize())
    expected = _rollup(lists, ["generated_date", *MODEL])
    daily["generated_date"] = pd.to_datetime(daily["generated_date"])
    compare(daily, expected, ["generated_date", *MODEL], ROLLUP_METRICS)
    performance = frame(demo_settings, "select * from marts.fct_model_performance")
    compare(performance, _rollup(accuracy, MODEL), MODEL, ROLLUP_METRICS)


def test_list_quality_as_defined(
    demo_settings: Settings, positioned: pd.DataFrame, plays: pd.DataFrame, tracks: pd.DataFrame
) -> None:
    known = tracks[tracks["popularity"].notna()]
    ranks = stats.rankdata(known["popularity"].to_numpy(), method="min")
    percentile = dict(zip(known["track_id"], (ranks - 1) / (len(known) - 1), strict=True))
    features = tracks.set_index("track_id")[FEATURES]
    complete = features.dropna()
    music = plays[(plays["content_type"] == "music") & plays["track_id"].notna()]
    first_played = music.groupby(["user_id", "track_id"])["played_at"].min().to_dict()
    user_streams = music[music["is_music_stream"]]
    user_percentile = (
        user_streams["track_id"].map(percentile).groupby(user_streams["user_id"]).mean().to_dict()
    )
    rows = []
    for key, group in positioned[positioned["list_position"] <= K].groupby(LIST_KEY):
        user_id, generated_at = key[1], group["generated_at"].max()
        ids = list(group["recommended_track_id"])
        vectors = complete.reindex([t for t in ids if t in complete.index]).to_numpy()
        pairs = [
            float(np.sqrt(((vectors[i] - vectors[j]) ** 2).sum()))
            for i in range(len(vectors))
            for j in range(i + 1, len(vectors))
        ]
        new = [
            (user_id, t) not in first_played or first_played[(user_id, t)] >= generated_at
            for t in ids
        ]
        known_percentiles = [percentile[t] for t in ids if t in percentile]
        recommended = np.mean(known_percentiles) if known_percentiles else None
        own = user_percentile.get(user_id)
        rows.append(
            {
                **dict(zip(LIST_KEY, key, strict=True)),
                "recommended_tracks": len(ids),
                "track_pairs": len(pairs),
                "intra_list_diversity": np.mean(pairs) if pairs else None,
                "share_new_to_user": np.mean(new),
                "recommended_popularity_percentile": recommended,
                "user_popularity_percentile": own,
                "popularity_bias": None
                if recommended is None or own is None
                else recommended - own,
            }
        )
    mart = frame(demo_settings, "select * from marts.fct_recommendation_list_quality")
    compare(mart, pd.DataFrame(rows), LIST_KEY, list(rows[0])[3:])

    top_k = positioned[positioned["list_position"] <= K].fillna({"variant": ""})
    coverage = top_k.groupby(MODEL)["recommended_track_id"].nunique() / len(tracks)
    performance = frame(demo_settings, "select * from marts.fct_model_performance")
    for _, row in performance.fillna({"variant": ""}).iterrows():
        assert_close(
            row["catalog_coverage"],
            coverage[
                (row["model_name"], row["model_version"], row["variant"] if row["variant"] else "")
            ],
        )


def _peer(script: str, spec: dict) -> dict:
    """A peer library's answer to the spec (JSON in, JSON out), run by tests/peers/<script> in
    the peers' venv (`make peers`: they need pandas < 3)."""
    assert PEERS_PYTHON.exists(), f"{PEERS_PYTHON} missing: run `make peers`"
    completed = subprocess.run(
        [str(PEERS_PYTHON), str(PROJECT_DIR / "tests" / "peers" / script)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def _recommenders(spec: dict) -> dict:
    """Microsoft Recommenders 1.2.1 on the spec."""
    return _peer("recommenders_list_quality.py", spec)


def test_list_quality_agrees_with_recommenders(
    demo_settings: Settings, positioned: pd.DataFrame, plays: pd.DataFrame, tracks: pd.DataFrame
) -> None:
    """Novelty, serendipity and distributional coverage against Recommenders' own functions.

    Mappings (the list_quality_formulas doc): Recommenders' novelty averages over every track of
    the list, one nobody had played adding 0, so it is ours * tracks_with_popularity / tracks;
    its serendipity needs lists of tracks new to the listener and histories with features.
    """
    top_k = positioned[positioned["list_position"] <= K].fillna({"variant": ""})
    music = plays[(plays["content_type"] == "music") & plays["track_id"].notna()]
    first_played = music.groupby(["user_id", "track_id"], as_index=False)["played_at"].min()
    lists = {
        "|".join(key): (key[1], group["generated_at"].max(), list(group["recommended_track_id"]))
        for key, group in top_k.sort_values("list_position").groupby(LIST_KEY)
    }
    mart = frame(demo_settings, "select * from marts.fct_recommendation_list_quality")
    mart = mart.set_index(mart[LIST_KEY].agg("|".join, axis=1))

    # Novelty: the three days with the most lists, 40 of each; train = the pairs played before.
    day_of = {key: generated_at.normalize() for key, (_, generated_at, _) in lists.items()}
    busiest = pd.Series(day_of).value_counts().sort_index(kind="stable").nlargest(3).index
    novelty_days = []
    for day in sorted(busiest):
        train = first_played[first_played["played_at"] < day]
        keys = sorted(key for key, at in day_of.items() if at == day)
        novelty_days.append(
            {
                "train": train[["user_id", "track_id"]].values.tolist(),
                "lists": {key: lists[key][2] for key in keys[:: max(1, len(keys) // 40)][:40]},
            }
        )

    # Serendipity: the 8 lists of tracks all new to the listener, with the shortest histories.
    features = tracks.set_index("track_id")[FEATURES].dropna()
    history_of = first_played.groupby("user_id")
    candidates = []
    for key, (user_id, generated_at, ids) in lists.items():
        if not all(t in features.index for t in ids):
            continue
        played = history_of.get_group(user_id) if user_id in history_of.groups else None
        if played is None:
            continue
        before = played[played["played_at"] < generated_at]["track_id"]
        history = [t for t in before if t in features.index]
        if history and not set(ids) & set(before):
            candidates.append((len(history), key, history, ids))
    chosen = sorted(candidates)[:8]
    assert len(chosen) == 8
    involved = {t for _, _, history, ids in chosen for t in [*history, *ids]}

    spec = {
        "novelty": novelty_days,
        "serendipity": {
            "features": {t: features.loc[t].tolist() for t in sorted(involved)},
            "lists": {key: {"history": h, "tracks": ids} for _, key, h, ids in chosen},
        },
        "coverage": {
            "|".join(model): list(group["recommended_track_id"])
            for model, group in top_k.groupby(MODEL)
        },
    }
    peer = _recommenders(spec)

    assert sum(len(day["lists"]) for day in novelty_days) >= 100
    for key, value in peer["novelty"].items():
        row = mart.loc[key]
        if row["tracks_with_popularity"] == 0:  # ours null: nothing to average
            assert pd.isna(row["novelty"]) and value == 0
            continue
        assert_close(
            row["novelty"] * row["tracks_with_popularity"] / row["recommended_tracks"], value
        )
    for key, value in peer["serendipity"].items():
        assert_close(mart.loc[key, "serendipity"], value)
    performance = frame(demo_settings, "select * from marts.fct_model_performance")
    performance = performance.fillna({"variant": ""})
    performance = performance.set_index(performance[MODEL].agg("|".join, axis=1))
    assert set(peer["coverage"]) == set(performance.index)
    for model, value in peer["coverage"].items():
        assert_close(performance.loc[model, "distributional_coverage"], value)


def test_predicted_vs_actual_similarity_as_defined(
    demo_settings: Settings, positioned: pd.DataFrame, tracks: pd.DataFrame
) -> None:
    comparisons = frame(demo_settings, "select * from marts.fct_predicted_vs_actual")
    features = tracks.set_index("track_id")
    top = positioned[positioned["list_position"] <= PVA_K]
    lists = {key: list(group["recommended_track_id"]) for key, group in top.groupby(LIST_KEY)}
    for row in comparisons.sample(n=min(3000, len(comparisons)), random_state=1).itertuples():
        recommended = features.loc[
            lists[(row.run_id, row.user_id, row.track_id)], row.audio_feature
        ]
        assert_close(row.predicted_value, recommended.dropna().mean())
        assert_close(row.actual_value, features.loc[row.track_id, row.audio_feature])

    group_keys = ["user_id", "week_start", *MODEL, "top_song_index"]
    rows = []
    for key, group in comparisons.fillna({"variant": ""}).groupby(group_keys):
        known = group.dropna(subset=["predicted_value", "actual_value"])
        predicted, actual = known["predicted_value"].to_numpy(), known["actual_value"].to_numpy()
        mean_abs = np.abs(predicted - actual).mean()
        norm = np.linalg.norm(predicted) * np.linalg.norm(actual)
        rows.append(
            {
                **dict(zip(group_keys, key, strict=True)),
                "mean_abs_difference": mean_abs,
                "similarity": 1 - mean_abs,
                "cosine_similarity": predicted @ actual / norm if norm else None,
                "euclidean_distance": np.linalg.norm(predicted - actual),
            }
        )
    expected = pd.DataFrame(rows).replace({"variant": {"": None}})
    mart = frame(demo_settings, "select * from marts.fct_prediction_similarity")
    compare(mart, expected, group_keys, list(rows[0])[len(group_keys) :])


def test_every_generated_list_is_compared_with_its_seed(
    demo_settings: Settings, positioned: pd.DataFrame
) -> None:
    generated = positioned[positioned["source"] == "generated"]
    lists = generated.groupby(LIST_KEY).ngroups
    similarity = frame(
        demo_settings,
        "select count(*) as lists from marts.fct_prediction_similarity "
        f"where model_name = '{MODELS[0].model_name}'",
    )
    assert similarity["lists"][0] == lists > 0


@pytest.fixture(scope="module")
def engagement(
    demo_settings: Settings, plays: pd.DataFrame, accuracy: pd.DataFrame
) -> pd.DataFrame:
    assignments = frame(demo_settings, "select * from staging.stg_lake__experiment_assignments")
    streams = plays[plays["is_music_stream"]]
    streams_by_user = dict(list(streams.groupby("user_id")))
    lists_by_user = dict(list(accuracy[accuracy["is_window_complete"]].groupby("user_id")))
    horizon = plays["played_at"].max()

    def listening(own: pd.DataFrame, days: int) -> dict:
        skips = own["is_skipped"].dropna()
        return {
            "plays_per_day": len(own) / days,
            "minutes_per_day": own["minutes_played"].sum() / days,
            "skip_rate": skips.astype(float).mean() if len(skips) else None,
        }

    rows = []
    for row in assignments.itertuples():
        start = row.assigned_at - timedelta(days=PRE_PERIOD_DAYS)
        end = row.assigned_at + timedelta(days=EXPERIMENT_DAYS)
        own = streams_by_user.get(row.user_id, streams.iloc[:0])
        inside = own[(own["played_at"] >= row.assigned_at) & (own["played_at"] < end)]
        before = own[(own["played_at"] >= start) & (own["played_at"] < row.assigned_at)]
        lists = lists_by_user.get(row.user_id, accuracy.iloc[:0])
        served = lists[
            (lists["variant"] == row.variant)
            & (lists["generated_at"] >= row.assigned_at)
            & (lists["generated_at"] < end)
        ]
        # Pre-period lists: any arm's (runs with a variant), judged entirely before assignment.
        judged_before = lists[
            lists["variant"].notna()
            & (lists["generated_at"] >= start)
            & (lists["generated_at"] + WINDOW <= row.assigned_at)
        ]
        window = listening(inside, EXPERIMENT_DAYS)
        pre = listening(before, PRE_PERIOD_DAYS)
        rows.append(
            {
                "experiment_id": row.experiment_id,
                "user_id": row.user_id,
                "variant": row.variant,
                "is_window_complete": end <= horizon,
                "plays": len(inside),
                **window,
                "lists": len(served),
                "hit_rate": served["is_hit"].mean() if len(served) else None,
                **{f"pre_{name}": value for name, value in pre.items()},
                "pre_hit_rate": judged_before["is_hit"].mean() if len(judged_before) else None,
            }
        )
    return pd.DataFrame(rows)


EXPERIMENT_METRICS = ["plays_per_day", "minutes_per_day", "skip_rate", "hit_rate"]


def test_experiment_engagement_per_user(demo_settings: Settings, engagement: pd.DataFrame):
    mart = frame(demo_settings, "select * from marts.fct_experiment_engagement")
    compare(
        mart,
        engagement,
        ["experiment_id", "user_id"],
        ["plays", "lists", *EXPERIMENT_METRICS, *(f"pre_{m}" for m in EXPERIMENT_METRICS)],
    )
    assert mart["is_window_complete"].all()


def _arm_sums(engagement: pd.DataFrame) -> pd.DataFrame:
    """Each arm's sufficient statistics per metric, from the per-listener values."""
    complete = engagement[engagement["is_window_complete"]]
    rows = []
    for metric in EXPERIMENT_METRICS:
        values = complete.dropna(subset=[metric])
        for (experiment_id, variant), arm in values.groupby(["experiment_id", "variant"]):
            y = arm[metric].to_numpy(dtype=float)
            x = arm[f"pre_{metric}"].fillna(0).to_numpy(dtype=float)
            rows.append(
                {
                    "experiment_id": experiment_id,
                    "variant": variant,
                    "metric": metric,
                    "n": len(y),
                    "sum_y": y.sum(),
                    "sum_y2": (y * y).sum(),
                    "sum_x": x.sum(),
                    "sum_x2": (x * x).sum(),
                    "sum_xy": (x * y).sum(),
                }
            )
    return pd.DataFrame(rows)


def test_experiment_arms_hold_each_arms_sums(demo_settings: Settings, engagement: pd.DataFrame):
    mart = frame(demo_settings, "select * from marts.fct_experiment_arms")
    expected = _arm_sums(engagement)
    keys = ["experiment_id", "variant", "metric"]
    sums = ["sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy"]
    assert len(mart) == len(expected) > 0
    merged = mart.merge(expected, on=keys, suffixes=("", "_expected"), validate="1:1")
    assert (merged["n"] == merged["n_expected"]).all()
    for column in sums:  # sums of up to a few hundred thousand: relative to their size
        for actual, wanted in zip(merged[column], merged[f"{column}_expected"], strict=True):
            assert abs(actual - wanted) <= 1e-9 * max(1.0, abs(wanted)), (column, actual, wanted)


def test_welch_t_test_agrees_with_scipy(demo_settings: Settings, engagement: pd.DataFrame):
    results = frame(demo_settings, "select * from marts.fct_experiment_results")
    assert set(results["metric"]) == set(EXPERIMENT_METRICS)
    complete = engagement[engagement["is_window_complete"]]
    for row in results.itertuples():
        values = complete.dropna(subset=[row.metric]).groupby("variant")[row.metric]
        treatment = values.get_group(row.variant).to_numpy(dtype=float)
        control = values.get_group(row.control_variant).to_numpy(dtype=float)
        test = stats.ttest_ind(treatment, control, equal_var=False)
        interval = test.confidence_interval(confidence_level=0.95)
        assert (row.n, row.control_n) == (len(treatment), len(control))
        assert_close(row.mean, treatment.mean())
        assert_close(row.sd, treatment.std(ddof=1))
        assert_close(row.control_sd, control.std(ddof=1))
        assert_close(row.difference, treatment.mean() - control.mean())
        assert_close(row.t_statistic, test.statistic)
        assert_close(row.degrees_of_freedom, test.df)
        assert_close(row.p_value, test.pvalue, tolerance=1e-6)
        assert_close(row.ci_lower, interval.low)
        assert_close(row.ci_upper, interval.high)


def _confidence(spec: dict) -> dict:
    """spotify-confidence 4.1 on the spec."""
    return _peer("confidence_experiments.py", spec)


def test_experiments_agree_with_spotify_confidence(demo_settings: Settings) -> None:
    """The plain (StudentsTTest) and CUPED (ZTestLinreg) results, the guardrails'
    non-inferiority p-values and the sample ratio test, from the marts' own per-arm sums."""
    assert_experiments_agree_with_spotify_confidence(demo_settings)


def assert_experiments_agree_with_spotify_confidence(settings: Settings) -> None:
    arms = frame(settings, "select * from marts.fct_experiment_arms")
    results = frame(settings, "select * from marts.fct_experiment_results")
    decisions = frame(settings, "select * from marts.fct_experiment_decisions")
    engagement = frame(
        settings,
        "select experiment_id, variant, count(*) as n from marts.fct_experiment_engagement "
        "group by experiment_id, variant",
    )
    plan = frame(settings, "select * from reference.experiment_arms")
    guardrails = frame(
        settings, "select * from reference.experiment_metrics where role = 'guardrail'"
    ).set_index(["experiment_id", "metric"])
    sums = ["n", "sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy"]
    analyses = []
    for (experiment_id, metric), group in arms.groupby(["experiment_id", "metric"]):
        margin = (
            guardrails.loc[(experiment_id, metric)]
            if (experiment_id, metric) in guardrails.index
            else None
        )
        analyses.append(
            {
                "key": f"{experiment_id}|{metric}",
                "control": "control",
                "arms": [
                    {"variant": row["variant"], **{c: float(row[c]) for c in sums}}
                    for _, row in group.iterrows()
                ],
                "non_inferiority": None
                if margin is None
                else [float(margin["non_inferiority_margin"]), margin["preferred_direction"]],
            }
        )
    sample_ratios = [
        {
            "key": experiment_id,
            "arms": [{"variant": r["variant"], "n": int(r["n"])} for _, r in group.iterrows()],
            "planned": dict(
                plan[plan["experiment_id"] == experiment_id][
                    ["variant", "planned_share"]
                ].itertuples(index=False)
            ),
        }
        for experiment_id, group in engagement.groupby("experiment_id")
        if experiment_id in set(plan["experiment_id"])
    ]
    peer = _confidence({"level": 0.95, "analyses": analyses, "sample_ratios": sample_ratios})
    assert len(results) == len(analyses) > 0
    for row in results.itertuples():
        expected = peer["analyses"][f"{row.experiment_id}|{row.metric}"][row.variant]
        welch, cuped = expected["welch"], expected["cuped"]
        for actual, wanted in zip(
            [row.difference, row.ci_lower, row.ci_upper], welch[:3], strict=True
        ):
            assert_close(actual, wanted)
        assert_close(row.p_value, welch[3], tolerance=1e-6)
        for actual, wanted in zip(
            [row.cuped_difference, row.cuped_ci_lower, row.cuped_ci_upper,
             row.variance_reduction_rate],
            [*cuped[:3], cuped[4]],
            strict=True,
        ):  # fmt: skip
            assert_close(actual, wanted)
        assert abs(row.cuped_p_value - cuped[3]) <= 1e-15 + 1e-8 * cuped[3], (row, cuped)
        if expected["non_inferiority"] is None:
            assert pd.isna(row.non_inferiority_p_value)
        else:
            wanted = expected["non_inferiority"]
            assert abs(row.non_inferiority_p_value - wanted) <= 1e-15 + 1e-8 * wanted, row
    assert len(decisions) == len(sample_ratios) > 0
    for row in decisions.itertuples():
        wanted = peer["sample_ratios"][row.experiment_id]
        assert abs(row.srm_p_value - wanted) <= 1e-12 + 1e-8 * wanted, (row, wanted)


def test_student_t_in_sql_agrees_with_scipy(demo_settings: Settings) -> None:
    """The macro on its own, from heavy tails (1 degree of freedom) to nearly normal."""
    assert_student_t_agrees_with_scipy(demo_settings)


def test_feature_engagement_per_bucket(demo_settings: Settings, plays: pd.DataFrame) -> None:
    music = plays[(plays["content_type"] == "music") & plays["track_id"].notna()]
    rows = []
    for feature in FEATURES:
        played = music[["track_id", feature]].drop_duplicates().dropna()
        played = played.sort_values([feature, "track_id"], kind="stable")
        # ntile: equal buckets, the first ones one longer when the count does not divide.
        for bucket, rows_in_bucket in enumerate(np.array_split(np.arange(len(played)), BUCKETS), 1):
            chunk = played.iloc[rows_in_bucket]
            bucket_plays = music[music["track_id"].isin(chunk["track_id"])]
            streams = bucket_plays[bucket_plays["is_music_stream"]]
            rows.append(
                {
                    "audio_feature": feature,
                    "feature_bucket": bucket,
                    "min_value": chunk[feature].min(),
                    "max_value": chunk[feature].max(),
                    "tracks": len(chunk),
                    "plays": len(bucket_plays),
                    "streams": len(streams),
                    "minutes_listened": streams["minutes_played"].sum(),
                    "completion_rate": bucket_plays["completion_ratio"].mean(),
                    "skip_rate": bucket_plays["is_skipped"].dropna().astype(float).mean(),
                }
            )
    mart = frame(demo_settings, "select * from marts.fct_feature_engagement")
    keys = ["audio_feature", "feature_bucket"]
    compare(mart, pd.DataFrame(rows), keys, list(rows[0])[2:])
    # The generator plants one effect: danceable tracks are skipped less.
    dance = mart[mart["audio_feature"] == "danceability"].sort_values("feature_bucket")
    assert dance["skip_rate"].iloc[0] > dance["skip_rate"].iloc[-1] + 0.1


def test_the_model_built_to_be_better_scores_better(demo_settings: Settings) -> None:
    performance = frame(demo_settings, "select * from marts.fct_model_performance")
    by_version = {
        (row.model_name, row.model_version): row for row in performance.itertuples(index=False)
    }
    weaker, better = (by_version[(m.model_name, m.model_version)] for m in MODELS[:2])
    for metric in ["hit_rate", "mean_ndcg_at_k", "mean_reciprocal_rank", "mean_similarity"]:
        assert getattr(better, metric) > getattr(weaker, metric), metric
    assert better.mean_euclidean_distance < weaker.mean_euclidean_distance
    # The treatment arm's listeners had the control model before their assignment, so the
    # comparison pairs the two models on them (before against after); it cannot pair the
    # model-level metrics, and says so.
    [treatment_listeners] = frame(
        demo_settings,
        "select count(*) as listeners from staging.stg_lake__experiment_assignments "
        f"where variant = '{MODELS[1].variant}'",
    )["listeners"]
    comparison = frame(
        demo_settings,
        "select metric, difference, shared_listeners, verdict from marts.fct_model_comparison "
        f"where reference_model_version = '{MODELS[0].model_version}' "
        f"and candidate_model_version = '{MODELS[1].model_version}' "
        f"and reference_model_name = '{MODELS[0].model_name}'",
    )
    assert len(comparison) == 20
    unpaired = comparison[comparison["shared_listeners"] == 0]
    assert set(unpaired["metric"]) == {"catalog_coverage", "distributional_coverage"}
    assert (unpaired["verdict"] == "not tested").all()
    assert set(comparison["shared_listeners"]) == {0, treatment_listeners}
    verdicts = dict(zip(comparison["metric"], comparison["verdict"], strict=True))
    for metric in ["hit_rate", "mean_ndcg_at_k", "mean_reciprocal_rank"]:
        assert verdicts[metric] == "better", metric


def _model_key(name: str, version: str, variant: object) -> str:
    return f"{name} {version}" + (f" ({variant})" if isinstance(variant, str) and variant else "")


PAIRED_METRICS = {
    "hit_rate": "hit",
    "mean_precision_at_k": "precision_at_k",
    "mean_recall_at_k": "recall_at_k",
    "mean_ndcg_at_k": "ndcg_at_k",
    "mean_reciprocal_rank": "reciprocal_rank",
}


def test_paired_comparison_agrees_with_scipy(
    demo_settings: Settings, accuracy: pd.DataFrame
) -> None:
    """Each listener's mean per model, from the lists recomputed here; scipy's ttest_rel."""
    lists = accuracy[accuracy["is_window_complete"]].copy()
    lists["hit"] = lists["is_hit"].astype(float)
    lists["model_key"] = [
        _model_key(*row) for row in lists[MODEL].itertuples(index=False, name=None)
    ]
    per_listener = lists.groupby(["user_id", "model_key"])[list(PAIRED_METRICS.values())].agg(
        lambda values: values.astype(float).mean()
    )
    mart = frame(demo_settings, "select * from marts.fct_model_comparison")
    tested = 0
    for row in mart[mart["metric"].isin(list(PAIRED_METRICS))].itertuples(index=False):
        values = per_listener[PAIRED_METRICS[row.metric]].unstack("model_key")
        both = values[[row.reference_model_key, row.candidate_model_key]].dropna()
        assert row.shared_listeners == len(both)
        if len(both) < 2:
            assert row.verdict == "not tested" and pd.isna(row.p_value)
            continue
        result = stats.ttest_rel(both[row.candidate_model_key], both[row.reference_model_key])
        interval = result.confidence_interval(0.95)
        difference = (both[row.candidate_model_key] - both[row.reference_model_key]).mean()
        assert_close(row.mean_paired_difference, difference)
        assert_close(row.t_statistic, result.statistic, tolerance=1e-6)
        assert_close(row.p_value, result.pvalue, tolerance=1e-9)
        assert_close(row.ci_lower, interval.low)
        assert_close(row.ci_upper, interval.high)
        tested += 1
    assert tested >= 20  # baseline against each arm, both ways, five metrics


def test_holm_and_the_verdict_agree_with_statsmodels(demo_settings: Settings) -> None:
    assert_holm_agrees_with_statsmodels(demo_settings)


def test_normal_and_chi_square_in_sql_agree_with_scipy(demo_settings: Settings) -> None:
    assert_normal_and_chi_square_agree_with_scipy(demo_settings)
