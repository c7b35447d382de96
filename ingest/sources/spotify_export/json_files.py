"""History files parsed by DuckDB's JSON reader: one record per array element, as JSON.

Each element lands in the temp view `history_records` (member_index, record_number, record)
whatever it is (an object, a list, a number): what a record must hold is judged afterwards, in
SQL, once (records.py). Files DuckDB refuses whole (cut off mid-array, a lone UTF-16 surrogate,
bytes that are not UTF-8, not an array at all) are mended first: their complete records are
re-written as a clean array, and what could not be read becomes one problem for the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

RECORDS_TABLE = "history_records"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_GLOB_CHARACTERS = re.compile(r"([\[*?])")


@dataclass
class FileOutcome:
    """What reading one file gave: its record count, and what could not be read."""

    records: int = 0
    problem: str | None = None
    empty: bool = False


def create_records_table(connection: duckdb.DuckDBPyConnection) -> None:
    """`history_records` over what the reader read (json_read) and which file it was
    (json_files); the table keeps the reader's order, so rowid numbers each file's records."""
    connection.execute("create or replace temp table json_read (filename text, record json)")
    connection.execute("create or replace temp table json_files (member_index integer, path text)")
    connection.execute(
        f"""
        create or replace temp view {RECORDS_TABLE} as
        select
            files.member_index,
            read.rowid - min(read.rowid) over (partition by read.filename) + 1 as record_number,
            read.record
        from json_read as read
        inner join json_files as files on read.filename = files.path
        """
    )


def clear_records(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute("delete from json_read")
    connection.execute("delete from json_files")


def _is_empty_array(path: Path) -> bool:
    """Whether a file says `[]` (whitespace and a BOM aside) and nothing else."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    return head.lstrip(b"\xef\xbb\xbf").translate(None, b" \t\r\n") == b"[]"


def _is_blank(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
        return not head.lstrip(b"\xef\xbb\xbf \t\r\n") and not handle.read(1)


def literal_path(path: Path) -> str:
    """A path DuckDB reads as itself: it expands [, * and ? as a glob, so each is a one-character
    class ('exp [1]' would otherwise read 'exp 1')."""
    return _GLOB_CHARACTERS.sub(r"[\1]", str(path))


def _insert(connection: duckdb.DuckDBPyConnection, files: dict[int, Path]) -> None:
    """Every element of the files' arrays, in file order; raises (adding nothing) if DuckDB
    cannot read one of them."""
    connection.execute(
        "insert into json_read select filename, json "
        "from read_json($paths, format = 'array', records = false, "
        "columns = {'json': 'JSON'}, filename = true)",
        {"paths": [literal_path(path) for path in files.values()]},
    )
    connection.executemany(
        "insert into json_files values (?, ?)",
        [(index, str(path)) for index, path in files.items()],
    )


def _salvage(text: str) -> tuple[list[Any], str]:
    """The complete records before the point where a cut-off array breaks."""
    decoder = json.JSONDecoder()
    position = text.find("[")
    records: list[Any] = []
    if position < 0:
        return records, "is not JSON (no array found)"
    position += 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            break
        if text[position] == "]":
            return records, ""
        try:
            record, position = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            break
        records.append(record)
    return records, (
        f"is cut off: JSON breaks at character {position} after {len(records)} complete "
        "record(s), which landed"
    )


def _kind_name(value: object) -> str:
    return {dict: "an object", str: "a string"}.get(type(value), f"a {type(value).__name__}")


def _mended(path: Path, scratch: Path) -> tuple[Path | None, str | None]:
    """A clean copy of a file DuckDB refused, and what of it could not be read."""
    # Bytes that are not UTF-8 (a surrogate written raw, a stray Latin-1 byte) become U+FFFD,
    # as an escaped lone surrogate does below: the record around them still lands.
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        records, problem = _salvage(text)
    else:
        if not isinstance(value, list):
            return None, f"is not a JSON array but {_kind_name(value)}"
        records, problem = value, ""
    try:
        clean = json.dumps(records, ensure_ascii=False)
    except (RecursionError, ValueError):
        return None, "holds records nested too deeply to read"
    target = scratch / f"mended-{path.name}"
    # A lone surrogate is no character at all: U+FFFD marks where it was.
    target.write_text(_LONE_SURROGATE.sub("\ufffd", clean), encoding="utf-8")
    return target, problem or None


def read_history_files(
    connection: duckdb.DuckDBPyConnection, files: dict[int, Path], scratch: Path
) -> dict[int, FileOutcome]:
    """Fill `history_records` with the files' records {member index: path}."""
    outcomes = {index: FileOutcome() for index in files}
    readable = {}
    for index, path in files.items():
        if _is_blank(path):
            outcomes[index].empty = True
        else:
            readable[index] = path
    try:
        if readable:
            _insert(connection, readable)
    except duckdb.Error:
        for index, path in readable.items():
            try:
                _insert(connection, {index: path})
                continue
            except duckdb.Error:
                pass
            mended, problem = _mended(path, scratch)
            outcomes[index].problem = problem
            if mended is not None:
                try:
                    _insert(connection, {index: mended})
                except duckdb.Error:
                    outcomes[index].problem = "is not JSON that can be read"
                mended.unlink()
    counts = connection.execute(
        "select files.member_index, count(*) from json_read as read "
        "inner join json_files as files on read.filename = files.path "
        "where files.member_index in (select unnest($members)) group by files.member_index",
        {"members": list(files)},
    ).fetchall()
    for index, count in counts:
        outcomes[index].records = count
    for index, path in readable.items():
        outcome = outcomes[index]
        # Records in, none read, nothing said: never "0 rows" (a path read as a pattern once
        # read another file in its stead).
        if not outcome.records and outcome.problem is None and not _is_empty_array(path):
            outcome.problem = "holds records but none could be read from it"
    return outcomes
