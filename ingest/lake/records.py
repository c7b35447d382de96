"""What a reader hands to landing: record tables per entity, rejected rows, counts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ingest.lake.schemas import ENTITIES


@dataclass(frozen=True)
class Reject:
    """One input row that did not land, with the line it came from and why."""

    line: int
    reason: str
    raw_record: str | None = None
    # The file inside the input the row came from (a member of an export), if not the input.
    source_file: str | None = None


@dataclass
class ReadResult:
    """Everything read from one input file, before it is landed."""

    kind: str
    path: Path
    rows_in: int
    tables: dict[str, pa.Table]
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Options that change what lands (the user a legacy file is for, a forced scale): part of
    # the idempotency key, so the same file for another user is a new load.
    options: dict[str, str] = field(default_factory=dict)
    # Set by readers of several files (an export folder or zip): a digest of what was read, so
    # the same export as a zip or a folder is the same input. Otherwise the file's SHA-256.
    checksum: str | None = None

    @property
    def rows_landed(self) -> int:
        return self.rows_in - len(self.rejects)


def table_from_rows(entity: str, rows: list[dict]) -> pa.Table:
    """An entity's record table from Python rows, typed by the entity's schema."""
    return pa.Table.from_pylist(rows, schema=ENTITIES[entity])


def raw_json(record: dict) -> str:
    """A rejected row as it came in, for the rejects table."""
    return json.dumps(record, ensure_ascii=False, default=str)
