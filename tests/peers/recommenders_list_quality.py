"""Microsoft Recommenders 1.2.1's beyond-accuracy metrics on lists given as JSON on stdin.

Run in the peers' venv (pandas < 3): `.venv-peers/bin/python <this file>`.
Each list is its own "user" for Recommenders, so its functions see one list at a time.

Input:  {"novelty": [{"train": [[user, track], ...], "lists": {key: [track, ...]}}, ...],
         "serendipity": {"features": {track: [x, ...]},
                         "lists": {key: {"history": [track, ...], "tracks": [track, ...]}}},
         "coverage": {model: [track, ...]}}
Output: {"novelty": {key: bits}, "serendipity": {key: value}, "coverage": {model: bits}}
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd
from recommenders.evaluation import python_evaluation as evaluation

COLUMNS = {"col_user": "userID", "col_item": "itemID"}


def _frame(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["userID", "itemID"], dtype=str)


def novelty(days: list[dict]) -> dict[str, float]:
    result = {}
    for day in days:
        train = _frame([tuple(pair) for pair in day["train"]])
        for key, tracks in day["lists"].items():
            result[key] = float(evaluation.novelty(train, _frame([(key, t) for t in tracks])))
    return result


def serendipity(spec: dict) -> dict[str, float]:
    lists = spec["lists"]
    train = _frame([(key, t) for key, s in lists.items() for t in s["history"]])
    reco = _frame([(key, t) for key, s in lists.items() for t in s["tracks"]])
    features = pd.DataFrame(
        {
            "itemID": list(spec["features"]),
            "features": [np.array(v, dtype=float) for v in spec["features"].values()],
        }
    )
    scores = evaluation.user_serendipity(
        train, reco, item_feature_df=features, item_sim_measure="item_feature_vector", **COLUMNS
    )
    return dict(zip(scores["userID"], scores["user_serendipity"].astype(float), strict=True))


def coverage(models: dict[str, list[str]]) -> dict[str, float]:
    # train_df only guards against recommending what a user had; no user here had anything.
    train = _frame([("nobody", "nothing")])
    return {
        model: float(
            evaluation.distributional_coverage(
                train, _frame([(f"row-{i}", t) for i, t in enumerate(tracks)]), **COLUMNS
            )
        )
        for model, tracks in models.items()
    }


def main() -> None:
    warnings.filterwarnings("ignore")  # pandas' chained-assignment notices inside Recommenders
    spec = json.load(sys.stdin)
    json.dump(
        {
            "novelty": novelty(spec["novelty"]),
            "serendipity": serendipity(spec["serendipity"]),
            "coverage": coverage(spec["coverage"]),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
