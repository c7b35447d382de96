"""Track references of the account export, and its username (read only to be hashed).

`YourLibrary.json` (`{"tracks": [{"artist", "album", "track", "uri"}], ...}`) and
`Playlist1.json` (`{"playlists": [{"name", "items": [{"track": {"trackName", "artistName",
"albumName", "trackUri"}, ...}]}]}`) name the uri of most tracks an account plays: they land as
track references (track, artist, album, uri) and nothing else: no playlist name, no date, no
episode. Small files, read with Python's json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ingest.lake.records import Reject
from ingest.sources.spotify_export.members import Member


@dataclass
class LibraryReading:
    rows: list[dict] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    rows_in: int = 0


def _document(member: Member) -> tuple[Any, str | None]:
    try:
        return json.loads(member.path.read_bytes().decode("utf-8-sig")), None
    except UnicodeDecodeError as exc:
        return None, f"is not UTF-8 (byte {exc.start})"
    except (json.JSONDecodeError, RecursionError) as exc:
        return None, f"is not JSON ({getattr(exc, 'msg', 'nested too deeply')})"


def _track_items(member: Member, document: Any) -> list[Any]:
    """The track entries of one file, whatever else it holds."""
    if not isinstance(document, dict):
        return []
    if member.kind == "library":
        tracks = document.get("tracks")
        return tracks if isinstance(tracks, list) else []
    items: list[Any] = []
    playlists = document.get("playlists")
    for playlist in playlists if isinstance(playlists, list) else []:
        entries = playlist.get("items") if isinstance(playlist, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            # Episodes, audiobooks and local files are not track references.
            if isinstance(entry, dict) and entry.get("track") is not None:
                items.append(entry["track"])
    return items


_FIELDS = {
    "library": {"track": "track", "artist": "artist", "album": "album", "uri": "uri"},
    "playlists": {
        "track": "trackName",
        "artist": "artistName",
        "album": "albumName",
        "uri": "trackUri",
    },
}


def read_track_references(members: list[Member], reading: LibraryReading) -> None:
    for member in members:
        document, problem = _document(member)
        if problem is None and not isinstance(document, dict):
            problem = "is not a JSON object"
        if problem:
            reading.rows_in += 1
            reading.rejects.append(Reject(1, f"{member.name} {problem}", None, member.name))
            continue
        names = _FIELDS[member.kind]
        for number, item in enumerate(_track_items(member, document), start=1):
            reading.rows_in += 1
            values = {
                column: item.get(key) if isinstance(item, dict) else None
                for column, key in names.items()
            }
            bad = [k for k, v in values.items() if v is not None and not isinstance(v, str)]
            uri = values["uri"]
            if not isinstance(item, dict):
                reason = "is not a track entry"
            elif bad:
                reason = f"{names[bad[0]]} is not text"
            elif not uri or not uri.startswith("spotify:track:"):
                reason = f"{names['uri']} {str(uri)[:60]!r} is not a Spotify track uri"
            else:
                reason = None
            if reason:
                kept = {names[k]: v for k, v in values.items() if isinstance(v, str)}
                reading.rejects.append(
                    Reject(
                        number,
                        f"track {number}: {reason}",
                        json.dumps(kept, ensure_ascii=False) if kept else None,
                        member.name,
                    )
                )
                continue
            reading.rows.append(
                {
                    "track_name": values["track"],
                    "artist_name": values["artist"],
                    "album_name": values["album"],
                    "track_uri": uri,
                }
            )


def username_in(members: list[Member]) -> str | None:
    """The account's username from Userdata.json, if the export holds one; nothing else read."""
    for member in members:
        if member.kind != "userdata":
            continue
        document, _ = _document(member)
        username = document.get("username") if isinstance(document, dict) else None
        if isinstance(username, str) and username.strip():
            return username.strip()
    return None
