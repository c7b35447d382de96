"""Reading the marts for the dashboard: one read-only query at a time, cached briefly.

Every figure on screen is a mart's value (or a row filter of one): no metric is computed here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import duckdb
import pandas as pd

from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings
from spotiflow.warehouse.engines import open_warehouse
from spotiflow.warehouse.engines.reader import MARTS_SCHEMA
from spotiflow.warehouse.publish import status_lines

ALL_USERS = "All users"
BUSY_WAIT_SECONDS = 5

# What the dashboard reads; a warehouse without them is not built yet.
REQUIRED_MARTS = (
    "dim_tracks",
    "dim_users",
    "fct_daily_listening",
    "fct_population_daily_listening",
    "fct_weekly_top_songs",
    "fct_population_weekly_top_songs",
    "fct_predicted_vs_actual",
    "fct_prediction_similarity",
    "fct_model_performance",
    "fct_model_comparison",
    "fct_recommendation_accuracy_daily",
    "fct_experiment_results",
    "fct_experiment_decisions",
    "fct_feature_engagement",
)


class WarehouseNotReady(Exception):
    """The warehouse is missing, busy, or lacks marts: the dashboard says so instead."""


def _not_built_errors() -> tuple[type[Exception], ...]:
    """What an engine raises for a relation that is not there (a mart not built yet)."""
    errors: list[type[Exception]] = [duckdb.CatalogException]
    with contextlib.suppress(ImportError):
        from psycopg2.errors import UndefinedTable

        errors.append(UndefinedTable)
    return tuple(errors)


@dataclass(frozen=True)
class Marts:
    """Queries against the engine's marts, one read-only connection per query."""

    settings: Settings

    @classmethod
    def from_settings(cls, settings: Settings) -> Marts:
        # Only a plain dbt writing the published file holds it: say so after a few seconds.
        return cls(replace(settings, warehouse_lock_wait=BUSY_WAIT_SECONDS))

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        try:
            with open_warehouse(self.settings) as warehouse:
                return warehouse.frame(sql, params or [])
        except SpotiflowError as reason:
            raise WarehouseNotReady(
                f"{str(reason)[0].upper()}{str(reason)[1:]} "
                "(`make demo` builds the bundled sample and a generated population)."
            ) from None
        except _not_built_errors() as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WarehouseNotReady(
                f"The warehouse has no such mart ({first}): run `spotiflow build` first."
            ) from None

    def build_status(self) -> list[str]:
        """Which build is shown: data as of when, and a warning when the latest build failed
        (readers stay on the one before). Not cached: it changes when a build publishes."""
        with contextlib.suppress(SpotiflowError, duckdb.Error, OSError):
            return status_lines(self.settings)
        return []

    def missing_marts(self) -> list[str]:
        present = set(
            self.query(
                "select table_name from information_schema.tables where table_schema = ?",
                [MARTS_SCHEMA],
            )["table_name"]
        )
        return [name for name in REQUIRED_MARTS if name not in present]

    def listeners(self) -> list[str]:
        """Listeners by music streams, the busiest first."""
        users = self.query(
            "select user_id from marts.dim_users order by music_streams desc, user_id"
        )
        return list(users["user_id"])

    def daily_listening(self, user: str) -> pd.DataFrame:
        if user == ALL_USERS:
            return self.query(
                "select * from marts.fct_population_daily_listening order by listen_date"
            )
        return self.query(
            "select * from marts.fct_daily_listening where user_id = ? order by listen_date", [user]
        )

    def weekly_top_songs(self, user: str, week_start, limit: int) -> pd.DataFrame:
        columns = "song_rank, track_name, artist_name, plays, minutes_listened, positivity_score"
        if user == ALL_USERS:
            return self.query(
                f"select {columns} from marts.fct_population_weekly_top_songs "
                "where week_start = ? and song_rank <= ? order by song_rank",
                [week_start, limit],
            )
        return self.query(
            f"select {columns} from marts.fct_weekly_top_songs "
            "where user_id = ? and week_start = ? and song_rank <= ? order by song_rank",
            [user, week_start, limit],
        )

    def songs_matching(self, user: str, text: str, start, end) -> pd.DataFrame:
        """The user's (or everyone's) weekly top songs in the range whose track or artist name
        contains `text` (case-insensitive)."""
        # Literal text: % and _ in a name are characters, not wildcards.
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        source, user_filter, params = (
            ("marts.fct_population_weekly_top_songs", "", [])
            if user == ALL_USERS
            else ("marts.fct_weekly_top_songs", "user_id = ? and ", [user])
        )
        return self.query(
            "select week_start, song_rank, track_name, artist_name, plays, positivity_score "
            f"from {source} where {user_filter}week_start between ? and ? "
            "and (lower(track_name) like ? escape '\\' or lower(artist_name) like ? escape '\\') "
            "order by week_start, song_rank limit 200",
            [*params, start, end, pattern, pattern],
        )

    def models(self) -> pd.DataFrame:
        return self.query("select * from marts.fct_model_performance order by model_key")

    def predicted_vs_actual(
        self, user: str, week_start, model_key: str, index: int
    ) -> pd.DataFrame:
        return self.query(
            "select comparison.feature_label, comparison.predicted_value, comparison.actual_value, "
            "comparison.difference, comparison.track_id "
            "from marts.fct_predicted_vs_actual as comparison "
            "inner join marts.fct_model_performance as model "
            "on comparison.model_name = model.model_name "
            "and comparison.model_version = model.model_version "
            "and coalesce(comparison.variant, '') = coalesce(model.variant, '') "
            "where comparison.user_id = ? and comparison.week_start = ? and model.model_key = ? "
            "and comparison.top_song_index = ? order by comparison.audio_feature",
            [user, week_start, model_key, index],
        )

    def prediction_similarity(
        self, user: str, week_start, model_key: str, index: int
    ) -> pd.DataFrame:
        return self.query(
            "select similarity.similarity, similarity.cosine_similarity, "
            "similarity.euclidean_distance, similarity.track_id "
            "from marts.fct_prediction_similarity as similarity "
            "inner join marts.fct_model_performance as model "
            "on similarity.model_name = model.model_name "
            "and similarity.model_version = model.model_version "
            "and coalesce(similarity.variant, '') = coalesce(model.variant, '') "
            "where similarity.user_id = ? and similarity.week_start = ? and model.model_key = ? "
            "and similarity.top_song_index = ?",
            [user, week_start, model_key, index],
        )

    def track_names(self, track_ids: list[str]) -> dict[str, str]:
        if not track_ids:
            return {}
        placeholders = ", ".join("?" for _ in track_ids)
        names = self.query(
            "select track_id, coalesce(track_name, track_id) || coalesce(' - ' || artist_name, '') "
            f"as label from marts.dim_tracks where track_id in ({placeholders})",
            list(track_ids),
        )
        return dict(zip(names["track_id"], names["label"], strict=True))

    def comparison(self, reference: str, candidate: str) -> pd.DataFrame:
        return self.query(
            "select metric, metric_family, reference_value, candidate_value, shared_listeners, "
            "mean_paired_difference, confidence_level, ci_lower, ci_upper, p_value_holm, verdict "
            "from marts.fct_model_comparison "
            "where reference_model_key = ? and candidate_model_key = ? order by metric_order",
            [reference, candidate],
        )

    def accuracy_by_day(self) -> pd.DataFrame:
        return self.query(
            "select daily.generated_date, model.model_key, daily.hit_rate, daily.mean_ndcg_at_k "
            "from marts.fct_recommendation_accuracy_daily as daily "
            "inner join marts.fct_model_performance as model "
            "on daily.model_name = model.model_name and daily.model_version = model.model_version "
            "and coalesce(daily.variant, '') = coalesce(model.variant, '') "
            "order by daily.generated_date"
        )

    def experiments(self) -> pd.DataFrame:
        return self.query(
            "select * from marts.fct_experiment_results "
            "order by experiment_id, variant, "
            "case role when 'primary' then 0 when 'guardrail' then 1 else 2 end, metric"
        )

    def experiment_decisions(self) -> pd.DataFrame:
        return self.query(
            "select * from marts.fct_experiment_decisions order by experiment_id, variant"
        )

    def feature_engagement(self, feature: str) -> pd.DataFrame:
        return self.query(
            "select * from marts.fct_feature_engagement where feature_label = ? "
            "order by feature_bucket",
            [feature],
        )

    def feature_labels(self) -> list[str]:
        labels = self.query(
            "select distinct feature_label from marts.fct_feature_engagement order by 1"
        )
        return list(labels["feature_label"])
