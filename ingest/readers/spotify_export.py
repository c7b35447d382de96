"""Spotify's data exports, as mailed (zip) or unpacked (folder), in every vintage.

Account data (`StreamingHistory_music_N.json`, older `StreamingHistoryN.json`; podcasts in
`StreamingHistory_podcast_N.json`): end time to the minute, names but no track id, so tracks are
resolved by name and artist. Extended streaming history (`Streaming_History_Audio_*.json`,
`Streaming_History_Video_*.json`, older `endsong_N.json`): end time to the second, track uri,
skips, reasons, platform, in several key sets over the years.

Only history files are opened (Userdata.json, Identity.json, Payments.json hold personal data).
Usernames, IP addresses, user agents and countries are dropped as each record is read: they
reach neither the lake nor the rejects nor a message.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb

from ingest.errors import InputFileError
from ingest.identity import user_id_for
from ingest.readers.export_plays import ExportPlays
from ingest.readers.extended_history import ExtendedHistoryReader
from ingest.readers.text import FieldError, parse_timestamp
from ingest.records import ReadResult, Reject, raw_json
from ingest.settings import Settings
from ingest.track_resolver import TrackResolver

KIND = "spotify-export"
ACCOUNT_MUSIC = re.compile(r"^StreamingHistory(?:_music_)?\d+\.json$", re.IGNORECASE)
ACCOUNT_PODCAST = re.compile(r"^StreamingHistory_podcast_\d+\.json$", re.IGNORECASE)
EXTENDED_AUDIO = re.compile(r"^(?:Streaming_History_Audio_.*|endsong_\d+)\.json$", re.IGNORECASE)
EXTENDED_VIDEO = re.compile(r"^Streaming_History_Video_.*\.json$", re.IGNORECASE)
# Direct identifiers and quasi-identifiers: never kept, not even in a rejected row.
PERSONAL_KEYS = frozenset(
    {"username", "ip_addr", "ip_addr_decrypted", "user_agent", "user_agent_decrypted",
     "conn_country"}
)  # fmt: skip
# Real exports leave `skipped` false for years: these endings are skips too.
SKIP_REASONS = frozenset({"fwdbtn", "backbtn", "endplay", "unknown"})
SPOTIFY_LAUNCH = datetime(2006, 1, 1)
# Extended-history files read column-wise in one go (~12 MB each): memory stays bounded.
FILES_PER_BATCH = 16
TRACK_URI = re.compile(r"^spotify:track:([0-9A-Za-z]{22})$")
# Device strings of older vintages -> a coarse family; the raw string identifies a device.
PLATFORMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("web", ("web_player", "web player", "webplayer")),
    ("tv", ("android_tv", "android tv", "tizen", "webos", "roku", "smart tv", "tv")),
    ("car", ("android auto", "carplay", "car ")),
    ("console", ("playstation", "ps4", "ps5", "xbox")),
    ("cast", ("cast", "chromecast")),
    ("speaker", ("sonos", "alexa", "echo", "speaker", "bose")),
    ("android", ("android",)),
    ("ios", ("ios", "iphone", "ipad")),
    ("windows", ("windows",)),
    ("macos", ("os x", "osx", "macos", "mac os")),
    ("linux", ("linux",)),
)


@dataclass(frozen=True)
class Member:
    """One history file of an export (a zip member or a file in the folder)."""

    name: str  # the file's base name: the same whether zipped or unpacked
    kind: str  # account-music, account-podcast, extended-audio, extended-video
    read: Callable[[], bytes]
    path: Path | None = None  # the file itself, when it is not inside a zip


def _kind_of(name: str) -> str | None:
    for kind, pattern in (
        ("account-music", ACCOUNT_MUSIC),
        ("account-podcast", ACCOUNT_PODCAST),
        ("extended-audio", EXTENDED_AUDIO),
        ("extended-video", EXTENDED_VIDEO),
    ):
        if pattern.match(name):
            return kind
    return None


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def list_members(path: Path) -> list[Member]:
    """The export's history files, extended history first (it names tracks for the rest)."""
    members: list[Member] = []
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            kind = _kind_of(file.name)
            if kind and file.is_file() and not _hidden(file.relative_to(path).parts):
                members.append(Member(file.name, kind, file.read_bytes, file))
    elif path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                infos = [info for info in archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputFileError(path, f"is not a readable zip ({exc})") from None
        for info in sorted(infos, key=lambda i: i.filename):
            posix = PurePosixPath(info.filename)
            kind = _kind_of(posix.name)
            if kind and not _hidden(posix.parts):
                members.append(Member(posix.name, kind, _zip_reader(path, info.filename)))
    elif path.is_file() and _kind_of(path.name):
        members.append(Member(path.name, _kind_of(path.name) or "", path.read_bytes, path))
    elif path.exists():
        raise InputFileError(
            path, "is neither a Spotify export zip, its folder, nor a history file"
        )
    else:
        raise InputFileError(path, "does not exist")
    if not members:
        raise InputFileError(
            path,
            "holds no streaming history (StreamingHistory_music_N.json, "
            "Streaming_History_Audio_*.json or endsong_N.json): is this a Spotify data export?",
        )
    return sorted(members, key=lambda m: (not m.kind.startswith("extended"), m.name))


def _zip_reader(path: Path, member: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)

    return read


def parse_member(data: bytes) -> tuple[list[Any], str | None]:
    """A history file's records, and what went wrong, if anything.

    A file cut off mid-array (an interrupted download or copy) keeps every complete record
    before the cut; the problem names where it broke.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], f"is not UTF-8 (byte {exc.start})"
    if not text.strip():
        return [], None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return _salvage(text)
    if not isinstance(value, list):
        return [], f"is not a JSON array but a {type(value).__name__}"
    return value, None


def _salvage(text: str) -> tuple[list[Any], str | None]:
    decoder = json.JSONDecoder()
    position = text.find("[")
    if position < 0:
        return [], "is not JSON (no array found)"
    records: list[Any] = []
    position += 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            break
        if text[position] == "]":
            return records, None
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            break
        records.append(record)
    return records, (
        f"is cut off: JSON breaks at character {position} after {len(records)} complete "
        "record(s), which landed"
    )


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


def _without_personal_data(record: Any) -> Any:
    if isinstance(record, dict):
        return {k: v for k, v in record.items() if k not in PERSONAL_KEYS}
    return record


def _ms_played(raw: object, column: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise FieldError(f"{column} {raw!r} is not a number of milliseconds")
    if isinstance(raw, float) and not raw.is_integer():
        raise FieldError(f"{column} {raw!r} is not a whole number of milliseconds")
    if raw < 0:
        raise FieldError(f"{column} {raw} is negative")
    return int(raw)


def _flag(raw: object) -> bool | None:
    return raw if isinstance(raw, bool) else None


def _text(raw: object) -> str | None:
    return raw.strip() or None if isinstance(raw, str) else None


@dataclass
class ExportReading:
    """What one export adds up to while its members are read."""

    user_id: str
    user_given: bool
    settings: Settings
    resolver: TrackResolver
    latest: datetime
    # The member being read record by record: its plays, staged when the member is done.
    member_index: int = 0
    record_number: int = 0
    rows: list[dict] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    rows_in: int = 0

    def played_at(self, column: str, raw: object) -> datetime:
        if not isinstance(raw, str):
            raise FieldError(
                f"{column} is missing" if raw is None else f"{column} {raw!r} is not text"
            )
        value = parse_timestamp(column, raw)
        if value < SPOTIFY_LAUNCH:
            raise FieldError(f"{column} {raw!r} is before Spotify existed (2006)")
        if value > self.latest:
            raise FieldError(f"{column} {raw!r} is in the future")
        return value

    def add_play(self, user_id: str, key: str, played_at: datetime, **values: Any) -> None:
        """One play, staged; its id and ordinal come when the whole export is read."""
        self.rows.append(
            {
                "member_index": self.member_index,
                "record_number": self.record_number,
                "user_id": user_id,
                "play_key": key,
                "played_at": played_at,
                **values,
            }
        )

    def user_for(self, record: dict | None) -> str:
        """The row's account, hashed; else the user given; else the default (counted)."""
        username = (record or {}).get("username")
        if self.user_given:
            return self.user_id
        if isinstance(username, str) and username.strip():
            return user_id_for(username.strip(), self.settings)
        self.counts["default user"] += 1
        return self.user_id


def _extended(reading: ExportReading, record: dict, video_file: bool) -> None:
    played_at = reading.played_at("ts", record.get("ts"))
    ms_played = _ms_played(record.get("ms_played"), "ms_played")
    uri = record.get("spotify_track_uri")
    if uri is not None and not isinstance(uri, str):
        raise FieldError(f"spotify_track_uri {uri!r} is not text")
    track_name = _text(record.get("master_metadata_track_name"))
    artist_name = _text(record.get("master_metadata_album_artist_name"))
    track_id = None
    if uri:
        match = TRACK_URI.match(uri)
        if match:
            track_id, content_type = match.group(1), "music"
        elif uri.startswith("spotify:local:"):
            content_type = "music"  # a local file: music without a Spotify id
        else:
            content_type = "unknown"
            reading.counts["unknown uri kind"] += 1
    elif record.get("spotify_episode_uri") or record.get("episode_name"):
        content_type = "podcast"
        track_name = _text(record.get("episode_name"))
        artist_name = _text(record.get("episode_show_name"))
    elif record.get("audiobook_uri") or record.get("audiobook_chapter_uri"):
        content_type = "audiobook"
        track_name = _text(record.get("audiobook_chapter_title"))
        artist_name = _text(record.get("audiobook_title"))
    elif video_file:
        content_type = "video"
    elif track_name:
        content_type = "music"
    else:
        content_type = "unknown"  # every metadata field null: removed content, local files
    reason_end = _text(record.get("reason_end"))
    skipped = _flag(record.get("skipped"))
    if reason_end in SKIP_REASONS:
        skipped = True
    elif skipped is None and reason_end is not None:
        skipped = False
    reading.add_play(
        reading.user_for(record),
        track_id or uri or f"{content_type}\x1f{track_name}\x1f{artist_name}",
        played_at,
        track_id=track_id,
        track_name=track_name,
        artist_name=artist_name,
        played_at_precision="second",
        ms_played=ms_played,
        content_type=content_type,
        skipped=skipped,
        reason_start=_text(record.get("reason_start")),
        reason_end=reason_end,
        shuffle=_flag(record.get("shuffle")),
        platform=coarse_platform(record.get("platform")),
        offline=_flag(record.get("offline")),
        private_session=_flag(record.get("incognito_mode")),
        names_track=track_id is not None,
        album_name=_text(record.get("master_metadata_album_album_name")),
    )


def _account(reading: ExportReading, record: dict, podcast_file: bool) -> None:
    played_at = reading.played_at("endTime", record.get("endTime"))
    ms_played = _ms_played(record.get("msPlayed"), "msPlayed")
    if podcast_file:
        track_name, artist_name = _text(record.get("episodeName")), _text(record.get("podcastName"))
        track_id, content_type = None, "podcast"
    else:
        track_name, artist_name = _text(record.get("trackName")), _text(record.get("artistName"))
        if not track_name:
            raise FieldError("trackName is missing")
        track_id, content_type = reading.resolver.resolve(track_name, artist_name), "music"
        reading.counts["account resolved" if track_id else "account unresolved"] += 1
    reading.add_play(
        reading.user_for(None),
        track_id or f"{content_type}\x1f{track_name}\x1f{artist_name}",
        played_at,
        track_id=track_id,
        track_name=track_name,
        artist_name=artist_name,
        played_at_precision="minute",
        ms_played=ms_played,
        content_type=content_type,
        names_track=False,
    )


def _read_member(reading: ExportReading, member: Member) -> None:
    records, problem = parse_member(member.read())
    if not records and problem is None:
        reading.counts["empty files"] += 1
    for number, record in enumerate(records, start=1):
        reading.rows_in += 1
        reading.record_number = number
        try:
            if not isinstance(record, dict):
                raise FieldError(f"is a {type(record).__name__}, not a record")
            if member.kind.startswith("extended"):
                _extended(reading, record, member.kind == "extended-video")
            else:
                _account(reading, record, member.kind == "account-podcast")
        except FieldError as reason:
            reading.rejects.append(
                Reject(
                    number,
                    f"record {number}: {reason}",
                    raw_json(_without_personal_data(record)),
                    source_file=member.name,
                )
            )
    if problem:
        # The unreadable rest of a file is one rejected row, so rows in = landed + rejected.
        reading.rows_in += 1
        reading.rejects.append(
            Reject(len(records) + 1, f"{member.name} {problem}", None, source_file=member.name)
        )


def _notes(reading: ExportReading) -> list[str]:
    counts = reading.counts
    notes = [
        f"{counts['music']} music plays, {counts['podcast']} podcast episodes, "
        f"{counts['audiobook']} audiobook chapters, {counts['video']} videos, "
        f"{counts['unknown']} rows without usable metadata (all but music are kept out of the "
        "listening marts)"
    ]
    matched, unmatched = counts["account resolved"], counts["account unresolved"]
    if matched or unmatched:
        notes.append(
            f"account data: {matched} of {matched + unmatched} plays matched a known track by "
            f"name and artist; {unmatched} landed without a track id"
        )
    if reading.resolver.ambiguous:
        notes.append(
            f"{reading.resolver.ambiguous} play(s) matched several tracks of the same name and "
            "artist: the smallest track id was taken"
        )
    if counts["unknown uri kind"]:
        notes.append(
            f"{counts['unknown uri kind']} row(s) with an unknown uri kind: content unknown"
        )
    if counts["default user"]:
        notes.append(
            f"{counts['default user']} play(s) name no account (account data and exports since "
            "late 2024 carry none): landed for SPOTIFLOW_SAMPLE_USER; pass --user NAME, the "
            "same name the API polls use"
        )
    if counts["empty files"]:
        notes.append(f"{counts['empty files']} empty history file(s)")
    return notes


def export_checksum(members: list[Member]) -> str:
    """A digest of the history files' names and bytes: a zip and its folder are one input."""
    digest = hashlib.sha256()
    for member in sorted(members, key=lambda m: m.name):
        data = member.read()
        digest.update(f"{member.name}\x1f{len(data)}\x1f".encode())
        digest.update(data)
    return digest.hexdigest()


def _read_record_by_record(
    reading: ExportReading, staged: ExportPlays, index: int, member: Member
) -> None:
    reading.member_index = index
    _read_member(reading, member)
    staged.add_rows(reading.rows)
    reading.rows.clear()


def _fed_resolver(reading: ExportReading, staged: ExportPlays) -> None:
    """Tracks named by extended history resolve account data read after them."""
    for track_id, track_name, artist_name in staged.named_tracks():
        reading.resolver.add(track_id, track_name, artist_name)


def _read_column_wise(
    fast: ExtendedHistoryReader,
    reading: ExportReading,
    members: list[Member],
    wanted: list[int],
    scratch: Path,
) -> set[int]:
    """Read the well-formed files of `wanted` (extended history) column-wise, a batch of files
    at a time; the indexes of those read (the rest need the record path)."""
    done: set[int] = set()
    for start in range(0, len(wanted), FILES_PER_BATCH):
        files: dict[int, tuple[Path, bool]] = {}
        for index in wanted[start : start + FILES_PER_BATCH]:
            member = members[index]
            path = member.path
            if path is None:  # a zip member: DuckDB reads files, so it is unpacked first
                path = scratch / f"{index}.json"
                path.write_bytes(member.read())
            files[index] = (path, member.kind == "extended-video")
        for index, (records, unknown_uri_kinds, default_users) in fast.read(files).items():
            done.add(index)
            reading.rows_in += records
            reading.counts["unknown uri kind"] += unknown_uri_kinds
            reading.counts["default user"] += default_users
            if not records:
                reading.counts["empty files"] += 1
        for path in scratch.glob("*.json"):
            path.unlink()
    return done


def read_spotify_export(
    path: Path,
    settings: Settings,
    resolver: TrackResolver,
    user: str | None = None,
    now: datetime | None = None,
    column_wise: bool = True,
) -> ReadResult:
    """Plays and tracks of one export; `user` names whose export it is when rows do not.

    `column_wise=False` reads every file record by record (the reference the faster path is
    tested against).
    """
    members = list_members(path)
    latest = (now or datetime.now(UTC).replace(tzinfo=None)) + timedelta(days=1)
    reading = ExportReading(
        user_id=user_id_for(user or settings.sample_user, settings),
        user_given=user is not None,
        settings=settings,
        resolver=resolver,
        latest=latest,
    )
    with (
        duckdb.connect() as connection,
        tempfile.TemporaryDirectory(prefix="spotiflow-export-") as scratch,
    ):
        staged = ExportPlays(connection)
        fast = ExtendedHistoryReader(
            staged,
            launch=SPOTIFY_LAUNCH,
            latest=latest,
            default_user=reading.user_id,
            user_given=reading.user_given,
            user_id_for=lambda name: user_id_for(name, settings),
            platforms=PLATFORMS,
            skip_reasons=SKIP_REASONS,
        )
        # Extended history first (list_members puts it first): it names the tracks that
        # resolve account data.
        extended = [i for i, m in enumerate(members) if m.kind.startswith("extended")]
        read_column_wise = (
            _read_column_wise(fast, reading, members, extended, Path(scratch))
            if column_wise
            else set()
        )
        for index in extended:
            if index not in read_column_wise:
                _read_record_by_record(reading, staged, index, members[index])
        _fed_resolver(reading, staged)
        for index, member in enumerate(members):
            if index not in extended:
                _read_record_by_record(reading, staged, index, member)
        reading.counts.update(staged.content_counts())
        plays, tracks = staged.plays(), staged.tracks()
    return ReadResult(
        kind=KIND,
        path=path,
        rows_in=reading.rows_in,
        tables={"plays": plays, "tracks": tracks},
        rejects=reading.rejects,
        notes=_notes(reading),
        options={"user_id": reading.user_id} if user else {},
        checksum=export_checksum(members),
    )
