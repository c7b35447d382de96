"""What a generated population is made of: its size, its seed, and the models it serves.

Everything generated is a function of GeneratorParams alone: the same parameters give the same
rows (and the same load keys, so generating twice lands nothing new).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

# Bumped whenever the same parameters would generate different rows.
GENERATOR_VERSION = "2"

EXPERIMENT_ID = "taste-knn-v2-rollout"
CONTROL_VARIANT = "control"
TREATMENT_VARIANT = "treatment"
# The experiment starts after a pre-period, whose listening CUPED adjusts by: listeners are
# assigned at the start of this week (their own midnight), and the treatment model serves its
# arm from then on; before, everyone has the control model.
EXPERIMENT_START_WEEK = 3
# The planted effect, of known size: from assignment, treatment listeners play this much more on
# each active day (a lift of their plays per active day).
TREATMENT_LIFT = 0.10
# The share of listeners the plan (seed experiment_arms) assigns to treatment; generating any
# other share is a sample ratio mismatch for the analysis to catch.
PLANNED_TREATMENT_SHARE = 0.5


@dataclass(frozen=True)
class ModelSpec:
    """One recommender of the population, with the knobs that set its quality.

    library_share: the chance that a slot is filled from the listener's own taste (tracks they
        play, or will play, near the seed): the model "knows" the listener. Such tracks are the
        ones that really get played in the window after the list.
    neighbourhood: the other slots come from this many catalog tracks nearest to the seed's
        audio features; a wide neighbourhood recommends tracks less like the seed.
    popularity_weighted: pick neighbours by popularity (a popularity-biased model) or evenly.
    ordered: put the listener's own tracks first (good ranking) or rank the list at random.
    """

    model_name: str
    model_version: str
    variant: str
    library_share: float
    neighbourhood: int
    popularity_weighted: bool
    ordered: bool


# The control model is the weaker one by construction; the candidate must beat it on hit rate,
# NDCG and feature similarity (a test holds it to that).
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("taste-knn", "1.0.0", CONTROL_VARIANT, 0.15, 1500, True, False),
    ModelSpec("taste-knn", "2.0.0", TREATMENT_VARIANT, 0.50, 25, False, True),
)

LIST_LENGTH = 10
SEEDS_PER_WEEK = 5
LIBRARY_SIZE = 120
# Plays held in memory at once (one batch of listeners): what bounds the generator's memory.
PLAYS_PER_BATCH = 1_500_000
EXPECTED_PLAYS_PER_DAY = 12


@dataclass(frozen=True)
class GeneratorParams:
    users: int
    days: int
    seed: int
    tracks: int
    start: date
    treatment_share: float = PLANNED_TREATMENT_SHARE

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError("--users must be at least 1")
        if self.days < 15:
            raise ValueError(
                "--days must be at least 15 (a week to seed lists, one to judge them, a day more)"
            )
        if self.tracks < 200:
            raise ValueError("--tracks must be at least 200")
        if not 0 < self.treatment_share < 1:
            raise ValueError("--treatment-share must be between 0 and 1 (exclusive)")

    @classmethod
    def create(
        cls,
        users: int,
        days: int,
        seed: int,
        tracks: int | None = None,
        start: date | None = None,
        treatment_share: float = PLANNED_TREATMENT_SHARE,
    ) -> GeneratorParams:
        """Parameters with defaults: a catalog that grows with the population; weeks from Monday."""
        if tracks is None:
            tracks = min(20_000, max(2_000, users * 20))
        start = start or date(2026, 6, 1)
        start -= timedelta(days=start.weekday())
        return cls(
            users=users,
            days=days,
            seed=seed,
            tracks=tracks,
            start=start,
            treatment_share=treatment_share,
        )

    @property
    def weeks(self) -> int:
        return self.days // 7

    @property
    def list_weeks(self) -> int:
        """Weeks that seed lists: the week after each (which judges it) ends before the data."""
        return max(0, (self.days - 1) // 7 - 1)

    @property
    def experiment_start_week(self) -> int:
        """The week listeners are assigned: EXPERIMENT_START_WEEK, or the last week that still
        seeds lists in shorter populations."""
        return min(EXPERIMENT_START_WEEK, self.list_weeks)

    @property
    def users_per_batch(self) -> int:
        return max(1, PLAYS_PER_BATCH // (self.days * EXPECTED_PLAYS_PER_DAY))

    def batches(self) -> list[tuple[int, int]]:
        """(first user index, user count) per batch."""
        size = self.users_per_batch
        return [(first, min(size, self.users - first)) for first in range(0, self.users, size)]

    def as_options(self) -> dict[str, str]:
        options = {key: str(value) for key, value in asdict(self).items()}
        options["generator_version"] = GENERATOR_VERSION
        return options

    def model_for(self, variant: str) -> ModelSpec:
        return next(model for model in MODELS if model.variant == variant)
