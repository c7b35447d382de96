"""The population's recommenders: lists of tracks for (listener, seed track), of known quality.

A slot is filled from the listener's own library with probability `library_share` (tracks near
the seed that the listener loves, whether or not they have found them yet), otherwise from the
seed's `neighbourhood` nearest catalog tracks. See ModelSpec for the knobs.
"""

from __future__ import annotations

import numpy as np

from spotiflow.simulate.catalog import SyntheticCatalog
from spotiflow.simulate.params import LIST_LENGTH, ModelSpec
from spotiflow.simulate.population import Listeners, gumbel_top

SEED_WIDTH = 0.10


def recommend(
    rng: np.random.Generator,
    catalog: SyntheticCatalog,
    neighbours: np.ndarray,
    listeners: Listeners,
    model: ModelSpec,
    list_user: np.ndarray,
    seed_track: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One list per (listener, seed): catalog indexes (lists x LIST_LENGTH), best first, and
    the model's scores."""
    lists = len(list_user)
    library = listeners.library[list_user]
    affinity = np.diff(listeners.library_cumulative[list_user], axis=1, prepend=0.0)
    gap = ((catalog.features[library] - catalog.features[seed_track][:, None, :]) ** 2).sum(axis=2)
    log_weights = np.log(affinity) - gap / (2 * SEED_WIDTH**2)
    log_weights[library == seed_track[:, None]] = -np.inf
    own_picks = np.take_along_axis(library, gumbel_top(rng, log_weights, LIST_LENGTH), axis=1)
    own_slots = rng.binomial(LIST_LENGTH, model.library_share, size=lists)
    own_valid = np.arange(LIST_LENGTH)[None, :] < own_slots[:, None]

    nearby = neighbours[seed_track, : model.neighbourhood]
    nearby_weights = (
        np.log(catalog.popularity_weight[nearby])
        if model.popularity_weighted
        else np.zeros(nearby.shape)
    )
    nearby_picks = np.take_along_axis(nearby, gumbel_top(rng, nearby_weights, LIST_LENGTH), axis=1)
    repeated = ((nearby_picks[:, :, None] == own_picks[:, None, :]) & own_valid[:, None, :]).any(2)

    candidates = np.concatenate([own_picks, nearby_picks], axis=1)
    valid = np.concatenate([own_valid, ~repeated], axis=1)
    first_valid = np.argsort(~valid, axis=1, kind="stable")[:, :LIST_LENGTH]
    chosen = np.take_along_axis(candidates, first_valid, axis=1)
    if model.ordered:
        scores = np.tile(np.linspace(0.95, 0.5, LIST_LENGTH), (lists, 1))
    else:
        order = np.argsort(rng.random((lists, LIST_LENGTH)), axis=1)
        chosen = np.take_along_axis(chosen, order, axis=1)
        scores = -np.sort(-rng.random((lists, LIST_LENGTH)), axis=1)
    return chosen, scores.round(6)
