"""`spotiflow build`: dbt seed + run + test (dbt build) and the quality checkpoint, in the
build's own place; then, only if all passed, publication to readers (ingest/publish.py)."""

from __future__ import annotations

from ingest import publish
from ingest.dbt import DbtSession
from ingest.engines import mark_built, prepare_lake
from ingest.errors import BuildError
from ingest.landing import Lake
from ingest.settings import Settings


def _failure_summary(error: BaseException) -> str:
    # The record keeps counts only, never a failing row's values (they may name a listener).
    if isinstance(error, BuildError):
        return str(error).splitlines()[0]
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return "it stopped before its tests ended"


def build(settings: Settings, *, run_checks: bool = True, full_refresh: bool = False) -> None:
    """Build every model and test; publish the build if everything passed, else fail with a
    readable summary and leave readers on the last published build.

    The build holds the lake's lock: it never reads a load that is still being written, and
    what a killed landing left is removed first. (dbt's sources read committed loads only
    whoever runs it: macros/lake/committed_lake.sql.) A full refresh rebuilds every incremental
    model from the lake, as after a load was withdrawn.
    """
    lake = Lake(settings.lake_dir)
    with lake.locked("building the warehouse"):
        started_at = publish.now()
        try:
            building = _build(settings, lake, run_checks=run_checks, full_refresh=full_refresh)
            publish.publish(
                building,
                publish.Publication(
                    published_at=publish.now(),
                    build_started_at=started_at,
                    data_as_of=publish.data_as_of(lake, started_at),
                    withdrawal=lake.withdrawal(),
                ),
            )
        except BaseException as error:
            publish.record_attempt(settings, "failed", _failure_summary(error))
            before = publish.published(settings)
            kept = (
                f"the build published {publish.when(before.published_at)}"
                if before
                else "what they had (nothing was published before)"
            )
            print(f"build: not published; readers keep {kept}")
            raise
        publish.record_attempt(settings, "published", "published")
        mark_built(settings)
        print(f"build: published; {publish.status_lines(settings)[0]}")
        # Only now: until this build was published, the last one's sources read those files.
        try:
            superseded = lake.remove_superseded()
        except OSError as error:  # published all the same; the next build tries again
            print(f"build: could not remove files the lake's compaction took over: {error}")
        else:
            if superseded:
                print(f"build: removed {len(superseded)} file(s) the lake's compaction took over")


def _build(settings: Settings, lake: Lake, *, run_checks: bool, full_refresh: bool) -> Settings:
    # The lake's schema files let sources resolve even before a kind of data has landed.
    lake.ensure_layout()
    removed = lake.recover()
    if removed:
        print(f"build: removed {len(removed)} file(s) an interrupted landing left")
    building = publish.stage(settings)
    # A load withdrawn since this build's place was last rebuilt in full: rebuild it without.
    withdrawal = lake.withdrawal()
    own = publish.own_record(building)
    withdrawn = withdrawal is not None and (own is None or own.withdrawal != withdrawal)
    if withdrawn and not full_refresh:
        print("build: a load was withdrawn from the lake: rebuilding every model in full")
    prepare_lake(building, lake)
    dbt = DbtSession(building)
    outcome = dbt.run("build", *(["--full-refresh"] if full_refresh or withdrawn else []))
    print(outcome.summary())
    # Stale sources warn; they do not fail the build (the data may simply be historical).
    print(dbt.run("source", "freshness", raise_on_failure=False).summary())
    if dbt.parse_seconds is not None:
        # dbt's fixed cost, paid once per build: its start in this process and the parse.
        seconds = dbt.parse_seconds
        print(f"dbt: started and parsed the project once for the build in {seconds:.1f} s")
    if run_checks:
        from ingest.quality import run_checkpoint

        report = run_checkpoint(building)
        print(report.summary())
        if not report.success:
            raise BuildError("the quality checkpoint failed (see above)")
    return building
