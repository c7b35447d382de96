"""Device strings -> a coarse device family (the raw string can carry a persistent device id)."""

from __future__ import annotations

from ingest.sources.spotify_export.settings import PLATFORMS


def coarse_platform(raw: object) -> str | None:
    """The device family of a platform string ('Android OS 9 API 28 (…)' -> 'android')."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip().lower()
    if text == "not_applicable":
        return None
    for family, needles in PLATFORMS:
        if any(needle in text for needle in needles):
            return family
    return "other"
