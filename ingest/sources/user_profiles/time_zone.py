"""`spotiflow user`: per-user settings (the time zone listen dates follow), landed in the lake."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ingest.identity import stable_hash, user_id_for
from ingest.lake.landing import Lake, LoadReport
from ingest.lake.records import ReadResult, table_from_rows
from ingest.lake.schemas import PLAY_TIME_COLUMNS
from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings

KIND = "user-settings"


def valid_time_zone(name: str) -> str:
    """The IANA zone name as given, or a clear error (an abbreviation like CET is not enough)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpotiflowError(
            f"{name!r} is not an IANA time zone; use a name like Europe/Berlin or America/New_York"
        ) from None
    if name not in available_timezones() and name != "UTC":
        raise SpotiflowError(f"{name!r} is not an IANA time zone name")
    return name


def is_known_listener(lake: Lake, user_id: str) -> bool:
    """Whether any landed play, or an earlier setting, belongs to the listener."""
    return any(
        user_id in lake.known_values(entity, "user_id")
        for entity in (*PLAY_TIME_COLUMNS, "user_profiles")
    )


def set_time_zone(
    settings: Settings,
    user: str,
    time_zone: str,
    now: datetime | None = None,
    create: bool = False,
) -> LoadReport:
    """Record the user's time zone; the next build moves their listen dates to it. A name no
    play was landed for is refused (a typo would otherwise change nothing, silently) unless
    `create` says the listener's plays are yet to come."""
    zone = valid_time_zone(time_zone)
    user_id = user_id_for(user, settings)
    if not create and not is_known_listener(Lake(settings.lake_dir), user_id):
        raise SpotiflowError(
            f"no plays were landed for {user!r}: check the name (as given to --user, or the "
            "export's username), or pass --create to set the zone before their plays arrive"
        )
    set_at = now or datetime.now(UTC).replace(tzinfo=None)
    row = {"user_id": user_id, "time_zone": zone, "set_at": set_at}
    result = ReadResult(
        kind=KIND,
        # Never the user's name: it would reach the manifest.
        path=Path("spotiflow-user"),
        rows_in=1,
        tables={"user_profiles": table_from_rows("user_profiles", [row])},
        options={"user_id": user_id},
        # Each setting is its own load, so setting a zone back to an earlier one still lands.
        checksum=stable_hash(user_id, zone, set_at.isoformat(), length=64),
    )
    return Lake(settings.lake_dir).land(result)
