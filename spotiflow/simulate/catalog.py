"""The synthetic catalog: tracks with audio features, durations and Zipf-like popularity.

Artists have a sound (a centre in the seven-feature space); their tracks scatter around it.
Popularity follows a Zipf law over a random order of tracks: a few hits, a long tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.lake.schemas import AUDIO_FEATURES
from spotiflow.simulate.params import GeneratorParams

_ALPHABET = np.array(list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_WORDS = [
    "amber",
    "blue",
    "cold",
    "dawn",
    "echo",
    "fire",
    "gold",
    "honey",
    "iron",
    "jade",
    "kind",
    "late",
    "moon",
    "night",
    "ocean",
    "paper",
    "quiet",
    "red",
    "silver",
    "tide",
    "velvet",
    "wild",
    "young",
    "zero",
    "city",
    "dream",
    "glass",
    "heart",
    "light",
    "river",
    "rain",
    "star",
    "summer",
    "winter",
    "shadow",
    "stone",
    "electric",
    "golden",
    "hollow",
    "northern",
    "paper",
    "secret",
    "slow",
    "sweet",
]
# Beta(a, b) per feature for artists' centres: shapes like Spotify's own distributions (little
# speech and liveness, most music not instrumental, danceability and energy above the middle).
_FEATURE_SHAPES = {
    "acousticness": (0.8, 2.0),
    "danceability": (5.0, 3.0),
    "energy": (4.0, 2.5),
    "instrumentalness": (0.3, 3.0),
    "liveness": (1.5, 8.0),
    "speechiness": (1.2, 12.0),
    "valence": (2.5, 2.5),
}
_TRACK_SPREAD = 0.08
ZIPF_EXPONENT = 1.05


@dataclass(frozen=True)
class SyntheticCatalog:
    track_ids: np.ndarray  # str, Spotify-like base62 ids
    track_names: np.ndarray
    artist_names: np.ndarray
    artist_of_track: np.ndarray  # int
    features: np.ndarray  # tracks x 7, on 0..1, in AUDIO_FEATURES order
    popularity: np.ndarray  # int 0..100
    popularity_weight: np.ndarray  # Zipf weight, sums to 1
    duration_ms: np.ndarray  # int64
    id_order: np.ndarray  # each track's position when ids are sorted (ties broken as SQL does)

    @property
    def size(self) -> int:
        return len(self.track_ids)


def _names(rng: np.random.Generator, count: int, words: int) -> np.ndarray:
    picks = rng.integers(0, len(_WORDS), size=(count, words))
    vocabulary = np.array([word.capitalize() for word in _WORDS])
    return np.array([" ".join(row) for row in vocabulary[picks]], dtype=object)


def build_catalog(params: GeneratorParams) -> SyntheticCatalog:
    rng = np.random.default_rng([params.seed, 0])
    track_count = params.tracks
    artist_count = max(20, track_count // 10)
    centres = np.column_stack(
        [rng.beta(a, b, size=artist_count) for a, b in _FEATURE_SHAPES.values()]
    )
    artist_of_track = rng.integers(0, artist_count, size=track_count)
    noise = rng.normal(0.0, _TRACK_SPREAD, size=(track_count, len(AUDIO_FEATURES)))
    features = np.clip(centres[artist_of_track] + noise, 0.0, 1.0).round(6)
    popularity_rank = rng.permutation(track_count) + 1
    weight = 1.0 / popularity_rank.astype(np.float64) ** ZIPF_EXPONENT
    popularity = np.rint(100 * (1 - np.log(popularity_rank) / np.log(track_count + 1)))
    duration = np.clip(rng.normal(215_000, 45_000, size=track_count), 90_000, 480_000)
    ids = np.array(["".join(row) for row in _ALPHABET[rng.integers(0, 62, (track_count, 22))]])
    artist_names = np.array([f"The {name}s" for name in _names(rng, artist_count, 2)])
    return SyntheticCatalog(
        track_ids=ids,
        track_names=_names(rng, track_count, 3),
        artist_names=artist_names[artist_of_track],
        artist_of_track=artist_of_track,
        features=features,
        popularity=popularity.astype(np.int32),
        popularity_weight=weight / weight.sum(),
        duration_ms=duration.astype(np.int64),
        id_order=np.argsort(np.argsort(ids, kind="stable"), kind="stable"),
    )


def nearest_neighbours(features: np.ndarray, count: int, chunk: int = 512) -> np.ndarray:
    """For every track, the `count` other tracks closest in audio features, closest first."""
    count = min(count, len(features) - 1)
    squared = (features**2).sum(axis=1)
    result = np.empty((len(features), count), dtype=np.int32)
    for start in range(0, len(features), chunk):
        rows = slice(start, min(start + chunk, len(features)))
        distance = squared[rows, None] + squared[None, :] - 2 * features[rows] @ features.T
        distance[np.arange(distance.shape[0]), np.arange(rows.start, rows.stop)] = np.inf
        nearest = np.argpartition(distance, count, axis=1)[:, :count]
        order = np.argsort(np.take_along_axis(distance, nearest, axis=1), axis=1, kind="stable")
        result[rows] = np.take_along_axis(nearest, order, axis=1)
    return result
