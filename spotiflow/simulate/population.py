"""Synthetic listeners: taste, favourite artists, a daily rhythm, a library, an experiment arm.

A listener's library is the tracks they will ever play, drawn from the catalog by popularity,
closeness to their taste and their favourite artists; half of it is known from the first day,
the rest is discovered on a random later day. Within the library, affinity falls off like Zipf:
a few favourites are played again and again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spotiflow.simulate.catalog import SyntheticCatalog
from spotiflow.simulate.params import LIBRARY_SIZE, GeneratorParams

TIME_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Australia/Sydney",
)
PLATFORMS = ("android", "ios", "windows", "macos", "web")
TASTE_WIDTH = 0.25
_LIBRARY_CHUNK = 256


@dataclass(frozen=True)
class Listeners:
    """One batch of listeners; arrays are indexed by the listener's position in the batch."""

    user_ids: list[str]
    time_zones: np.ndarray  # str
    treatment: np.ndarray  # bool: in the experiment's treatment arm
    taste: np.ndarray  # n x 7
    plays_per_active_day: np.ndarray
    active_day_chance: np.ndarray
    peak_hour: np.ndarray
    skip_propensity: np.ndarray
    shuffle_chance: np.ndarray
    platform: np.ndarray  # str
    library: np.ndarray  # n x LIBRARY_SIZE catalog indexes, most loved first
    library_cumulative: np.ndarray  # n x LIBRARY_SIZE, cumulative affinity (rows end at 1)
    discovered_day: np.ndarray  # n x LIBRARY_SIZE, first day a library track may be played

    @property
    def count(self) -> int:
        return len(self.user_ids)


def user_id(params: GeneratorParams, index: int) -> str:
    # Synthetic listeners are nobody: their ids stay readable (no salted hash is needed).
    return f"gen-{params.seed}-{index:07d}"


def squared_distances(points: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance from each point (rows) to each track's features (columns)."""
    return np.maximum(
        (points**2).sum(axis=1)[:, None]
        + (features**2).sum(axis=1)[None, :]
        - 2 * points @ features.T,
        0.0,
    )


def gumbel_top(rng: np.random.Generator, log_weights: np.ndarray, count: int) -> np.ndarray:
    """Per row, `count` columns drawn without replacement with probability ∝ exp(log_weights),
    in draw order (the Gumbel-top-k trick)."""
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    top = np.argpartition(-keys, count - 1, axis=1)[:, :count]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def build_listeners(
    params: GeneratorParams, catalog: SyntheticCatalog, batch: int, first: int, count: int
) -> Listeners:
    rng = np.random.default_rng([params.seed, 1, batch])
    artist_count = int(catalog.artist_of_track.max()) + 1
    artist_weight = np.bincount(
        catalog.artist_of_track, weights=catalog.popularity_weight, minlength=artist_count
    )
    favourite_artists = gumbel_top(
        rng, np.log(np.tile(artist_weight + 1e-12, (count, 1))), min(8, artist_count)
    )
    favourites_kept = np.arange(favourite_artists.shape[1]) < rng.integers(3, 9, size=(count, 1))
    artist_centre = np.zeros((artist_count, catalog.features.shape[1]))
    np.add.at(artist_centre, catalog.artist_of_track, catalog.features)
    artist_centre /= np.maximum(np.bincount(catalog.artist_of_track, minlength=artist_count), 1)[
        :, None
    ]
    taste = artist_centre[favourite_artists[:, :3]].mean(axis=1)
    taste = np.clip(taste + rng.normal(0, 0.05, size=taste.shape), 0, 1)

    size = min(LIBRARY_SIZE, catalog.size)
    library = np.empty((count, size), dtype=np.int64)
    log_popularity = 0.6 * np.log(catalog.popularity_weight)
    for start in range(0, count, _LIBRARY_CHUNK):
        rows = slice(start, min(start + _LIBRARY_CHUNK, count))
        distance = squared_distances(taste[rows], catalog.features)
        favourite = np.zeros((distance.shape[0], artist_count), dtype=bool)
        np.put_along_axis(favourite, favourite_artists[rows], favourites_kept[rows], axis=1)
        boost = np.log1p(4.0 * favourite[:, catalog.artist_of_track])
        log_weights = log_popularity - distance / (2 * TASTE_WIDTH**2) + boost
        library[rows] = gumbel_top(rng, log_weights, size)

    affinity = 1.0 / np.arange(1, size + 1) ** 0.9
    cumulative = np.tile(np.cumsum(affinity) / affinity.sum(), (count, 1))
    discovered = np.where(
        rng.random((count, size)) < 0.5, 0, rng.integers(0, params.days, (count, size))
    )
    discovered[:, :10] = 0  # the favourites are known from the start
    return Listeners(
        user_ids=[user_id(params, first + i) for i in range(count)],
        time_zones=np.array(TIME_ZONES)[rng.integers(0, len(TIME_ZONES), size=count)],
        treatment=rng.random(count) < params.treatment_share,
        taste=taste,
        plays_per_active_day=np.clip(rng.lognormal(np.log(14), 0.5, size=count), 2, 80),
        active_day_chance=rng.beta(6, 2, size=count),
        peak_hour=rng.choice([8.0, 13.0, 18.0, 21.0], size=count) + rng.normal(0, 1, size=count),
        skip_propensity=rng.beta(2, 7, size=count),
        shuffle_chance=rng.beta(2, 3, size=count),
        platform=np.array(PLATFORMS)[rng.integers(0, len(PLATFORMS), size=count)],
        library=library,
        library_cumulative=cumulative,
        discovered_day=discovered,
    )
