"""The generator plants effects of known size, and the experiment analysis must find them.

The demo population (seed 1, 300 listeners, 56 days) is assigned after a three-week pre-period,
half to each arm as planned; from assignment, treatment listeners play TREATMENT_LIFT more per
active day. A second population is split 65/35 against the 50/50 plan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spotiflow.settings import Settings
from spotiflow.simulate.params import EXPERIMENT_ID, TREATMENT_LIFT
from tests.support.helpers import query

METRICS = ["plays_per_day", "minutes_per_day", "skip_rate", "hit_rate"]


def result(settings: Settings, metric: str) -> dict:
    [row] = query(
        settings,
        "select * from marts.fct_experiment_results where experiment_id = ? and metric = ?",
        [EXPERIMENT_ID, metric],
    )
    columns = [c[0] for c in query(settings, "describe marts.fct_experiment_results")]
    return dict(zip(columns, row, strict=True))


def decision(settings: Settings) -> dict:
    rows = query(settings, "select * from marts.fct_experiment_decisions")
    columns = [c[0] for c in query(settings, "describe marts.fct_experiment_decisions")]
    assert len(rows) == 1
    return dict(zip(columns, rows[0], strict=True))


def test_the_planted_lift_is_found(demo_settings: Settings) -> None:
    """The lift on plays per day lies in CUPED's interval, which excludes no effect; the plan's
    primary metric is better, the guardrails hold, and the decision is to ship."""
    plays = result(demo_settings, "plays_per_day")
    planted = TREATMENT_LIFT * plays["control_mean"]
    assert 0 < plays["cuped_ci_lower"] <= planted <= plays["cuped_ci_upper"]
    assert plays["verdict"] == "better"
    assert plays["cuped_p_value"] < 0.001
    decided = decision(demo_settings)
    assert decided["is_sample_ratio_mismatch"] is False
    assert decided["srm_p_value"] > 0.5
    assert decided["primary_metric"] == "plays_per_day"
    assert decided["non_inferior_guardrails"] == decided["guardrails"] == 2
    assert decided["is_read_before_planned_end"] is False
    assert decided["decision"] == "ship"


def test_cuped_narrows_the_interval_by_the_expected_factor(demo_settings: Settings) -> None:
    """With rho the within-arm correlation of a metric and its pre-period value, CUPED's
    standard error is the plain one times sqrt(1 - rho^2) (up to (n - 1)/n: the adjusted
    variance takes the covariance over n, the plain one over n - 1; about 0.01 at n = 150)."""
    engagement = pd.DataFrame(
        query(
            demo_settings,
            "select variant, "
            + ", ".join(f"{m}, pre_{m}" for m in METRICS)
            + " from marts.fct_experiment_engagement where is_window_complete",
        ),
        columns=["variant", *(c for m in METRICS for c in (m, f"pre_{m}"))],
    )
    for metric in METRICS:
        values = engagement.dropna(subset=[metric])
        y = values[metric].astype(float)
        x = values[f"pre_{metric}"].fillna(0).astype(float)
        pair = pd.DataFrame({"y": y, "x": x})
        centred = pair - pair.groupby(values["variant"]).transform("mean")
        rho = np.corrcoef(centred["x"], centred["y"])[0, 1]
        row = result(demo_settings, metric)
        ratio = row["cuped_standard_error"] / row["standard_error"]
        assert abs(ratio - np.sqrt(1 - rho**2)) < 0.015, (metric, rho, ratio)
    # The planted metric's pre-period predicts it well: the interval is a third as wide.
    assert result(demo_settings, "plays_per_day")["variance_reduction_rate"] > 0.8


def test_the_sample_ratio_check_fires_on_a_skewed_split(skewed_settings: Settings) -> None:
    decided = decision(skewed_settings)
    treatment, control = decided["assigned_listeners"], decided["control_assigned_listeners"]
    expected = (treatment - 150) ** 2 / 150 + (control - 150) ** 2 / 150
    assert treatment > control
    assert abs(decided["srm_chi_square"] - expected) < 1e-9
    assert decided["srm_p_value"] < 0.001
    assert decided["is_sample_ratio_mismatch"] is True
    assert decided["decision"] == "invalid"
