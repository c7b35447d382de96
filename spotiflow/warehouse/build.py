"""`spotiflow build`: dbt seed + run + test (dbt build) and the quality checkpoint, in the
build's own place; then, only if all passed, publication to readers (publish.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from ingest.lake.landing import Lake
from spotiflow.errors import BuildError
from spotiflow.settings import Settings
from spotiflow.warehouse import generation, publish
from spotiflow.warehouse.dbt import DbtSession
from spotiflow.warehouse.engines import mark_built, prepare_lake
from spotiflow.warehouse.quality import run_checkpoint

# dbt's arguments for a refresh (see build()): the var is constant, so dbt's partial parsing
# still holds from one refresh to the next.
WITHOUT_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
NEW_DATA_ONLY = (*WITHOUT_UNIT_TESTS, "--vars", "{test_new_data_only: true}")


class Phases:
    """Where a build's time went, step by step: what an hourly refresh pays whatever it brings."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def line(self) -> str:
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.seconds.items())
        return f"build: time by step: {steps}"


def _failure_summary(error: BaseException) -> str:
    # The record keeps counts only, never a failing row's values (they may name a listener).
    if isinstance(error, BuildError):
        return str(error).splitlines()[0]
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return "it stopped before its tests ended"


def build(
    settings: Settings,
    *,
    run_checks: bool = True,
    full_refresh: bool = False,
    new_data_only: bool = False,
) -> None:
    """Build every model and test; publish the build if everything passed, else fail with a
    readable summary and leave readers on the last published build.

    dbt's unit tests, which test the SQL on fixed inputs and never the data, run when the code
    has not yet passed them on this engine. With `new_data_only` (the unattended refresh: new
    data, the same code) they are left out, as dbt advises for production runs, and the data
    tests of play- and run-grained models read the rows changed
    since the last passing build (var test_new_data_only, macros/incremental/new_data_tests.sql).

    The build holds the lake's lock: it never reads a load that is still being written, and
    what a killed landing left is removed first. (dbt's sources read committed loads only
    whoever runs it: macros/lake/committed_lake.sql.) A full refresh rebuilds every incremental
    model from the lake, as after a load was withdrawn.
    """
    lake = Lake(settings.lake_dir)
    phases = Phases()
    with lake.locked("building the warehouse"):
        started_at = publish.now()
        if full_refresh:
            # Every build place is rebuilt in full: this one now, the others when next built.
            generation.ask_for_full_refresh(settings)
        try:
            building, built_by = _build(
                settings, lake, phases, run_checks=run_checks, new_data_only=new_data_only
            )
            with phases.timed("publication"):
                publish.publish(
                    building,
                    publish.Publication(
                        published_at=publish.now(),
                        build_started_at=started_at,
                        data_as_of=publish.data_as_of(lake, started_at),
                        withdrawal=built_by.withdrawal,
                        project=built_by.project,
                        full_refresh=built_by.full_refresh,
                    ),
                )
        except BaseException as error:
            publish.record_attempt(settings, "failed", _failure_summary(error))
            print(f"build: not published; readers keep {publish.what_readers_read(settings)}")
            raise
        publish.record_attempt(settings, "published", "published")
        mark_built(settings)
        print(f"build: published; {publish.status_lines(settings)[0]}")
        print(phases.line())
        # Only now: until this build was published, the last one's sources read those files.
        try:
            superseded = lake.remove_superseded()
        except OSError as error:  # published all the same; the next build tries again
            print(f"build: could not remove files the lake's compaction took over: {error}")
        else:
            if superseded:
                print(f"build: removed {len(superseded)} file(s) the lake's compaction took over")


def _build(
    settings: Settings,
    lake: Lake,
    phases: Phases,
    *,
    run_checks: bool,
    new_data_only: bool,
) -> tuple[Settings, generation.Generation]:
    with phases.timed("staging"):
        # The lake's schema files let sources resolve even before a kind of data has landed.
        lake.ensure_layout()
        removed = lake.recover()
        if removed:
            print(f"build: removed {len(removed)} file(s) an interrupted landing left")
        building = publish.stage(settings)
        own = publish.own_record(building)
        built_by = generation.current(settings, lake.withdrawal())
        reason = generation.rebuild_reason(
            own.generation if own else None, built_by, publish.place_name(building)
        )
    if reason is not None and publish.place_holds_a_build(building, own):
        print(f"build: {reason}: rebuilding every model in full")
        # Other code or other rules built this place: every test runs, unit tests included.
        new_data_only = False
    with phases.timed("lake to engine"):
        prepare_lake(building, lake)
    # dbt's unit tests test the code, not the data: they run when this code has not yet passed
    # them on this engine (a changed model, macro, seed, var or dbt), never on a refresh.
    unit_tests = not new_data_only and not generation.unit_tests_passed(building, built_by.project)
    dbt = DbtSession(building)
    with phases.timed("dbt build"):
        outcome = dbt.run(
            "build",
            *(["--full-refresh"] if reason is not None else []),
            *(NEW_DATA_ONLY if new_data_only else []),
            *(WITHOUT_UNIT_TESTS if not unit_tests and not new_data_only else []),
        )
    if unit_tests:
        generation.note_unit_tests_passed(building, built_by.project)
    print(outcome.summary())
    with phases.timed("source freshness"):
        # Stale sources warn; they do not fail the build (the data may simply be historical).
        print(dbt.run("source", "freshness", raise_on_failure=False).summary())
    if dbt.parse_seconds is not None:
        # dbt's fixed cost, paid once per build: its start in this process and the parse.
        seconds = dbt.parse_seconds
        phases.seconds["dbt build"] -= seconds
        steps = list(phases.seconds.items())
        steps.insert(
            [name for name, _ in steps].index("dbt build"), ("dbt start and parse", seconds)
        )
        phases.seconds = dict(steps)
        print(f"dbt: started and parsed the project once for the build in {seconds:.1f} s")
    if run_checks:
        with phases.timed("quality checkpoint"):
            report = run_checkpoint(building, new_loads_only=True)
        print(report.summary())
        if not report.success:
            raise BuildError("the quality checkpoint failed (see above)")
    return building, built_by
