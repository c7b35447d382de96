"""The demo's closing summary, read from the marts (no metric is computed here)."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.identity import user_id_for
from spotiflow.settings import Settings
from spotiflow.simulate.params import MODELS
from spotiflow.warehouse.engines import Warehouse, open_warehouse
from spotiflow.warehouse.publish import status_lines

SUMMARY_MARTS = (
    "fct_daily_listening",
    "fct_weekly_top_songs",
    "fct_prediction_similarity",
    "fct_predicted_vs_actual",
    "fct_loads",
    "dim_users",
    "fct_model_performance",
    "fct_model_comparison",
    "fct_experiment_results",
    "fct_experiment_decisions",
    "fct_feature_engagement",
)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: numbers right-aligned with 3 decimals, text left-aligned."""

    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    cells = [[cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) or row[i] is None for row in rows) for i in
               range(len(headers))]  # fmt: skip

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def print_summary(settings: Settings) -> None:
    sample_user = user_id_for(settings.sample_user, settings)
    with open_warehouse(settings) as connection:
        connection.require_marts(*SUMMARY_MARTS)
        loads = connection.rows(
            "select count(*), sum(rows_in), sum(rows_landed), sum(rows_rejected) "
            "from marts.fct_loads"
        )[0]
        print(
            f"\nLoads: {loads[0]} — {loads[1] or 0} rows in, {loads[2] or 0} landed, "
            f"{loads[3] or 0} rejected (marts.fct_loads, marts.fct_rejected_rows)"
        )
        print_listener(connection, sample_user)
        print_population(connection)
        where = connection.description
    print(f"\nThe marts are in {where}: any BI tool can read schema `marts`.")
    for line in status_lines(settings):
        print(line)


def print_listener(connection: Warehouse, user_id: str) -> None:
    """The original dashboard's views for one listener."""
    daily = connection.rows(
        "select listen_date, plays, minutes_listened, energy_score, musicality_score, "
        "positivity_score, listening_vibe from marts.fct_daily_listening where user_id = ? "
        "order by listen_date",
        [user_id],
    )
    if not daily:
        return
    print(f"\n== The sample listener ({user_id})")
    print("\nPer day (marts.fct_daily_listening)")
    print(format_table(
        ["date", "plays", "minutes", "energy", "musicality", "positivity", "vibe"], daily
    ))  # fmt: skip
    top = connection.rows(
        "select week_start, song_rank, track_name, artist_name, plays, minutes_listened, "
        "positivity_score from marts.fct_weekly_top_songs where user_id = ? and song_rank <= 5 "
        "order by week_start, song_rank",
        [user_id],
    )
    print("\nWeekly top songs (marts.fct_weekly_top_songs, song_rank <= 5)")
    print(format_table(["week", "#", "track", "artist", "plays", "minutes", "positivity"], top))
    similarity = connection.rows(
        "select week_start, model_name, model_version, top_song_index, similarity, "
        "cosine_similarity, euclidean_distance from marts.fct_prediction_similarity "
        "where user_id = ? order by week_start, model_name, model_version, top_song_index",
        [user_id],
    )
    print("\nPredicted vs actual: similarity per top song (marts.fct_prediction_similarity)")
    print(format_table(
        ["week", "model", "version", "top song #", "1 - mean |diff|", "cosine", "euclidean"],
        similarity,
    ))  # fmt: skip
    detail = connection.rows(
        "with latest as ("
        "  select week_start, model_name, model_version from marts.fct_predicted_vs_actual "
        "  where user_id = ? order by week_start desc, model_name, model_version limit 1) "
        "select detail.top_song_index, detail.feature_label, detail.predicted_value, "
        "detail.actual_value, detail.difference "
        "from marts.fct_predicted_vs_actual as detail inner join latest "
        "on detail.week_start = latest.week_start and detail.model_name = latest.model_name "
        "and detail.model_version = latest.model_version "
        "where detail.user_id = ? and detail.top_song_index = 1 "
        "order by detail.audio_feature",
        [user_id, user_id],
    )
    if detail:
        print("\nPredicted vs actual, latest week, top song #1 (marts.fct_predicted_vs_actual)")
        print(format_table(["#", "feature", "predicted", "actual", "difference"], detail))


def print_population(connection: Warehouse) -> None:
    """The recommendation diagnostics over every listener."""
    users = connection.value("select count(*) from marts.dim_users")
    models = connection.rows(
        "select model_key, users_served, lists, hit_rate, mean_ndcg_at_k, mean_reciprocal_rank, "
        "catalog_coverage, mean_novelty, mean_similarity from marts.fct_model_performance "
        "order by model_key"
    )
    if not models:
        return
    print(f"\n== Recommendation diagnostics over all {users} listeners")
    print("\nPer model (marts.fct_model_performance)")
    print(format_table(
        ["model", "users", "lists", "hit rate", "NDCG", "MRR", "coverage", "novelty (bits)",
         "similarity"],
        models,
    ))  # fmt: skip
    # Two models are compared on the listeners both served: the better experiment arm against
    # the model that shares the most listeners with it (the baseline serves everyone).
    candidate = MODELS[1]
    comparison = connection.rows(
        "select metric, reference_value, candidate_value, shared_listeners, "
        "mean_paired_difference, ci_lower, ci_upper, p_value_holm, verdict, "
        "reference_model_key, candidate_model_key from marts.fct_model_comparison "
        "where candidate_model_name = ? and candidate_model_version = ? "
        "and candidate_variant = ? and reference_model_key = ("
        "  select reference_model_key from marts.fct_model_comparison "
        "  where candidate_model_name = ? and candidate_model_version = ? "
        "  and candidate_variant = ? "
        "  order by shared_listeners desc, reference_model_key limit 1"
        ") order by metric_order",
        [candidate.model_name, candidate.model_version, candidate.variant] * 2,
    )
    if comparison:
        shared = max(row[3] for row in comparison)
        print(
            f"\n{comparison[0][10]} against {comparison[0][9]}, paired on the {shared} listeners "
            "both served (marts.fct_model_comparison; 95% CI of the mean per-listener difference, "
            "Holm-adjusted p)"
        )
        print(format_table(
            ["metric", "reference", "candidate", "paired difference", "95% CI low",
             "95% CI high", "p (Holm)", "verdict"],
            [(row[0], row[1], row[2], *row[4:9]) for row in comparison],
        ))  # fmt: skip
    decisions = connection.rows(
        "select experiment_id, variant, control_variant, assigned_listeners, "
        "control_assigned_listeners, srm_chi_square, srm_p_value, is_sample_ratio_mismatch, "
        "is_read_before_planned_end, planned_end_date, non_inferior_guardrails, guardrails, "
        "decision from marts.fct_experiment_decisions order by experiment_id, variant"
    )
    for (experiment, arm, control, listeners, control_listeners, chi_square, srm_p, mismatch,
         early, planned_end, non_inferior, guardrails, decision) in decisions:  # fmt: skip
        print(
            f"\nExperiment {experiment}, {arm} ({listeners} listeners) against {control} "
            f"({control_listeners}): decision {decision.upper()} (marts.fct_experiment_decisions)"
        )
        if srm_p is not None:
            print(
                f"  sample ratio: chi-square {chi_square:.3f}, p {srm_p:.3g}: "
                + ("MISMATCH, the results cannot be trusted" if mismatch else "as planned")
            )
        if early:
            print(f"  read before its planned end ({planned_end:%Y-%m-%d}): a peek, provisional")
        print(f"  guardrails non-inferior: {non_inferior} of {guardrails}")
        results = connection.rows(
            "select metric, coalesce(role, '-'), control_mean, mean, difference, ci_lower, "
            "ci_upper, p_value, cuped_difference, cuped_ci_lower, cuped_ci_upper, cuped_p_value, "
            "variance_reduction_rate, coalesce(guardrail_status, verdict, '-') "
            "from marts.fct_experiment_results where experiment_id = ? and variant = ? "
            "order by case role when 'primary' then 0 when 'guardrail' then 1 else 2 end, metric",
            [experiment, arm],
        )
        print(
            "  Each metric against the control (marts.fct_experiment_results): plain (Welch's t) "
            "and CUPED-adjusted by the pre-period, 95% CIs"
        )
        print(format_table(
            ["metric", "role", "control", "arm", "difference", "CI low", "CI high", "p",
             "CUPED diff.", "CUPED CI low", "CUPED CI high", "CUPED p", "var. reduction",
             "verdict"],
            results,
        ))  # fmt: skip
    engagement = connection.rows(
        "select feature_label, "
        "max(case when feature_bucket = 1 then skip_rate end), "
        "max(case when feature_bucket = (select max(feature_bucket) "
        "  from marts.fct_feature_engagement) then skip_rate end), "
        "max(case when feature_bucket = 1 then completion_rate end), "
        "max(case when feature_bucket = (select max(feature_bucket) "
        "  from marts.fct_feature_engagement) then completion_rate end) "
        "from marts.fct_feature_engagement group by feature_label order by feature_label"
    )
    if engagement:
        print("\nFeature engagement, lowest and highest bucket (marts.fct_feature_engagement)")
        print(format_table(
            ["feature", "skip rate low", "skip rate high", "completion low", "completion high"],
            engagement,
        ))  # fmt: skip
