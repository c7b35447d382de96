"""spotify-confidence 4.1's analyses of per-arm sufficient statistics given as JSON on stdin.

Run in the peers' venv (pandas < 3): `.venv-peers/bin/python <this file>`.

Input:  {"level": 0.95, "analyses": [{"key": ..., "control": "control",
          "arms": [{"variant": ..., "n": ..., "sum_y": ..., "sum_y2": ...,
                    "sum_x": ..., "sum_x2": ..., "sum_xy": ...}, ...],
          "non_inferiority": [margin, "increase" | "decrease"] or null}],
         "sample_ratios": [{"key": ..., "arms": [{"variant": ..., "n": ...}],
                            "planned": {variant: share}}]}
Output: {"analyses": {key: {variant: {"welch": [difference, ci_lower, ci_upper, p],
                                      "cuped": [..., variance_reduction_rate],
                                      "non_inferiority": p or null}}},
         "sample_ratios": {key: p}}
"""

from __future__ import annotations

import json
import sys
import warnings

import pandas as pd
import spotify_confidence as confidence

SUMS = {
    "numerator_column": "sum_y",
    "numerator_sum_squares_column": "sum_y2",
    "denominator_column": "n",
    "categorical_group_columns": "variant",
}
COVARIATE = {
    "feature_column": "sum_x",
    "feature_sum_squares_column": "sum_x2",
    "feature_cross_sum_column": "sum_xy",
}
COLUMNS = ["difference", "ci_lower", "ci_upper", "p-value"]


def _row(result: pd.DataFrame, extra: list[str] = ()) -> list[float]:
    return [float(result[column].iloc[0]) for column in [*COLUMNS, *extra]]


def analyse(analysis: dict, level: float) -> dict:
    arms = pd.DataFrame(analysis["arms"])
    control = analysis["control"]
    welch = confidence.StudentsTTest(arms, interval_size=level, **SUMS)
    cuped = confidence.ZTestLinreg(arms, interval_size=level, **SUMS, **COVARIATE)
    answer: dict = {}
    for arm in arms["variant"]:
        if arm == control:
            continue
        answer[arm] = {
            "welch": _row(welch.difference(level_1=control, level_2=arm, absolute=True)),
            "cuped": _row(
                cuped.difference(level_1=control, level_2=arm, absolute=True, verbose=True),
                ["variance_reduction_rate"],
            ),
            "non_inferiority": None,
        }
        if analysis.get("non_inferiority"):
            margin, direction = analysis["non_inferiority"]
            tested = cuped.difference(
                level_1=control,
                level_2=arm,
                absolute=True,
                non_inferiority_margins=(margin, direction),
            )
            answer[arm]["non_inferiority"] = float(tested["p-value"].iloc[0])
    return answer


def sample_ratio(check: dict) -> float:
    arms = pd.DataFrame(check["arms"]).assign(sum_y=0.0, sum_y2=0.0)
    p_value, _ = confidence.ZTest(arms, **SUMS).sample_ratio_test(check["planned"])
    return float(p_value)


def main() -> None:
    warnings.filterwarnings("ignore")  # pandas and chartify notices inside the library
    spec = json.load(sys.stdin)
    json.dump(
        {
            "analyses": {a["key"]: analyse(a, spec["level"]) for a in spec["analyses"]},
            "sample_ratios": {s["key"]: sample_ratio(s) for s in spec["sample_ratios"]},
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
