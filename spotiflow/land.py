"""Landing each source into the lake, reported: what the commands and the refresh job share."""

from __future__ import annotations

from pathlib import Path

from ingest.identity import user_id_for
from ingest.lake.compaction import EntityCompaction, compact
from ingest.lake.landing import Lake, LoadReport
from ingest.sources.catalog.reader import read_catalog
from ingest.sources.legacy_csv.reader import read_legacy_csv
from ingest.sources.recommendations.reader import read_recommendations
from ingest.sources.spotify_api.auth import build_auth_manager
from ingest.sources.spotify_api.client import SpotifyClient
from ingest.sources.spotify_api.poll import poll_once
from ingest.sources.spotify_api.settings import SpotifySettings
from ingest.sources.spotify_export import read_spotify_export
from spotiflow.settings import Settings


def print_report(report: LoadReport) -> None:
    if report.already_landed:
        print(f"{report.source_file}: already landed as load {report.load_id}; nothing new landed")
        return
    entities = ", ".join(f"{rows} {name}" for name, rows in report.entity_rows.items())
    print(
        f"{report.source_file}: load {report.load_id}: {report.rows_in} rows in, "
        f"{report.rows_landed} landed, {report.rows_rejected} rejected ({entities})"
    )
    for note in report.notes:
        print(f"  note: {note}")
    if report.rows_rejected:
        print("  rejected rows are in marts.fct_rejected_rows after the next build")


def land_legacy_csv(settings: Settings, path: Path, user: str) -> LoadReport:
    result = read_legacy_csv(path, user_id_for(user, settings))
    return Lake(settings.lake_dir).land(result)


def land_catalog(settings: Settings, path: Path, scale: str, encoding: str) -> LoadReport:
    return Lake(settings.lake_dir).land(read_catalog(path, scale=scale, encoding=encoding))


def land_recommendations(settings: Settings, path: Path) -> LoadReport:
    return Lake(settings.lake_dir).land(read_recommendations(path))


def land_spotify_export(settings: Settings, path: Path, user: str | None) -> LoadReport:
    return Lake(settings.lake_dir).land(read_spotify_export(path, settings, user))


def spotify_api_configured(settings: Settings) -> bool:
    return SpotifySettings.from_env(settings.project_dir).client_id is not None


def poll_spotify_api(settings: Settings, user: str | None = None) -> int:
    """One incremental poll, reported; the number of new plays."""
    api_settings = SpotifySettings.from_env(settings.project_dir)
    client = SpotifyClient(api_settings, build_auth_manager(api_settings))
    outcome = poll_once(settings, client, user)
    for report in outcome.reports:
        print_report(report)
    if outcome.gap:
        start, end = outcome.gap
        print(
            f"spotify-api: plays between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC may "
            "be missing (the API reaches only the last 50 plays; poll more often, or land an "
            "export): recorded in marts.fct_coverage_gaps"
        )
    for notice in outcome.notices:
        print(f"spotify-api: {notice}")
    return outcome.new_plays


def compact_lake(settings: Settings, after_files: int = 1) -> list[EntityCompaction]:
    """Merge the small files of each entity read from more than `after_files` files; one line
    per entity compacted."""
    done = compact(Lake(settings.lake_dir), settings.compact_target_rows, after_files)
    for entity in done:
        print(f"compact: {entity.line()}")
    return done
