"""`spotiflow build`: dbt seed + run + test (dbt build), then the quality checkpoint."""

from __future__ import annotations

from ingest.dbt import run_dbt
from ingest.engines import mark_built, prepare_lake
from ingest.errors import BuildError
from ingest.landing import Lake
from ingest.settings import Settings


def build(settings: Settings, *, run_checks: bool = True, full_refresh: bool = False) -> None:
    """Build every model and test; fail with a readable summary if anything fails.

    The build holds the lake's lock: it never reads a load that is still being written, and
    what a killed landing left is removed first. (dbt's sources read committed loads only
    whoever runs it: macros/lake/committed_lake.sql.) A full refresh rebuilds every incremental
    model from the lake, as after a load was withdrawn.
    """
    lake = Lake(settings.lake_dir)
    with lake.locked("building the warehouse"):
        # The lake's schema files let sources resolve even before a kind of data has landed.
        lake.ensure_layout()
        removed = lake.recover()
        if removed:
            print(f"build: removed {len(removed)} file(s) an interrupted landing left")
        # A load withdrawn since the last full build: every mart is rebuilt without it.
        withdrawn = lake.full_refresh_marker.exists()
        if withdrawn and not full_refresh:
            print("build: a load was withdrawn from the lake: rebuilding every model in full")
        full = full_refresh or withdrawn
        prepare_lake(settings, lake)
        outcome = run_dbt(settings, "build", *(["--full-refresh"] if full else []))
        if full:
            lake.full_refresh_marker.unlink(missing_ok=True)
        mark_built(settings)
        print(outcome.summary())
        # Stale sources warn; they do not fail the build (the data may simply be historical).
        print(run_dbt(settings, "source", "freshness", raise_on_failure=False).summary())
        if run_checks:
            from ingest.quality import run_checkpoint

            report = run_checkpoint(settings)
            print(report.summary())
            if not report.success:
                raise BuildError("the quality checkpoint failed (see above)")
