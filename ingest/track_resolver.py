"""Track ids for plays that name a track but carry no id (account data): by name and artist."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

import duckdb

from ingest.landing import Lake


def _normalise(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


@dataclass
class TrackResolver:
    """(track name, artist) -> track id, case- and spacing-insensitive.

    Tracks store every artist joined with ', '; account data names the primary artist only, so
    a track answers to its full artist string and to its first artist.
    """

    candidates: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    ambiguous: int = 0

    def add(self, track_id: str, track_name: str | None, artist_name: str | None) -> None:
        name = _normalise(track_name)
        if not name or not track_id:
            return
        artists = artist_name or ""
        for artist in {_normalise(artists), _normalise(artists.split(", ")[0])}:
            self.candidates[(name, artist)].add(track_id)

    def resolve(self, track_name: str | None, artist_name: str | None) -> str | None:
        """The track's id, or None; two tracks of one name and artist: the smallest id."""
        found = self.candidates.get((_normalise(track_name), _normalise(artist_name)))
        if not found:
            return None
        if len(found) > 1:
            self.ambiguous += 1
        return min(found)

    @classmethod
    def from_lake(cls, lake: Lake) -> TrackResolver:
        """Every track the lake's committed loads describe."""
        resolver = cls()
        files = [str(path) for path in lake.committed_files("tracks")]
        if not files:
            return resolver
        with duckdb.connect() as connection:
            rows = connection.execute(
                "select distinct track_id, track_name, artist_name "
                "from read_parquet($files, union_by_name = true)",
                {"files": files},
            ).fetchall()
        for track_id, track_name, artist_name in rows:
            resolver.add(track_id, track_name, artist_name)
        return resolver
