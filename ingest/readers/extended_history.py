"""Extended streaming history read column-wise by DuckDB's JSON reader: no object per record.

Spotify writes these files and nearly all are well formed. A file DuckDB cannot read as an
array of records, or holding any record this path cannot vouch for (a timestamp in another form,
a count that is not a whole number, a uri that is not text), is handed back to be read record by
record, which quarantines each bad record with its reason. Values are derived here exactly as
`spotify_export._extended` derives them, so a play is the same whichever way its file was read
(tests/test_spotify_export.py holds the two to that).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingest.readers.export_plays import ExportPlays

# The keys read; every other key of a record (ip_addr, user_agent, conn_country, ...) is not.
# `username` is read only to be hashed: it never leaves this connection.
COLUMNS = (
    "ts",
    "username",
    "platform",
    "ms_played",
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "audiobook_chapter_title",
    "reason_start",
    "reason_end",
    "shuffle",
    "skipped",
    "offline",
    "incognito_mode",
)
# What Python's str.strip() strips (str.isspace), so trimmed text matches the record path's.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _starts_an_array(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _macros(platforms: tuple[tuple[str, tuple[str, ...]], ...], skip_reasons: frozenset[str]):
    families = "\n".join(
        f"            when {' or '.join(f'contains(t, {_sql_text(n)})' for n in needles)} "
        f"then {_sql_text(family)}"
        for family, needles in platforms
    )
    reasons = ", ".join(_sql_text(reason) for reason in sorted(skip_reasons))
    return [
        # A JSON string's text (stripped later, in Arrow); anything else null.
        """create or replace temp macro sf_string(j) as
            case when starts_with(j::varchar, '"') then j ->> '$' end""",
        # A value as Python's truth test reads it.
        """create or replace temp macro sf_truthy(j) as coalesce(
            case json_type(j)
                when 'VARCHAR' then (j ->> '$') <> ''
                when 'BOOLEAN' then (j ->> '$') = 'true'
                when 'ARRAY' then json_array_length(j) > 0
                when 'OBJECT' then len(json_keys(j)) > 0
                else try_cast(j ->> '$' as double) <> 0
            end, false)""",
        """create or replace temp macro sf_flag(j) as
            case when json_type(j) = 'BOOLEAN' then (j ->> '$') = 'true' end""",
        f"""create or replace temp macro sf_platform_text(t) as
            case
                when t is null or t = 'not_applicable' then null
{families}
                else 'other'
            end""",
        f"create or replace temp macro sf_skip_reason(r) as r in ({reasons})",
    ]


_TYPED_SQL = """
with raw as (
    select
        *,
        rowid as ordinal
    from extended_raw
),

first_ordinals as (
    select
        filename,
        min(ordinal) as first_ordinal
    from raw
    group by filename
),

source as (
    select
        files.member_index,
        files.video,
        raw.ordinal - first_ordinals.first_ordinal + 1 as record_number,
        raw.* exclude (filename, ordinal)
    from raw
    inner join first_ordinals on raw.filename = first_ordinals.filename
    inner join extended_files as files on raw.filename = files.path
),

typed as (
    select
        member_index,
        video,
        record_number,
        try_cast(left(ts ->> '$', 19) as timestamp) as played_at,
        json_type(ts) = 'VARCHAR'
            and regexp_full_match(ts ->> '$', '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z')
            as ts_is_utc_seconds,
        json_type(ms_played) as ms_played_type,
        try_cast(ms_played ->> '$' as bigint) as ms_played,
        json_type(spotify_track_uri) as uri_type,
        spotify_track_uri ->> '$' as uri,
        sf_string(username) as username,
        sf_string(master_metadata_track_name) as music_name,
        sf_string(master_metadata_album_artist_name) as music_artist,
        sf_string(master_metadata_album_album_name) as album_name,
        sf_truthy(spotify_episode_uri) or sf_truthy(episode_name) as is_episode,
        sf_truthy(audiobook_uri) or sf_truthy(audiobook_chapter_uri) as is_audiobook,
        sf_string(episode_name) as episode_name,
        sf_string(episode_show_name) as show_name,
        sf_string(audiobook_chapter_title) as chapter_title,
        sf_string(audiobook_title) as audiobook_title,
        sf_string(reason_start) as reason_start,
        sf_string(reason_end) as reason_end,
        sf_flag(skipped) as skipped_flag,
        sf_flag(shuffle) as shuffle,
        sf_flag(offline) as offline,
        sf_flag(incognito_mode) as private_session,
        sf_string(platform) as platform_text
    from source
)

select * from typed
"""

_DERIVED_SQL = """
with typed as (
    select * from extended_typed
),

classified as (
    select
        *,
        case
            when regexp_full_match(uri, 'spotify:track:[0-9A-Za-z]{22}\\n?')
                then substr(uri, 15, 22)
        end as track_id,
        case
            when coalesce(uri, '') <> '' then 'uri'
            when is_episode then 'podcast'
            when is_audiobook then 'audiobook'
            when video then 'video'
            when music_name is not null then 'music'
            else 'unknown'
        end as branch,
        sf_platform_text(platform_text) as platform,
        -- Records the record path must judge (and may quarantine, with its reason).
        not coalesce(ts_is_utc_seconds, false)
            or played_at is null
            or played_at < $launch
            or played_at > $latest
            or (ms_played_type is not null and ms_played_type <> 'UBIGINT')
            or (ms_played_type is not null and ms_played is null)
            or (uri_type is not null and uri_type <> 'VARCHAR') as needs_record_path
    from typed
),

final as (
    select
        member_index,
        record_number,
        coalesce(users.user_id, $default_user) as user_id,
        classified.played_at,
        'second' as played_at_precision,
        classified.track_id,
        case classified.branch
            when 'podcast' then classified.episode_name
            when 'audiobook' then classified.chapter_title
            else classified.music_name
        end as track_name,
        case classified.branch
            when 'podcast' then classified.show_name
            when 'audiobook' then classified.audiobook_title
            else classified.music_artist
        end as artist_name,
        classified.track_id is not null as names_track,
        classified.album_name,
        classified.ms_played,
        case
            when classified.branch <> 'uri' then classified.branch
            when classified.track_id is not null then 'music'
            when starts_with(classified.uri, 'spotify:local:') then 'music'
            else 'unknown'
        end as content_type,
        case
            when sf_skip_reason(classified.reason_end) then true
            when classified.skipped_flag is null and classified.reason_end is not null
                then false
            else classified.skipped_flag
        end as skipped,
        classified.reason_start,
        classified.reason_end,
        classified.shuffle,
        classified.platform,
        classified.offline,
        classified.private_session,
        classified.branch = 'uri' and classified.track_id is null
            and not starts_with(classified.uri, 'spotify:local:') as unknown_uri_kind,
        users.user_id is null as default_user,
        classified.uri as uri_key,
        classified.needs_record_path
    from classified
    left join usernames as users on classified.username = users.username
)

select
    *,
    coalesce(
        track_id,
        nullif(uri_key, ''),
        content_type || chr(31) || coalesce(track_name, 'None') || chr(31)
            || coalesce(artist_name, 'None')
    ) as play_key
from final
"""


# JSON strings `_text` strips (empty -> null); in Arrow, where trimming a set is cheap.
TEXT_COLUMNS = (
    "username",
    "music_name",
    "music_artist",
    "album_name",
    "episode_name",
    "show_name",
    "chapter_title",
    "audiobook_title",
    "reason_start",
    "reason_end",
    "platform_text",
)


def _stripped(typed: pa.Table) -> pa.Table:
    """Text as `_text` reads it (and the platform lowered, as `coarse_platform` reads it)."""
    for name in TEXT_COLUMNS:
        text = pc.utf8_trim(typed[name], characters=PYTHON_WHITESPACE)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        if name == "platform_text":
            text = pc.utf8_lower(text)
        typed = typed.set_column(typed.schema.get_field_index(name), name, text)
    return typed


# Columns of the derivation that are not staged.
DERIVED_ONLY = ("unknown_uri_kind", "default_user", "uri_key", "needs_record_path")


class ExtendedHistoryReader:
    """Reads well-formed extended-history files into an export's staged plays."""

    def __init__(
        self,
        staged: ExportPlays,
        *,
        launch: datetime,
        latest: datetime,
        default_user: str,
        user_given: bool,
        user_id_for: Callable[[str], str],
        platforms: tuple[tuple[str, tuple[str, ...]], ...],
        skip_reasons: frozenset[str],
    ) -> None:
        self.staged = staged
        self.connection = staged.connection
        self.launch = launch
        self.latest = latest
        self.default_user = default_user
        self.user_given = user_given
        self.user_id_for = user_id_for
        for statement in _macros(platforms, skip_reasons):
            self.connection.execute(statement)

    def read(self, files: dict[int, tuple[Path, bool]]) -> dict[int, tuple[int, int, int]]:
        """Stage the plays of files {member index: (path, is video)} read in one go.

        Returns {member index: (records, unknown uri kinds, plays without an account)} for the
        files staged; a file missing from it needs reading record by record (none of its rows
        were staged).
        """
        readable = {index: file for index, file in files.items() if _starts_an_array(file[0])}
        if not readable:
            return {}
        try:
            # A table keeps the reader's row order: rowid numbers the records file by file.
            self.connection.execute(
                "create or replace temp table extended_raw as "
                "select * from read_json($paths, format = 'array', records = true, "
                "columns = $columns, filename = true)",
                {
                    "paths": [str(path) for path, _ in readable.values()],
                    "columns": {name: "JSON" for name in COLUMNS},
                },
            )
        except duckdb.Error:
            if len(readable) == 1:
                return {}
            # One file DuckDB cannot read: the others still can, one by one.
            staged: dict[int, tuple[int, int, int]] = {}
            for index, file in readable.items():
                staged |= self.read({index: file})
            return staged
        listing = pa.table(
            {
                "member_index": pa.array(list(readable), type=pa.int32()),
                "path": pa.array([str(path) for path, _ in readable.values()]),
                "video": pa.array([video for _, video in readable.values()]),
            }
        )
        self.connection.register("extended_files", listing)
        try:
            return self._derive(list(readable))
        finally:
            self.connection.unregister("extended_files")
            self.connection.execute("drop table if exists extended_raw")
            self.connection.execute("drop table if exists extended_derived")

    def _derive(self, members: list[int]) -> dict[int, tuple[int, int, int]]:
        typed = _stripped(self.connection.sql(_TYPED_SQL).to_arrow_table())
        self._register_usernames(typed)
        self.connection.register("extended_typed", typed)
        try:
            self.connection.execute(
                f"create or replace temp table extended_derived as {_DERIVED_SQL}",
                {"launch": self.launch, "latest": self.latest, "default_user": self.default_user},
            )
        finally:
            self.connection.unregister("usernames")
            self.connection.unregister("extended_typed")
        per_member = self.connection.execute(
            """
            select
                member_index,
                count(*),
                count(*) filter (where unknown_uri_kind),
                count(*) filter (where default_user),
                bool_or(needs_record_path)
            from extended_derived
            group by member_index
            """
        ).fetchall()
        found = {row[0]: row for row in per_member}
        staged = {
            index: (0, 0, 0) if index not in found else (
                found[index][1], found[index][2], 0 if self.user_given else found[index][3]
            )
            for index in members
            if index not in found or not found[index][4]
        }  # fmt: skip
        self.staged.insert_from("extended_derived", exclude=DERIVED_ONLY, members=sorted(staged))
        return staged

    def _register_usernames(self, typed: pa.Table) -> None:
        """Each account name in the files -> its hashed user id (the one given, if given)."""
        names: list[str] = []
        if not self.user_given:
            names = [name for name in pc.unique(typed["username"]).to_pylist() if name]
        table = pa.table(
            {
                "username": pa.array(names, type=pa.string()),
                "user_id": pa.array([self.user_id_for(n) for n in names], type=pa.string()),
            }
        )
        self.connection.register("usernames", table)
