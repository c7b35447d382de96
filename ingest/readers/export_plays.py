"""An export's plays gathered in DuckDB, whichever way each file was read; ids given at the end.

Both ways of reading a history file (column-wise for well-formed extended history, record by
record for the rest) stage the same columns here. Play ids and ordinals are then given in one
pass in file and record order, so a play gets the same id whichever way its file was read.
"""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa

from ingest.schemas import ENTITIES

# The plays entity's columns as readers give them: no id and no ordinal yet.
_PLAY_COLUMNS = [
    field.with_nullable(True)
    for field in ENTITIES["plays"]
    if field.name not in ("play_id", "play_seq")
]
STAGED = pa.schema(
    [
        pa.field("member_index", pa.int32()),
        pa.field("record_number", pa.int64()),
        # What makes two plays at one moment the same play: the track, else the uri, else names.
        pa.field("play_key", pa.string()),
        # Extended history names a track (id, name, artist, album) for the tracks entity.
        pa.field("names_track", pa.bool_()),
        pa.field("album_name", pa.string()),
        *_PLAY_COLUMNS,
    ]
)
TABLE = "export_plays"
_DUCKDB_TYPES = {
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.string(): "varchar",
    pa.bool_(): "boolean",
    pa.timestamp("us"): "timestamp",
}

# Equal to ingest.identity.stable_hash(user_id, play_key, played_at.isoformat(), play_seq[,
# precision]): the ids every earlier landing gave these plays. Account data's minute-rounded
# time can equal extended history's exact one: the precision keeps their ids apart, so the better
# source wins in int_plays_deduplicated.
_PLAY_ID = """left(sha256(concat_ws(
        chr(31),
        user_id,
        play_key,
        strftime(played_at, '%Y-%m-%dT%H:%M:%S') || coalesce(
            '.' || lpad(nullif(epoch_us(played_at) % 1000000, 0)::varchar, 6, '0'), ''
        ),
        play_seq::varchar,
        case when played_at_precision <> 'second' then played_at_precision end
    )), 24)"""
# The plays entity's columns in its own order; the two given here, the rest as staged.
_GIVEN = {"play_id": _PLAY_ID, "play_seq": "play_seq::integer"}
_PLAYS_SQL = f"""
with numbered as (
    select
        *,
        count(*) over (
            partition by user_id, play_key, played_at
            order by member_index, record_number
            rows between unbounded preceding and current row
        ) as play_seq
    from {TABLE}
)

select
    {", ".join(f"{_GIVEN.get(f.name, f.name)} as {f.name}" for f in ENTITIES["plays"])}
from numbered
order by member_index, record_number
"""


class ExportPlays:
    """The staging table of one export's plays, in one DuckDB connection."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        columns = ", ".join(f"{f.name} {_DUCKDB_TYPES[f.type]}" for f in STAGED)
        connection.execute(f"create temp table {TABLE} ({columns})")

    def add_rows(self, rows: list[dict]) -> None:
        """Rows read record by record (a file's worth at a time)."""
        if rows:
            self.add_table(pa.Table.from_pylist(rows, schema=STAGED))

    def add_table(self, table: pa.Table) -> None:
        self.connection.register("staged_rows", table)
        try:
            self.connection.execute(f"insert into {TABLE} by name select * from staged_rows")
        finally:
            self.connection.unregister("staged_rows")

    def insert_from(self, relation: str, exclude: tuple[str, ...], members: list[int]) -> None:
        """Rows of a registered relation with the staged columns (and more), for some files."""
        if not members:
            return
        self.connection.execute(
            f"insert into {TABLE} by name select * exclude ({', '.join(exclude)}) "
            f"from {relation} where member_index in (select unnest($members))",
            {"members": members},
        )

    def named_tracks(self) -> list[tuple[str, str | None, str | None]]:
        """Every (track id, name, artist) extended history named so far, for the resolver."""
        return self.connection.execute(
            f"select distinct track_id, track_name, artist_name from {TABLE} where names_track"
        ).fetchall()

    def content_counts(self) -> Counter[str]:
        rows = self.connection.execute(
            f"select content_type, count(*) from {TABLE} group by content_type"
        ).fetchall()
        return Counter({content_type: count for content_type, count in rows})

    def plays(self) -> pa.Table:
        """The plays entity, ids given, in file and record order."""
        table = self.connection.sql(_PLAYS_SQL).to_arrow_table()
        return table.cast(ENTITIES["plays"])

    def tracks(self) -> pa.Table:
        """Each track extended history named, as its first play named it."""
        table = self.connection.sql(
            f"""
            select
                track_id,
                track_name,
                artist_name,
                album_name,
                null::integer as duration_ms,
                null::integer as popularity,
                null::bigint as streams
            from {TABLE}
            where names_track
            qualify row_number() over (
                partition by track_id order by member_index, record_number
            ) = 1
            order by member_index, record_number
            """
        ).to_arrow_table()
        return table.cast(ENTITIES["tracks"])
