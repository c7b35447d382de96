"""The baseline recommender: k nearest neighbours on audio features, seeded by weekly top songs.

It reads the marts (each user's weekly top songs and every track with features), finds for each
seed the k closest other tracks by Euclidean distance over the seven features (all on 0..1, so no
further scaling is needed), and writes a recommender-output file that lands like any model's.
Each list is stamped with the end of the week it was seeded from (midnight on the listener's
clock, in UTC): a backtest of what the model would have recommended as the week closed. The
same inputs give the same run ids and the same file, so running it again lands nothing new.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from ingest.identity import stable_hash
from ingest.lake.landing import write_parquet_atomically
from ingest.lake.schemas import AUDIO_FEATURES, RECOMMENDATIONS
from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings
from spotiflow.warehouse.engines import open_warehouse

MODEL_NAME = "baseline-knn"
MODEL_VERSION = "1.0.0"


@dataclass(frozen=True)
class RecommenderParams:
    k: int = 5
    top_n: int = 5
    model_name: str = MODEL_NAME
    model_version: str = MODEL_VERSION


class Seed(NamedTuple):
    user_id: str
    week_start: date
    song_rank: int
    track_id: str
    time_zone: str


def week_end_utc(week_start: date, time_zone: str) -> datetime:
    """Midnight at the end of the week on the listener's clock, as a UTC time without a zone."""
    local = datetime.combine(week_start + timedelta(days=7), time(), tzinfo=ZoneInfo(time_zone))
    return local.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Catalog:
    """Candidate tracks, sorted by id so that equal distances break the same way every run."""

    track_ids: list[str]
    features: np.ndarray
    position: dict[str, int]

    @classmethod
    def from_rows(cls, rows: list[tuple]) -> Catalog:
        track_ids = [row[0] for row in rows]
        features = np.array([row[1:] for row in rows], dtype=np.float64)
        features = features.reshape(len(rows), len(AUDIO_FEATURES))
        return cls(track_ids, features, {track_id: i for i, track_id in enumerate(track_ids)})

    def fingerprint(self) -> str:
        digest = hashlib.sha256("\x1f".join(self.track_ids).encode("utf-8"))
        digest.update(self.features.tobytes())
        return digest.hexdigest()

    def nearest(self, track_id: str, k: int) -> list[tuple[str, float]]:
        """The k tracks closest to `track_id` (itself excluded), closest first."""
        origin = self.position[track_id]
        distances = np.sqrt(((self.features - self.features[origin]) ** 2).sum(axis=1))
        distances[origin] = np.inf
        order = np.argsort(distances, kind="stable")[:k]
        return [
            (self.track_ids[i], float(distances[i])) for i in order if np.isfinite(distances[i])
        ]


def read_inputs(settings: Settings, top_n: int) -> tuple[Catalog, list[Seed]]:
    """Tracks with all seven features, and each user's top-N songs per week, from the marts."""
    feature_list = ", ".join(AUDIO_FEATURES)
    complete = " and ".join(f"{name} is not null" for name in AUDIO_FEATURES)
    with open_warehouse(settings) as connection:
        connection.require_marts("dim_tracks", "dim_users", "fct_weekly_top_songs")
        tracks = connection.rows(
            f"select track_id, {feature_list} from marts.dim_tracks where {complete} "
            "order by track_id"
        )
        seeds = connection.rows(
            "select songs.user_id, songs.week_start, songs.song_rank, songs.track_id, "
            "users.time_zone from marts.fct_weekly_top_songs as songs "
            "inner join marts.dim_users as users on songs.user_id = users.user_id "
            "where songs.song_rank <= ? order by 1, 2, 3",
            [top_n],
        )
    return Catalog.from_rows(tracks), [Seed(*row) for row in seeds]


def recommendation_rows(
    catalog: Catalog, seeds: list[Seed], params: RecommenderParams
) -> tuple[list[dict], int]:
    """The output rows for every seed with features, and how many seeds had none."""
    seed_key = "\x1e".join(f"{s.user_id}\x1f{s.week_start}\x1f{s.track_id}" for s in seeds)
    inputs = hashlib.sha256(seed_key.encode("utf-8")).hexdigest() + catalog.fingerprint()
    rows: list[dict] = []
    without_features = 0
    for seed in seeds:
        if seed.track_id not in catalog.position:
            without_features += 1
            continue
        generated_at = week_end_utc(seed.week_start, seed.time_zone)
        # One run per point in time: a user's top song may seed lists in several weeks.
        run_id = stable_hash(
            params.model_name, params.model_version, params.k, params.top_n, inputs, generated_at
        )
        for rank, (track_id, distance) in enumerate(catalog.nearest(seed.track_id, params.k), 1):
            rows.append(
                {
                    "run_id": run_id,
                    "model_name": params.model_name,
                    "model_version": params.model_version,
                    "variant": None,
                    "generated_at": generated_at,
                    "user_id": seed.user_id,
                    "seed_track_id": seed.track_id,
                    "rank": rank,
                    "recommended_track_id": track_id,
                    # 1 for an identical feature vector, towards 0 as the distance grows.
                    "score": 1.0 / (1.0 + distance),
                }
            )
    return rows, without_features


def recommend(settings: Settings, params: RecommenderParams) -> Path | None:
    """Write the runs' recommendations to data/model_outputs/; None when there is no seed."""
    if params.k < 1 or params.top_n < 1:
        raise SpotiflowError("--k and --top-n must be at least 1")
    catalog, seeds = read_inputs(settings, params.top_n)
    rows, without_features = recommendation_rows(catalog, seeds, params)
    if without_features:
        print(f"recommend: {without_features} seed song(s) have no audio features; skipped")
    if not rows:
        return None
    output_id = stable_hash(*sorted({row["run_id"] for row in rows}))
    name = f"{params.model_name}-{params.model_version}-{output_id}.parquet"
    output = settings.models_output_dir / name
    write_parquet_atomically(pa.Table.from_pylist(rows, schema=RECOMMENDATIONS), output)
    return output
