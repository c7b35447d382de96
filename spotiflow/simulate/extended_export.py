"""A synthetic extended-streaming-history export, shaped as Spotify sends it (SPOTIFY.md).

Files `Streaming_History_Audio_<years>_<n>.json` of about 12 MB each, JSON arrays with the key
set of each vintage (2022-23 with username and device strings; 2024-25 without a username;
2025-26 with audiobook keys), music, podcast, audiobook, local-file and metadata-less rows,
duplicate timestamps and Spotify's documentation IP ranges. For tests and `make bench`.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

RECORDS_PER_FILE = 20_000
FOLDER = "Spotify Extended Streaming History"
VINTAGES = (("2022-2023", 2022), ("2024-2025", 2024), ("2025-2026", 2025))
DEVICES = (
    "Android OS 12 API 31 (samsung, SM-G991B)",
    "iOS 16.1 (iPhone14,5)",
    "Windows 10 (10.0.19045; x64; AppX)",
    "OS X 13.0.1 [x86 8]",
    "web_player linux ;chrome 119.0.0.0;desktop",
    "Partner sonos_one Sonos;Sonos One",
)
COARSE = ("android", "ios", "windows", "osx", "web_player", "not_applicable")
REASONS_START = ("trackdone", "clickrow", "fwdbtn", "playbtn", "appload", "remote")
REASONS_END = ("trackdone", "fwdbtn", "endplay", "backbtn", "logout", "unknown")


@dataclass(frozen=True)
class ExportShape:
    """What was written: files, records, and the user name the 2022-23 vintage carries."""

    folder: Path
    files: int
    records: int
    username: str


def _track_ids(rng: random.Random, count: int) -> list[str]:
    alphabet = string.ascii_letters + string.digits
    return ["".join(rng.choice(alphabet) for _ in range(22)) for _ in range(count)]


def _record(rng: random.Random, vintage: int, ts: datetime, tracks: list[str], user: str) -> dict:
    track = rng.randrange(len(tracks))
    kind = rng.random()
    record: dict = {"ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if vintage == 2022:
        record["username"] = user
        record["platform"] = rng.choice(DEVICES)
    else:
        record["platform"] = rng.choice(COARSE)
    record["ms_played"] = rng.randrange(0, 360_000)
    record["conn_country"] = "DE"
    record["ip_addr" if vintage >= 2024 else "ip_addr_decrypted"] = (
        f"203.0.113.{rng.randrange(1, 255)}"
    )
    if vintage == 2022:
        record["user_agent_decrypted"] = "unknown"
    music = kind < 0.90
    record.update(
        master_metadata_track_name=f"Track {track}" if music else None,
        master_metadata_album_artist_name=f"Artist {track % 997}" if music else None,
        master_metadata_album_album_name=f"Album {track % 3001}" if music else None,
        spotify_track_uri=f"spotify:track:{tracks[track]}" if music else None,
        episode_name=None,
        episode_show_name=None,
        spotify_episode_uri=None,
    )
    if vintage >= 2025:
        record.update(
            audiobook_title=None,
            audiobook_uri=None,
            audiobook_chapter_uri=None,
            audiobook_chapter_title=None,
        )
    if 0.90 <= kind < 0.95:
        record.update(
            episode_name=f"Episode {track % 200}",
            episode_show_name=f"Show {track % 40}",
            spotify_episode_uri=f"spotify:episode:{tracks[track]}",
        )
    elif 0.95 <= kind < 0.97 and vintage >= 2025:
        record.update(
            audiobook_title=f"Book {track % 30}",
            audiobook_uri=f"spotify:show:{tracks[track]}",
            audiobook_chapter_uri=f"spotify:episode:{tracks[(track + 1) % len(tracks)]}",
            audiobook_chapter_title=f"Chapter {track % 25}",
        )
    elif 0.97 <= kind < 0.98:
        record.update(
            master_metadata_track_name=f"Home Recording {track % 50}",
            master_metadata_album_artist_name="Me",
            spotify_track_uri=f"spotify:local:Me::Home+Recording+{track % 50}:180",
        )
    reason_end = rng.choice(REASONS_END)
    record.update(
        reason_start=rng.choice(REASONS_START),
        reason_end=reason_end,
        shuffle=rng.random() < 0.4,
        # Real exports say false for years, whatever reason_end says.
        skipped=False if vintage == 2022 else reason_end == "fwdbtn",
        offline=rng.random() < 0.05,
        offline_timestamp=int(ts.timestamp()) * (1000 if rng.random() < 0.5 else 1),
        incognito_mode=rng.random() < 0.02,
    )
    return record


def write_extended_export(
    target: Path,
    records: int,
    seed: int = 1,
    username: str = "bench-listener",
    records_per_file: int = RECORDS_PER_FILE,
) -> ExportShape:
    """Write `records` plays spread over 2022-2026 as an unpacked export under `target`."""
    rng = random.Random(seed)
    tracks = _track_ids(rng, 5_000)
    folder = target / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    start, end = datetime(2022, 1, 1), datetime(2026, 6, 30)
    step = (end - start) / max(records, 1)
    files = 0
    written = 0
    while written < records:
        count = min(records_per_file, records - written)
        first = start + step * written
        name, vintage = next(
            ((years, year) for years, year in reversed(VINTAGES) if first.year >= year),
            VINTAGES[0],
        )
        path = folder / f"Streaming_History_Audio_{name}_{files}.json"
        with path.open("w", encoding="utf-8") as handle:
            handle.write("[\n")
            for number in range(count):
                ts = first + step * number
                if number and rng.random() < 0.01:
                    ts = first + step * (number - 1)  # a duplicate timestamp, as real files have
                ts = ts.replace(microsecond=0)
                separator = ",\n" if number < count - 1 else "\n"
                handle.write(json.dumps(_record(rng, vintage, ts, tracks, username)) + separator)
            handle.write("]\n")
        files += 1
        written += count
    return ExportShape(folder=target, files=files, records=written, username=username)
