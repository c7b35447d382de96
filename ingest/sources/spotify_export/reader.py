"""One Spotify export (zip or folder) read into the lake's spotify_export__* entities.

Each history file is parsed once, by DuckDB (json_files.py), and each record judged once, in
SQL (records.py); rows that fit land under the export's own key names, the rest are
quarantined with their reason and only their whitelisted keys. The listener is the username the
records carry, else the one in the export's Userdata.json, else `--user`'s, else the default;
`--user` overrides them all. Usernames are hashed as they are read and never stored. An unattended
reading (the drop folder) may refuse the default: an export that names no one is then no one's.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingest.identity import user_id_for
from ingest.lake.records import ReadResult, Reject
from ingest.lake.schemas import ENTITIES
from ingest.sources.spotify_export.json_files import (
    FileOutcome,
    clear_records,
    create_records_table,
    read_history_files,
)
from ingest.sources.spotify_export.library import (
    LibraryReading,
    read_track_references,
    username_in,
)
from ingest.sources.spotify_export.members import Member, export_checksum, list_members
from ingest.sources.spotify_export.platform import coarse_platform
from ingest.sources.spotify_export.records import parameters, typed_records_sql
from ingest.sources.spotify_export.scratch import scratch_folder
from ingest.sources.spotify_export.settings import (
    ACCOUNT_KEYS,
    ACCOUNT_REQUIRED,
    EXTENDED_KEYS,
    FILES_PER_BATCH,
)
from ingest.sources.text import PLAUSIBLE_FROM, latest_plausible
from spotiflow.errors import InputFileError
from spotiflow.settings import ArchiveLimits, Settings

KIND = "spotify-export"
EXTENDED_ENTITY = "spotify_export__extended_plays"
ACCOUNT_ENTITY = "spotify_export__account_plays"
LIBRARY_ENTITY = "spotify_export__library_tracks"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class NoListenerNamed(InputFileError):
    """An export whose records name no account, read where no one stood in for its listener."""


class Listener:
    """Who a record's plays belong to, hashed; and which identity was used, for the note."""

    def __init__(
        self,
        settings: Settings,
        user: str | None,
        userdata_name: str | None,
        export: Path,
        given_by: str = "--user",
        sample_user_fallback: bool = True,
    ) -> None:
        self.settings = settings
        self.export = export
        self.given = user is not None
        self.given_by = given_by
        self.sample_user_fallback = sample_user_fallback
        fallback = user or userdata_name or settings.sample_user
        self.default_id = user_id_for(fallback, settings)
        self.default_source = (
            "--user"
            if user is not None
            else "Userdata.json"
            if userdata_name
            else "none in the export"
        )
        self.used: Counter[str] = Counter()

    def user_ids(self, usernames: pa.ChunkedArray) -> pa.Array:
        """The user id of each record: its own username's, else the default."""
        count = len(usernames)
        if self.given:
            self.used["--user"] += count
            return pa.array([self.default_id] * count, type=pa.string())
        names = [name for name in pc.unique(usernames).to_pylist() if name and name.strip()]
        ids = pa.array([user_id_for(name.strip(), self.settings) for name in names], pa.string())
        found = pc.take(ids, pc.index_in(usernames, pa.array(names, pa.string())))
        named = count - found.null_count
        if named < count and self.default_source == "none in the export":
            self._refuse_sample_user()  # before anything lands
        self.used["records"] += named
        self.used[self.default_source] += count - named
        return pc.fill_null(found, self.default_id).combine_chunks()

    def _refuse_sample_user(self) -> None:
        """Unattended, plays that name no one would merge into the sample user's: refused."""
        if not self.sample_user_fallback:
            raise NoListenerNamed(
                self.export,
                "holds records that name no account (extended history since late 2024, and "
                "account data without Userdata.json, carry none); not landed for "
                "SPOTIFLOW_SAMPLE_USER",
            )


def _platform_families(devices: pa.ChunkedArray) -> pa.Array:
    """Each device string's coarse family, worked out once per distinct string."""
    distinct = pc.unique(devices)
    families = pa.array([coarse_platform(d) for d in distinct.to_pylist()], pa.string())
    return pc.take(families, pc.index_in(devices, distinct)).combine_chunks()


def _whitelisted(record: str | None, keys: dict[str, str]) -> str | None:
    """A rejected record as it came in, with only the keys that may be kept."""
    try:
        value = json.loads(record) if record is not None else None
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    return json.dumps({k: v for k, v in value.items() if k in keys}, ensure_ascii=False)


class ExportReading:
    """What one export adds up to while its files are read."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        members: list[Member],
        listener: Listener,
        latest: datetime,
        limits: ArchiveLimits,
    ) -> None:
        self.connection = connection
        self.limits = limits
        self.members = members
        self.listener = listener
        self.latest = latest
        self.tables: dict[str, list[pa.Table]] = {EXTENDED_ENTITY: [], ACCOUNT_ENTITY: []}
        self.rejects: list[Reject] = []
        self.outcomes: dict[int, FileOutcome] = {}
        self.records: Counter[str] = Counter()

    def read(self, kind: str, entity: str, keys: dict[str, str], scratch: Path) -> None:
        indexes = [i for i, m in enumerate(self.members) if m.kind == kind]
        for start in range(0, len(indexes), FILES_PER_BATCH):
            batch = indexes[start : start + FILES_PER_BATCH]
            files = {index: self.members[index].path for index in batch}
            self.outcomes |= read_history_files(self.connection, files, scratch)
            for index in batch:
                if self.outcomes[index].records > self.limits.max_records_per_file:
                    raise InputFileError(
                        self.members[index].name,
                        f"holds {self.outcomes[index].records:,} records; a history file may "
                        f"hold at most {self.limits.max_records_per_file:,} "
                        "(SPOTIFLOW_EXPORT_MAX_RECORDS)",
                    )
            self.connection.execute(
                "create or replace temp table typed_records as "
                + typed_records_sql(keys, ACCOUNT_REQUIRED.get(kind, ())),
                parameters(batch, PLAUSIBLE_FROM, self.latest),
            )
            clear_records(self.connection)
            self._keep(kind, entity, keys)
            self.connection.execute("drop table typed_records")

    def _refuse_mostly_unreadable(self) -> None:
        """A file with more records that cannot land than the limit is no history this reader
        knows: refused whole, before its rejects are gathered."""
        worst = self.connection.execute(
            "select member_index, count(*), arg_min(problem, record_number) from typed_records "
            "where problem is not null group by member_index having count(*) > ? "
            "order by member_index limit 1",
            [self.limits.max_rejects_per_file],
        ).fetchall()
        if worst:
            index, count, problem = worst[0]
            raise InputFileError(
                self.members[index].name,
                f"{count:,} of its records cannot land; a history file may have at most "
                f"{self.limits.max_rejects_per_file:,} such (SPOTIFLOW_EXPORT_MAX_REJECTS): it "
                f"is not a streaming history SpotiFlow can read (one problem: {problem})",
            )

    def _keep(self, kind: str, entity: str, keys: dict[str, str]) -> None:
        self._refuse_mostly_unreadable()
        bad = self.connection.sql(
            "select member_index, record_number, record, problem from typed_records "
            "where problem is not null order by member_index, record_number"
        ).to_arrow_table()
        for row in bad.to_pylist():
            self.rejects.append(
                Reject(
                    row["record_number"],
                    row["problem"],
                    _whitelisted(row["record"], keys),
                    source_file=self.members[row["member_index"]].name,
                )
            )
        # The raw record stays in DuckDB: only a rejected one is ever read back.
        good = self.connection.sql(
            "select * exclude (record, problem) from typed_records where problem is null "
            "order by member_index, record_number"
        ).to_arrow_table()
        self.records[kind] += good.num_rows
        names = pa.array([m.name for m in self.members], pa.string())
        columns: dict[str, pa.Array | pa.ChunkedArray] = {
            "user_id": self.listener.user_ids(good["username_text"]),
            "source_file": pc.take(names, good["member_index"]),
            "file_kind": pa.array([kind] * good.num_rows, pa.string()),
            "record_number": good["record_number"],
        }
        for key in keys:
            columns[_snake(key) if entity == ACCOUNT_ENTITY else key] = good[key]
        if entity == EXTENDED_ENTITY:
            columns["platform_family"] = _platform_families(good["platform_text"])
        self.tables[entity].append(pa.table(columns).cast(ENTITIES[entity]))

    def table(self, entity: str) -> pa.Table:
        tables = self.tables[entity]
        return pa.concat_tables(tables) if tables else ENTITIES[entity].empty_table()

    def file_problems(self) -> int:
        """Each file's unreadable rest is one rejected row, so rows in = landed + rejected."""
        problems = 0
        for index, outcome in sorted(self.outcomes.items()):
            if outcome.problem:
                member = self.members[index]
                problems += 1
                self.rejects.append(
                    Reject(
                        outcome.records + 1,
                        f"{member.name} {outcome.problem}",
                        None,
                        source_file=member.name,
                    )
                )
        return problems


_KIND_NOTES: dict[str, str] = {
    "extended-audio": "extended-history audio record(s)",
    "extended-video": "extended-history video record(s) (content type video, kept out of the "
    "listening marts)",
    "account-music": "account-data music record(s)",
    "account-mixed": "account-data record(s) of the 2019-20 files mixing music and podcasts",
    "account-podcast": "account-data podcast record(s)",
}


def _notes(reading: ExportReading, library: LibraryReading) -> list[str]:
    notes = [
        f"{reading.records[kind]} {text}"
        for kind, text in _KIND_NOTES.items()
        if any(m.kind == kind for m in reading.members)
    ]
    if library.rows:
        notes.append(
            f"{len(library.rows)} track reference(s) from YourLibrary.json and playlists "
            "(track, artist, album, uri only): they resolve account plays to track ids at build "
            "time"
        )
    used = reading.listener.used
    sources = {
        "records": "the username in the records (hashed)",
        "Userdata.json": "the username in Userdata.json (hashed)",
        "--user": reading.listener.given_by,
    }
    for source, text in sources.items():
        if used[source]:
            notes.append(f"listener of {used[source]} record(s): {text}")
    if used["none in the export"]:
        notes.append(
            f"{used['none in the export']} record(s) name no account (account data without "
            "Userdata.json, and extended history since late 2024, carry none): landed for "
            "SPOTIFLOW_SAMPLE_USER; pass --user NAME, the name your other exports and API "
            "polls use"
        )
    empty = sum(1 for outcome in reading.outcomes.values() if outcome.empty)
    if empty:
        notes.append(f"{empty} empty history file(s)")
    return notes


def read_spotify_export(
    path: Path,
    settings: Settings,
    user: str | None = None,
    now: datetime | None = None,
    *,
    given_by: str = "--user",
    sample_user_fallback: bool = True,
) -> ReadResult:
    """The history records and track references of one export; `user` names whose it is
    (`given_by` says how, for the note). Without `sample_user_fallback`, an export whose records
    name no account raises NoListenerNamed instead of landing for SPOTIFLOW_SAMPLE_USER."""
    latest = latest_plausible(now)
    with scratch_folder(settings.data_dir) as scratch, duckdb.connect() as connection:
        members = list_members(path, scratch, settings.archive_limits)
        listener = Listener(
            settings, user, username_in(members), path, given_by, sample_user_fallback
        )
        reading = ExportReading(connection, members, listener, latest, settings.archive_limits)
        create_records_table(connection)
        for kind in _KIND_NOTES:
            extended = kind.startswith("extended")
            reading.read(
                kind,
                EXTENDED_ENTITY if extended else ACCOUNT_ENTITY,
                EXTENDED_KEYS if extended else ACCOUNT_KEYS,
                scratch,
            )
        library = LibraryReading()
        read_track_references([m for m in members if m.kind in ("library", "playlists")], library)
        problems = reading.file_problems()
        rows_in = sum(o.records for o in reading.outcomes.values()) + problems + library.rows_in
        tables = {
            EXTENDED_ENTITY: reading.table(EXTENDED_ENTITY),
            ACCOUNT_ENTITY: reading.table(ACCOUNT_ENTITY),
            LIBRARY_ENTITY: pa.Table.from_pylist(library.rows, schema=ENTITIES[LIBRARY_ENTITY]),
        }
        checksum = export_checksum(members)
    return ReadResult(
        kind=KIND,
        path=path,
        rows_in=rows_in,
        tables=tables,
        rejects=reading.rejects + library.rejects,
        notes=_notes(reading, library),
        options={"user_id": listener.default_id} if user else {},
        checksum=checksum,
    )
