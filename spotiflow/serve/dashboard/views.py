"""The dashboard's pages. Figures are shown as the marts hold them, rounded for display only.

Names come from third parties (track, artist, model names, experiment ids, the search text):
they are shown as text, never as Markdown, which Streamlit renders in st.table, st.markdown,
st.write, st.caption, st.metric and alerts (a track named ![x](http://host/pixel.png) would make
every viewer's browser fetch that address). Tables are st.dataframe, lines with a name st.text.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pandas as pd
import streamlit as st

from spotiflow.serve.dashboard.marts import ALL_USERS, Marts

SCORES = {
    "energy_score": "Energy",
    "musicality_score": "Musicality",
    "positivity_score": "Positivity",
}
TOP_SONGS = 5
# Every ASCII punctuation character, each of which CommonMark lets a backslash make literal.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def number(value: object, digits: int = 3) -> str:
    """A figure as the dashboard shows it (the tests read the same rounding)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and digits == 0):
        return f"{int(value):,}"
    return f"{float(value):,.{digits}f}"


def markdown_literal(value: object) -> str:
    """A mart's own label (a vibe, a decision) for an element that only takes Markdown
    (st.metric, alerts): every punctuation character escaped, so it reads as it is. Not for
    third-party names: GFM still links a bare URL in escaped text; those go to st.text."""
    if not isinstance(value, str) and (value is None or pd.isna(value)):
        return "-"  # as number() shows a missing figure
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", str(value)) or "-"


def _table(frame: pd.DataFrame, formats: dict[str, int]) -> None:
    """A table of text: st.dataframe's cells are never Markdown (st.table's are). Every row
    shown, so a table reads whole without scrolling (and the browser tests read every cell)."""
    shown = frame.copy()
    for column, digits in formats.items():
        shown[column] = [number(value, digits) for value in shown[column]]
    st.dataframe(shown, hide_index=True, height="content")


def listening_page(marts: Marts) -> None:
    st.title("How people listen")
    user = st.sidebar.selectbox("Listener", [ALL_USERS, *marts.listeners()], key="listener")
    daily = marts.daily_listening(user)
    daily["listen_date"] = pd.to_datetime(daily["listen_date"]).dt.date
    if daily.empty:
        st.info("No listening for this listener yet.")
        return
    first, last = daily["listen_date"].min(), daily["listen_date"].max()
    start = st.sidebar.date_input("From", value=first, min_value=first, max_value=last, key="from")
    end = st.sidebar.date_input("To", value=last, min_value=first, max_value=last, key="to")
    in_range = daily[(daily["listen_date"] >= start) & (daily["listen_date"] <= end)]
    if in_range.empty:
        st.info("No listening in this date range.")
        return

    dates = list(in_range["listen_date"].sort_values(ascending=False))
    picked = st.selectbox("Date", dates, format_func=lambda d: d.isoformat(), key="date")
    day = in_range[in_range["listen_date"] == picked].iloc[0]
    st.subheader(f"{picked:%A %d %B %Y}" + ("" if user != ALL_USERS else ", all listeners"))
    cards = st.columns([1, 1, 1, 1.6, 1.2])
    for card, (column, label) in zip(cards, SCORES.items(), strict=False):
        card.metric(f"{label} score", number(day[column]))
    cards[3].metric("Listening vibe", markdown_literal(day["listening_vibe"]))
    cards[4].metric("Minutes listened", number(day["minutes_listened"], 1))

    st.markdown("#### Audio features by day")
    series = in_range.set_index("listen_date")[list(SCORES)].rename(columns=SCORES)
    st.line_chart(series)

    week_start = picked - timedelta(days=picked.weekday())
    week = daily[
        (daily["listen_date"] >= week_start) & (daily["listen_date"] < week_start + timedelta(7))
    ]
    left, right = st.columns(2)
    with left:
        st.markdown(f"#### Weekly listening, week of {week_start:%d %b %Y}")
        st.bar_chart(week.set_index("listen_date")[["minutes_listened"]], y_label="minutes")
    with right:
        st.markdown(f"#### Weekly top songs, week of {week_start:%d %b %Y}")
        songs = marts.weekly_top_songs(user, week_start, TOP_SONGS)
        _table(
            songs.rename(columns={"song_rank": "#"}),
            {"plays": 0, "minutes_listened": 1, "positivity_score": 3},
        )

    st.markdown("#### Find an artist or a track")
    text = st.text_input("Artist or track name", key="search")
    if text.strip():
        # Weeks that overlap the range: the first one may begin before it.
        first_week = start - timedelta(days=start.weekday())
        found = marts.songs_matching(user, text.strip(), first_week, end)
        if found.empty:
            st.text(f"No top song in the range matches “{text.strip()}”.")
        else:
            _table(found, {"plays": 0, "positivity_score": 3})

    _predicted_vs_actual(marts, user, week_start)


def _predicted_vs_actual(marts: Marts, user: str, week_start) -> None:
    st.markdown("#### Predicted vs actual feature similarity")
    models = marts.models()
    if models.empty:
        st.write("No recommendation runs yet: `spotiflow recommend` or `spotiflow generate`.")
        return
    if user == ALL_USERS:
        st.caption("Over every listener's lists, per model (marts.fct_model_performance).")
        _table(
            models[["model_key", "lists_compared", "mean_similarity", "mean_cosine_similarity",
                    "mean_euclidean_distance"]],
            {"lists_compared": 0, "mean_similarity": 3, "mean_cosine_similarity": 3,
             "mean_euclidean_distance": 3},
        )  # fmt: skip
        return
    model = st.sidebar.selectbox("Model version", list(models["model_key"]), key="model")
    index = st.selectbox("Top Song #", list(range(1, TOP_SONGS + 1)), key="top-song")
    comparison = marts.predicted_vs_actual(user, week_start, model, index)
    if comparison.empty:
        st.text(f"No list from {model} for top song #{index} of this week.")
        return
    similarity = marts.prediction_similarity(user, week_start, model, index).iloc[0]
    seed = marts.track_names([similarity["track_id"]]).get(similarity["track_id"], "")
    st.text(f"Top song #{index}: {seed}")
    cards = st.columns(3)
    cards[0].metric("Similarity (1 - mean |diff|)", number(similarity["similarity"]))
    cards[1].metric("Cosine similarity", number(similarity["cosine_similarity"]))
    cards[2].metric("Euclidean distance", number(similarity["euclidean_distance"]))
    _table(
        comparison.drop(columns=["track_id"]).rename(columns={"feature_label": "feature"}),
        {"predicted_value": 3, "actual_value": 3, "difference": 3},
    )


def _faceted_by_metric(layers: list, data: pd.DataFrame) -> None:
    """One row per metric, each on its own scale (metrics have different units)."""
    import altair as alt

    header = alt.Header(title=None, labelAngle=0, labelAlign="left", labelOrient="left")
    chart = (
        alt.layer(*layers, data=data)
        .properties(height=16, width=420)
        .facet(row=alt.Row("metric:N", sort=list(data["metric"]), header=header), spacing=6)
        .resolve_scale(x="independent")
    )
    st.altair_chart(chart)


def _verdict_point(estimate: str, tooltip: list[str]):
    import altair as alt

    return (
        alt.Chart()
        .mark_point(filled=True, size=60)
        .encode(
            x=f"{estimate}:Q",
            color=alt.Color("verdict:N", scale=alt.Scale(domain=VERDICTS, range=VERDICT_COLOURS)),
            tooltip=tooltip,
        )
    )


def _zero():
    import altair as alt

    return alt.Chart().mark_rule(strokeDash=[3, 3], color="#9e9e9e").encode(x=alt.datum(0))


def _error_bars(compared: pd.DataFrame) -> None:
    """The paired difference per metric, its interval, zero."""
    import altair as alt

    interval = (
        alt.Chart()
        .mark_rule(strokeWidth=2)
        .encode(x=alt.X("ci_lower:Q", title=None), x2="ci_upper:Q")
    )
    tooltip = ["metric", "mean_paired_difference", "ci_lower", "ci_upper", "p_value_holm"]
    _faceted_by_metric([interval, _verdict_point("mean_paired_difference", tooltip), _zero()],
                       compared)  # fmt: skip


def _experiment_error_bars(results: pd.DataFrame) -> None:
    """Per metric: the plain interval (thin, grey), CUPED's (thick), its estimate coloured by
    verdict, zero, and a guardrail's non-inferiority threshold (red tick)."""
    import altair as alt

    plain = (
        alt.Chart()
        .mark_rule(strokeWidth=1, color="#bdbdbd")
        .encode(x=alt.X("ci_lower:Q", title=None), x2="ci_upper:Q")
    )
    cuped = alt.Chart().mark_rule(strokeWidth=3).encode(x="cuped_ci_lower:Q", x2="cuped_ci_upper:Q")
    threshold = (
        alt.Chart().mark_tick(color="#c62828", thickness=2).encode(x="non_inferiority_threshold:Q")
    )
    tooltip = ["metric", "role", "difference", "ci_lower", "ci_upper", "p_value",
               "cuped_difference", "cuped_ci_lower", "cuped_ci_upper", "cuped_p_value",
               "non_inferiority_threshold", "guardrail_status"]  # fmt: skip
    layers = [plain, cuped, _verdict_point("cuped_difference", tooltip), _zero(), threshold]
    _faceted_by_metric(layers, results)


def _is_true(flag: object) -> bool:
    """A nullable boolean from a mart: null (no plan) is not true."""
    return bool(flag) if pd.notna(flag) else False


def _experiment(decided: pd.Series, results: pd.DataFrame) -> None:
    """One arm's decision, its warnings, and every metric's intervals."""
    st.text(
        f"{decided['experiment_id']}: {decided['variant']} "
        f"({decided['assigned_listeners']} listeners) against {decided['control_variant']} "
        f"({decided['control_assigned_listeners']})"
    )
    if _is_true(decided["is_sample_ratio_mismatch"]):
        st.error(
            "Sample ratio mismatch: the arms are not split as planned "
            f"(chi-square {number(decided['srm_chi_square'], 2)}, "
            f"p = {number(decided['srm_p_value'], 6)}). Something assigns or loses listeners "
            "unevenly, so no result of this experiment can be trusted."
        )
    if _is_true(decided["is_read_before_planned_end"]):
        st.warning(
            f"Read before the planned end ({decided['planned_end_date']:%Y-%m-%d}): the tests "
            "are fixed-horizon, so a result seen now may not hold at the end."
        )
    st.metric("Decision", markdown_literal(decided["decision"]))
    if pd.notna(decided["primary_metric"]):
        st.text(
            f"Primary metric {decided['primary_metric']}: {decided['primary_verdict']}. "
            f"Guardrails non-inferior: {decided['non_inferior_guardrails']} of "
            f"{decided['guardrails']}; inferior: {decided['inferior_guardrails']}."
        )
    else:
        st.write("No plan for this experiment in the seeds: analysed, not decided.")
    _experiment_error_bars(results)
    shown = results.fillna({"role": "not in plan", "verdict": "not in plan"})
    _table(
        shown[["metric", "role", "n", "mean", "control_n", "control_mean", "difference",
               "ci_lower", "ci_upper", "p_value", "cuped_difference", "cuped_ci_lower",
                 "cuped_ci_upper", "cuped_p_value", "variance_reduction_rate", "verdict",
                 "guardrail_status"]],
        {"n": 0, "mean": 3, "control_n": 0, "control_mean": 3, "difference": 3,
         "ci_lower": 3, "ci_upper": 3, "p_value": 4, "cuped_difference": 3,
         "cuped_ci_lower": 3, "cuped_ci_upper": 3, "cuped_p_value": 4,
         "variance_reduction_rate": 3},
    )  # fmt: skip


VERDICTS = ["better", "no difference", "worse"]
VERDICT_COLOURS = ["#2e7d32", "#757575", "#c62828"]


def diagnostics_page(marts: Marts) -> None:
    st.title("How well the models predict")
    models = marts.models()
    if models.empty:
        st.info("No recommendation runs yet: `spotiflow recommend` or `spotiflow generate`.")
        return
    st.markdown("#### Per model (marts.fct_model_performance)")
    _table(
        models[["model_key", "users_served", "lists", "hit_rate", "mean_precision_at_k",
                "mean_recall_at_k", "mean_ndcg_at_k", "mean_graded_ndcg_at_k",
                "mean_average_precision_at_k", "mean_average_precision", "mean_r_precision",
                "mean_reciprocal_rank", "catalog_coverage", "distributional_coverage",
                "mean_intra_list_diversity", "mean_share_new_to_user", "mean_novelty",
                "mean_serendipity", "mean_popularity_bias", "mean_similarity"]],
        {"users_served": 0, "lists": 0, "hit_rate": 3, "mean_precision_at_k": 3,
         "mean_recall_at_k": 3, "mean_ndcg_at_k": 3, "mean_graded_ndcg_at_k": 3,
         "mean_average_precision_at_k": 3, "mean_average_precision": 3, "mean_r_precision": 3,
         "mean_reciprocal_rank": 3,
         "catalog_coverage": 3, "distributional_coverage": 2, "mean_intra_list_diversity": 3,
         "mean_share_new_to_user": 3, "mean_novelty": 2, "mean_serendipity": 3,
         "mean_popularity_bias": 3, "mean_similarity": 3},
    )  # fmt: skip

    keys = list(models["model_key"])
    st.markdown("#### Candidate against reference")
    left, right = st.columns(2)
    reference = left.selectbox("Reference", keys, index=0, key="reference")
    candidate = right.selectbox("Candidate", keys, index=min(1, len(keys) - 1), key="candidate")
    if reference == candidate:
        st.write("Pick two different models.")
    else:
        compared = marts.comparison(reference, candidate)
        shared = int(compared["shared_listeners"].max()) if not compared.empty else 0
        level = float(compared["confidence_level"].iloc[0]) if not compared.empty else 0.95
        if shared:
            st.write(
                f"Paired on the {shared} listeners both models served: the mean per-listener "
                f"difference (candidate - reference) with its {level:.0%} interval; better or "
                "worse only when significant after Holm's correction within the metric family."
            )
            _error_bars(compared.dropna(subset=["mean_paired_difference"]))
        else:
            st.write(
                "These models served no listener in common (an experiment's arms): nothing to "
                "pair. The experiments table below compares the arms."
            )
        _table(
            compared.drop(columns=["shared_listeners", "confidence_level"]),
            {"reference_value": 3, "candidate_value": 3, "mean_paired_difference": 4,
             "ci_lower": 4, "ci_upper": 4, "p_value_holm": 4},
        )  # fmt: skip

    st.markdown("#### Hit rate by day the lists were made")
    daily = marts.accuracy_by_day()
    if not daily.empty:
        st.line_chart(daily.pivot(index="generated_date", columns="model_key", values="hit_rate"))

    st.markdown("#### Experiments: each arm against the control")
    decisions = marts.experiment_decisions()
    results = marts.experiments()
    if decisions.empty:
        st.write("No experiment with a control arm yet.")
    else:
        st.write(
            "Each metric's difference from the control: the plain interval (Welch's t, grey) "
            "and CUPED's (adjusted by the listener's pre-period, as Spotify's Confidence does), "
            "coloured by the verdict; a red tick marks a guardrail's non-inferiority threshold."
        )
        for _, decided in decisions.iterrows():
            arm = results[
                (results["experiment_id"] == decided["experiment_id"])
                & (results["variant"] == decided["variant"])
            ]
            _experiment(decided, arm)

    st.markdown("#### Which audio features drive engagement")
    labels = marts.feature_labels()
    if labels:
        feature = st.selectbox("Audio feature", labels, key="feature")
        buckets = marts.feature_engagement(feature)
        st.bar_chart(buckets.set_index("feature_bucket")[["skip_rate", "completion_rate"]])
        _table(
            buckets[["feature_bucket", "min_value", "max_value", "tracks", "plays",
                     "minutes_listened", "completion_rate", "skip_rate"]],
            {"min_value": 3, "max_value": 3, "tracks": 0, "plays": 0, "minutes_listened": 1,
             "completion_rate": 3, "skip_rate": 3},
        )  # fmt: skip
