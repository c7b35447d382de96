"""The demo's closing summary, read from the marts (no metric is computed here)."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.settings import Settings
from ingest.warehouse import connect, require_marts

SUMMARY_MARTS = (
    "fct_daily_listening",
    "fct_weekly_top_songs",
    "fct_prediction_similarity",
    "fct_predicted_vs_actual",
    "fct_loads",
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
    with connect(settings) as connection:
        require_marts(connection, *SUMMARY_MARTS)
        loads = connection.execute(
            "select count(*), sum(rows_in), sum(rows_landed), sum(rows_rejected) "
            "from marts.fct_loads"
        ).fetchall()[0]
        print(
            f"\nLoads: {loads[0]} — {loads[1] or 0} rows in, {loads[2] or 0} landed, "
            f"{loads[3] or 0} rejected (marts.fct_loads, marts.fct_rejected_rows)"
        )
        daily = connection.execute(
            "select user_id, listen_date, plays, minutes_listened, energy_score, "
            "musicality_score, positivity_score, listening_vibe "
            "from marts.fct_daily_listening order by user_id, listen_date"
        ).fetchall()
        print("\nPer day (marts.fct_daily_listening)")
        print(format_table(
            ["user", "date", "plays", "minutes", "energy", "musicality", "positivity", "vibe"],
            daily,
        ))  # fmt: skip
        top = connection.execute(
            "select user_id, week_start, song_rank, track_name, artist_name, plays, "
            "minutes_listened, positivity_score from marts.fct_weekly_top_songs "
            "where song_rank <= 5 order by user_id, week_start, song_rank"
        ).fetchall()
        print("\nWeekly top songs (marts.fct_weekly_top_songs, song_rank <= 5)")
        print(format_table(
            ["user", "week", "#", "track", "artist", "plays", "minutes", "positivity"], top
        ))  # fmt: skip
        similarity = connection.execute(
            "select user_id, week_start, model_name, model_version, top_song_index, "
            "similarity, cosine_similarity from marts.fct_prediction_similarity "
            "order by user_id, week_start, model_name, model_version, top_song_index"
        ).fetchall()
        print("\nPredicted vs actual: similarity per top song (marts.fct_prediction_similarity)")
        print(format_table(
            ["user", "week", "model", "version", "top song #", "1 - mean |diff|", "cosine"],
            similarity,
        ))  # fmt: skip
        detail = connection.execute(
            "select top_song_index, feature_label, predicted_value, actual_value, difference "
            "from marts.fct_predicted_vs_actual "
            "where (user_id, week_start, model_name, model_version) = ("
            "  select (user_id, week_start, model_name, model_version) "
            "  from marts.fct_predicted_vs_actual order by week_start desc, user_id limit 1) "
            "and top_song_index = 1 order by audio_feature"
        ).fetchall()
        if detail:
            print("\nPredicted vs actual, latest week, top song #1 (marts.fct_predicted_vs_actual)")
            print(format_table(["#", "feature", "predicted", "actual", "difference"], detail))
    print(f"\nThe warehouse is {settings.warehouse_path}: any BI tool can read schema `marts`.")
