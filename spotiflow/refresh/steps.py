"""The steps of `spotiflow refresh`, in order: poll the API, land dropped exports, compact the
lake, then build, check and publish (the job that runs them: job.py)."""

from __future__ import annotations

from functools import partial

from spotiflow.land import compact_lake, poll_spotify_api, print_report, spotify_api_configured
from spotiflow.refresh.drop_folder import land_drop_folder
from spotiflow.refresh.job import SkipStep, Step
from spotiflow.settings import Settings
from spotiflow.warehouse.build import build


def poll_api(settings: Settings) -> str:
    configured = spotify_api_configured(settings)
    if settings.refresh_api == "off" or (settings.refresh_api == "auto" and not configured):
        raise SkipStep("no Spotify app configured (SPOTIPY_CLIENT_ID)")
    return f"{poll_spotify_api(settings)} new play(s)"


def land_exports(settings: Settings) -> str:
    # Each export lands for the listener the drop folder names, else the one it names.
    return land_drop_folder(settings, print_report)


def compact_small_files(settings: Settings) -> str:
    done = compact_lake(settings, settings.compact_after_files)
    if not done:
        raise SkipStep(
            f"no entity with small files to merge is read from more than "
            f"{settings.compact_after_files} files (SPOTIFLOW_COMPACT_AFTER_FILES)"
        )
    return f"{len(done)} entit{'y' if len(done) == 1 else 'ies'} compacted"


def build_check_publish(settings: Settings) -> None:
    # The code has not changed since the last build: its unit tests are left to `spotiflow build`.
    build(settings, new_data_only=True)


def refresh_steps(settings: Settings) -> list[Step]:
    return [
        Step("spotify api poll", partial(poll_api, settings)),
        Step("spotify exports", partial(land_exports, settings)),
        # Before the build, which then reads the merged files and removes those they replace.
        Step("compact the lake", partial(compact_small_files, settings)),
        # Checked before it is published: readers never see a build that failed them.
        Step("build, check and publish", partial(build_check_publish, settings)),
    ]
