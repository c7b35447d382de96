"""Listening over time, week by week, with the recommenders in the loop.

Each day a listener is active they play a Poisson number of tracks from their library (only
tracks discovered by that day), around their peak hour. A play is skipped more often the further
the track is from their taste, and less often the more danceable it is: the planted effect that
the feature-engagement mart should find. At the end of each week (Monday 00:00 on the listener's
clock) their model recommends LIST_LENGTH tracks for each of their top SEEDS_PER_WEEK songs,
ranked as the marts rank them; in the next week they replay some recommended tracks they know
and adopt some new ones close to their taste, which they then play. So recommended tracks really
are played later, more so from the better model.

Times are seconds since the first day's midnight on the listener's own clock ("local offsets").
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from spotiflow.simulate.catalog import SyntheticCatalog
from spotiflow.simulate.params import (
    LIST_LENGTH,
    MODELS,
    SEEDS_PER_WEEK,
    TREATMENT_LIFT,
    GeneratorParams,
)
from spotiflow.simulate.population import Listeners
from spotiflow.simulate.recommender import recommend

DAY = 86_400
WEEK = 7 * DAY
MIN_STREAM_MS = 30_000
REASONS_START = np.array(["trackdone", "clickrow", "fwdbtn", "playbtn"])
REMINDER_REPLAY_CHANCE = 0.10
ADOPTION_CHANCE = 0.15
ADOPTION_WIDTH = 0.20


@dataclass
class Plays:
    """Plays as parallel arrays (one element per play)."""

    user: np.ndarray  # position in the batch
    track: np.ndarray  # catalog index
    local_end: np.ndarray  # local offset (s) when the play ended
    ms_played: np.ndarray
    skipped: np.ndarray
    reason_start: np.ndarray
    reason_end: np.ndarray
    shuffle: np.ndarray

    def take(self, index: np.ndarray) -> Plays:
        return Plays(*(getattr(self, f.name)[index] for f in fields(self)))

    @classmethod
    def concat(cls, parts: list[Plays]) -> Plays:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


@dataclass
class Lists:
    """Recommendation lists as parallel arrays (one element per recommended track)."""

    user: np.ndarray
    week: np.ndarray  # the week seeded from; generated at the start of the next one
    model: np.ndarray  # index into MODELS
    seed_track: np.ndarray
    rank: np.ndarray
    track: np.ndarray
    score: np.ndarray


def group_ordinal(starts_group: np.ndarray) -> np.ndarray:
    """Each element's position within its run (a run begins where starts_group is true)."""
    starts = np.flatnonzero(starts_group)
    return np.arange(len(starts_group)) - np.repeat(
        starts, np.diff(np.r_[starts, len(starts_group)])
    )


def _new_plays(
    rng: np.random.Generator,
    catalog: SyntheticCatalog,
    listeners: Listeners,
    user: np.ndarray,
    track: np.ndarray,
    local_end: np.ndarray,
) -> Plays:
    """How each play went: skipped early, played through, or stopped part way."""
    count = len(user)
    distance = np.sqrt(((catalog.features[track] - listeners.taste[user]) ** 2).sum(axis=1))
    danceability = catalog.features[track, 1]
    skip_chance = np.clip(
        listeners.skip_propensity[user] + 0.6 * (distance - 0.3) - 0.3 * (danceability - 0.6),
        0.02,
        0.95,
    )
    skipped = rng.random(count) < skip_chance
    duration = catalog.duration_ms[track]
    stopped = ~skipped & (rng.random(count) < 0.1)
    ms_played = duration.copy()
    ms_played[skipped] = np.minimum(
        rng.integers(1_500, 45_000, size=int(skipped.sum())), duration[skipped]
    )
    ms_played[stopped] = (duration[stopped] * rng.uniform(0.4, 0.95, int(stopped.sum()))).astype(
        np.int64
    )
    reason_end = np.where(skipped, "fwdbtn", np.where(stopped, "endplay", "trackdone"))
    return Plays(
        user=user.astype(np.int32),
        track=track.astype(np.int32),
        local_end=local_end.astype(np.int64),
        ms_played=ms_played.astype(np.int64),
        skipped=skipped,
        reason_start=REASONS_START[rng.choice(4, size=count, p=[0.6, 0.2, 0.15, 0.05])],
        reason_end=reason_end,
        shuffle=rng.random(count) < listeners.shuffle_chance[user],
    )


def _times_of_day(rng: np.random.Generator, listeners: Listeners, user: np.ndarray) -> np.ndarray:
    hours = (listeners.peak_hour[user] + rng.normal(0, 3, size=len(user))) % 24
    return (hours * 3600).astype(np.int64)


def _library_tracks(
    rng: np.random.Generator, listeners: Listeners, user: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """A track per play, by affinity among the library tracks discovered by that day."""
    size = listeners.library.shape[1]
    flat = (listeners.library_cumulative + np.arange(listeners.count)[:, None]).ravel()

    def draw(users: np.ndarray) -> np.ndarray:
        found = np.searchsorted(flat, users + rng.random(len(users)), side="right") - users * size
        return np.minimum(found, size - 1)

    position = draw(user)
    for _ in range(10):
        pending = np.flatnonzero(listeners.discovered_day[user, position] > day)
        if not len(pending):
            break
        position[pending] = draw(user[pending])
    position[listeners.discovered_day[user, position] > day] = 0
    return listeners.library[user, position]


def everyday_plays(
    rng: np.random.Generator,
    params: GeneratorParams,
    catalog: SyntheticCatalog,
    listeners: Listeners,
) -> Plays:
    shape = (listeners.count, params.days)
    active = rng.random(shape) < listeners.active_day_chance[:, None]
    # The planted lift: treatment listeners play more from the day they are assigned.
    assigned = np.arange(params.days) >= 7 * params.experiment_start_week
    treated = listeners.treatment[:, None] & assigned[None, :]
    rate = listeners.plays_per_active_day[:, None] * (1 + TREATMENT_LIFT * treated)
    counts = np.where(active, rng.poisson(rate), 0)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    user, day = np.divmod(cell, params.days)
    local_end = day * DAY + _times_of_day(rng, listeners, user)
    track = _library_tracks(rng, listeners, user, day)
    return _new_plays(rng, catalog, listeners, user, track, local_end)


def top_songs(plays: Plays, catalog: SyntheticCatalog) -> tuple[np.ndarray, np.ndarray]:
    """Each listener's top SEEDS_PER_WEEK songs among these plays, as the marts rank them:
    music streams, then minutes, then track id."""
    streams = plays.ms_played >= MIN_STREAM_MS
    key = plays.user[streams].astype(np.int64) * catalog.size + plays.track[streams]
    songs, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    listened = np.bincount(inverse, weights=plays.ms_played[streams])
    user, track = np.divmod(songs, catalog.size)
    order = np.lexsort((catalog.id_order[track], -listened, -counts, user))
    user, track = user[order], track[order]
    rank = group_ordinal(np.r_[True, user[1:] != user[:-1]])
    keep = rank < SEEDS_PER_WEEK
    return user[keep], track[keep]


def _follow_ups(
    rng: np.random.Generator,
    catalog: SyntheticCatalog,
    listeners: Listeners,
    list_user: np.ndarray,
    recommended: np.ndarray,
    week_start: int,
) -> Plays:
    """Plays in the week after a list: known tracks replayed, new ones near taste adopted."""
    user = np.repeat(list_user, recommended.shape[1])
    track = recommended.ravel()
    known = (listeners.library[user] == track[:, None]).any(axis=1)
    distance = ((catalog.features[track] - listeners.taste[user]) ** 2).sum(axis=1)
    chance = np.where(
        known,
        REMINDER_REPLAY_CHANCE,
        ADOPTION_CHANCE * np.exp(-distance / (2 * ADOPTION_WIDTH**2)),
    )
    taken = rng.random(len(track)) < chance
    repeats = np.where(known[taken], 1, 1 + rng.poisson(1.5, size=int(taken.sum())))
    user = np.repeat(user[taken], repeats)
    track = np.repeat(track[taken], repeats)
    day = rng.integers(0, 7, size=len(user))
    local_end = week_start + day * DAY + np.maximum(_times_of_day(rng, listeners, user), 1)
    return _new_plays(rng, catalog, listeners, user, track, local_end)


def simulate(
    params: GeneratorParams,
    catalog: SyntheticCatalog,
    neighbours: np.ndarray,
    listeners: Listeners,
    batch: int,
) -> tuple[Plays, Lists]:
    rng = np.random.default_rng([params.seed, 2, batch])
    plays_by_week: dict[int, list[Plays]] = {}
    everyday = everyday_plays(rng, params, catalog, listeners)
    week_of_play = everyday.local_end // WEEK
    for week in range(params.weeks + 1):
        plays_by_week[week] = [everyday.take(np.flatnonzero(week_of_play == week))]
    treatment_model = np.where(listeners.treatment, 1, 0)
    parts: list[tuple] = []
    # Lists are judged on the week after them, which must end before the data does (the
    # marts judge a window only once plays reach past it).
    for week in range(params.list_weeks):
        seed_user, seed_track = top_songs(Plays.concat(plays_by_week[week]), catalog)
        # Week w's lists are generated as week w + 1 starts: the arm's model once assigned.
        assigned = week + 1 >= params.experiment_start_week
        model_index = treatment_model if assigned else np.zeros_like(treatment_model)
        for index, model in enumerate(MODELS):
            served = model_index[seed_user] == index
            users, seeds = seed_user[served], seed_track[served]
            if not len(users):
                continue
            chosen, scores = recommend(rng, catalog, neighbours, listeners, model, users, seeds)
            lists = len(users)
            parts.append(
                (
                    np.repeat(users, LIST_LENGTH),
                    np.full(lists * LIST_LENGTH, week),
                    np.full(lists * LIST_LENGTH, index),
                    np.repeat(seeds, LIST_LENGTH),
                    np.tile(np.arange(1, LIST_LENGTH + 1), lists),
                    chosen.ravel(),
                    scores.ravel(),
                )
            )
            follow = _follow_ups(rng, catalog, listeners, users, chosen, (week + 1) * WEEK)
            plays_by_week[week + 1].append(follow)
    plays = Plays.concat([part for week in sorted(plays_by_week) for part in plays_by_week[week]])
    plays = plays.take(np.flatnonzero(plays.local_end < params.days * DAY))
    plays = plays.take(np.lexsort((plays.track, plays.local_end, plays.user)))
    columns = [
        np.concatenate(column) if parts else np.array([]) for column in zip(*parts, strict=False)
    ]
    lists = Lists(*columns) if parts else Lists(*(np.array([], dtype=np.int64) for _ in range(7)))
    return plays, lists
