"""The lonely listener: a day whose only play a better source later replaces, so every
incremental model must lose the day (tests of incremental builds on each engine)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ingest.identity import user_id_for
from ingest.lake.landing import Lake
from ingest.sources.spotify_api.capture import CAPTURE_FORMAT, read_capture
from spotiflow.land import land_spotify_export
from spotiflow.settings import Settings

# The lonely listener's only play of a day ends at 23:59:40 UTC (a Web API poll); the same
# listen in their extended history ends 30 s later, on the next day.
LONELY_PLAYED_AT = datetime(2024, 5, 6, 23, 59, 40)


LONELY_TRACK = {"id": "4cOdK2wGLETKBW3PvgPWqT", "name": "Lonely Day", "artist": "The Fixtures"}


def lonely_listener(settings: Settings) -> str:
    return user_id_for("lonely", settings)


def land_a_day_a_better_source_empties(settings: Settings) -> None:
    """A listener's only play of a day, from a Web API poll (a capture in the shape the poller
    writes, its item as the API's recently-played gives it); `land_the_better_source` later
    lands their extended streaming history, which holds the same listen. The export's play is
    the better one, so the day has no play left: every incremental model must lose the day, as
    a full build has it. (A strategy that replaces only the keys of the new rows keeps it.)"""
    track = {
        "album": {"album_type": "album", "id": "1ATL5GLyefJaxhQzSPVrLX", "name": "Aurora Sessions",
                  "release_date": "2024-03-01", "type": "album"},
        "artists": [{"id": "0OdUWJ0sBjDrqHygGUXeCF", "name": LONELY_TRACK["artist"],
                     "type": "artist"}],
        "duration_ms": 200000, "explicit": False, "id": LONELY_TRACK["id"],
        "name": LONELY_TRACK["name"], "popularity": 41, "type": "track",
        "uri": f"spotify:track:{LONELY_TRACK['id']}",
    }  # fmt: skip
    capture = {
        "format": CAPTURE_FORMAT,
        "user_id": lonely_listener(settings),
        "fetched_at": "2024-05-07T00:05:00+00:00",
        "items": [
            {
                "track": track,
                "played_at": LONELY_PLAYED_AT.strftime("%Y-%m-%dT%H:%M:%S.123Z"),
                "context": None,
            }
        ],
    }
    path = settings.data_dir / "api-poll.json"
    path.write_text(json.dumps(capture), encoding="utf-8")
    Lake(settings.data_dir / "lake").land(read_capture(path))


def land_the_better_source(settings: Settings) -> None:
    """The listen in the listener's extended streaming history, one record as Spotify writes it
    (../shared/SPOTIFY.md: `ts` the end, UTC with a Z; personal fields the reader drops),
    landed through the export's reader."""
    ended = LONELY_PLAYED_AT + timedelta(seconds=30)
    # The late-2024 key set and order (the vintage of tests/fixtures/spotify_export/extended's
    # 2024-2025 file): no username or user agent, `ip_addr`, a coarse platform, no audiobook
    # keys yet; offline_timestamp in seconds.
    record = {
        "ts": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": "android",
        "ms_played": 200000,
        "conn_country": "DE",
        "ip_addr": "198.51.100.23",
        "master_metadata_track_name": LONELY_TRACK["name"],
        "master_metadata_album_artist_name": LONELY_TRACK["artist"],
        "master_metadata_album_album_name": "Aurora Sessions",
        "spotify_track_uri": f"spotify:track:{LONELY_TRACK['id']}",
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "reason_start": "clickrow",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "offline_timestamp": int(ended.replace(tzinfo=UTC).timestamp()),
        "incognito_mode": False,
    }
    folder = settings.data_dir / "export" / "Spotify Extended Streaming History"
    folder.mkdir(parents=True)
    (folder / "Streaming_History_Audio_2024_0.json").write_text(
        json.dumps([record], indent=2), encoding="utf-8"
    )
    land_spotify_export(settings, folder.parent, "lonely")
