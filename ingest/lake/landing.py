"""Landing: one Parquet file per load and entity, written atomically, with a load manifest.

Layout under the lake root:
    <entity>/_schema.parquet   zero rows, the entity's full schema (every reader sees every column)
    <entity>/<load_id>.parquet one file per load
    loads/<load_id>.parquet    the manifest row; written last, it is what commits a load
    <entity>/compacted-<id>.parquet, compactions/<id>.parquet
                               many loads' rows merged, and the record that commits them
                               (compaction.py; what a reader reads: files.py)

A crash before the manifest row leaves orphan files, which the next landing removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.identity import file_checksum, stable_hash
from ingest.lake.files import (
    COMPACTIONS,
    MANIFEST_ENTITY,
    RECORD_SCHEMA,
    SCHEMA_FILE,
    EntityFiles,
    LakeFiles,
    is_compacted,
    is_data_file,
)
from ingest.lake.records import ReadResult
from ingest.lake.schemas import ENTITIES, PLAY_TIME_COLUMNS, lake_schema
from spotiflow.errors import SpotiflowError, StorageError

REJECTS_ENTITY = "rejects"
PROFILES_ENTITY = "user_profiles"


@dataclass(frozen=True)
class LoadReport:
    """What one landing did, for the CLI to print."""

    load_id: str
    kind: str
    source_file: str
    rows_in: int
    rows_landed: int
    rows_rejected: int
    entity_rows: dict[str, int]
    notes: list[str]
    already_landed: bool = False


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _earliest(table: pa.Table | None, column: str) -> datetime | None:
    if table is None or table.num_rows == 0:
        return None
    return pc.min(table[column]).as_py()


def _earliest_play(tables: dict[str, pa.Table]) -> datetime | None:
    times = [_earliest(tables.get(entity), column) for entity, column in PLAY_TIME_COLUMNS.items()]
    known = [time for time in times if time is not None]
    return min(known) if known else None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write to a hidden temporary name in the same folder, flush to disk, then rename: the
    file is there whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        with temporary.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as error:
        # Disk full, read-only, no permission: the temporary file goes, the target was never
        # there (a load's manifest row is written last, so the load is not committed either).
        temporary.unlink(missing_ok=True)
        raise StorageError(target, error) from None
    fsync_dir(target.parent)


def write_text_atomically(target: Path, text: str) -> None:
    write_atomically(target, lambda handle: handle.write(text.encode("utf-8")))


def write_parquet_atomically(table: pa.Table, target: Path) -> None:
    write_atomically(target, lambda handle: pq.write_table(table, handle, compression="zstd"))


class Lake:
    """The Parquet lake under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entity_dir(self, entity: str) -> Path:
        return self.root / entity

    @property
    def full_refresh_marker(self) -> Path:
        """The mark of the last withdrawn load: a warehouse built before it may still hold the
        load, and is rebuilt in full (each warehouse records the mark it was rebuilt after)."""
        return self.root / ".full-refresh-needed"

    def withdrawal(self) -> str | None:
        """The mark of the last withdrawal of a load, None if none was ever withdrawn."""
        try:
            return self.full_refresh_marker.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def ensure_layout(self) -> None:
        """Create every entity folder with its schema file (rewritten when the schema changed),
        and the compaction records' folder with theirs."""
        schemas = {entity: lake_schema(entity) for entity in ENTITIES}
        for entity, schema in {**schemas, COMPACTIONS: RECORD_SCHEMA}.items():
            path = self.entity_dir(entity) / SCHEMA_FILE
            if path.exists() and pq.read_schema(path).equals(schema, check_metadata=False):
                continue
            write_parquet_atomically(schema.empty_table(), path)

    @contextlib.contextmanager
    def locked(self, purpose: str = "landing") -> Iterator[None]:
        """One writer at a time per lake (a landing, or a build reading a settled lake).

        The holder writes its pid and purpose into the lock file, so a second process can say
        who it is waiting for. The file is opened without truncating: only the holder writes.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise SpotiflowError(
                    f"another spotiflow process ({holder}) is using the lake in {self.root}; "
                    "try again when it has finished"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, {purpose}")
            handle.flush()
            try:
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def files(self) -> LakeFiles:
        """One reading of the lake's compaction records, manifest and folders: what a reader
        reads of each entity (ingest/lake/files.py)."""
        return LakeFiles.read(self.root)

    def manifest(self) -> pa.Table:
        """Every committed load (the manifest rows)."""
        return self.files().manifest

    def committed(self, entity: str) -> EntityFiles:
        """What a reader reads of an entity: the files, and loads to leave out of them."""
        return self.files().entity(entity)

    def committed_files(self, entity: str) -> list[Path]:
        """The files a reader reads of an entity (not its schema file). A compacted one may
        also hold rows of withdrawn loads: committed(entity).read() leaves them out."""
        return list(self.committed(entity).files)

    def known_values(self, entity: str, column: str) -> set[str]:
        """Every value of one column of an entity across committed loads (ids already landed)."""
        return {v for v in self.committed(entity).read([column])[column].to_pylist() if v}

    def committed_load_ids(self) -> set[str]:
        return set(self.files().committed)

    def find_load(self, load_key: str) -> str | None:
        manifest = self.manifest()
        matches = manifest.filter(pc.equal(manifest["load_key"], load_key))
        return matches["load_id"][0].as_py() if matches.num_rows else None

    def recover(self) -> list[Path]:
        """Remove what an interrupted landing or compaction left: temporary files, files of
        loads that are not committed, compacted files without a record. (The files a compaction
        took over stay until a build is published: remove_superseded.)"""
        lake = self.files()
        committed = lake.committed
        recorded = {(c.entity, c.file_name) for c in lake.compactions if c.file_name}
        removed: list[Path] = []
        for entity in [*ENTITIES, COMPACTIONS]:
            folder = self.entity_dir(entity)
            if not folder.exists():
                continue
            for path in folder.iterdir():
                if path.name.startswith(".") and path.name.endswith(".tmp"):
                    orphan = True
                elif entity == COMPACTIONS or not is_data_file(path):
                    orphan = False
                elif is_compacted(path):
                    orphan = (entity, path.name) not in recorded
                else:
                    orphan = path.stem not in committed
                if orphan:
                    path.unlink()
                    removed.append(path)
        return removed

    def remove_superseded(self) -> list[Path]:
        """Remove the files compactions took over: loads' own files a live compacted file holds,
        and compactions replaced since or holding no committed load (file, then record, each
        once nothing it replaces is left). Called once a build is published: until then the
        published build's sources may still read them."""
        lake = self.files()
        committed = lake.committed
        removed: list[Path] = []

        def remove(path: Path) -> None:
            if path.exists():
                path.unlink()
                removed.append(path)

        for entity in ENTITIES:
            for load_id, compacted in lake.entity(entity).compacted.items():
                if compacted.exists():
                    remove(self.entity_dir(entity) / f"{load_id}.parquet")
        records = {c.compaction_id: c for c in lake.compactions}
        replaced_by = {name: c for c in records.values() for name in c.replaces}
        settled = False
        while not settled:
            settled = True
            for compaction in list(records.values()):
                if compaction.replaces & records.keys():
                    continue  # what it replaces goes first, or it would be read again
                replacer = replaced_by.get(compaction.compaction_id)
                if replacer is not None:
                    # Only when the replacing file is there: a lost one still needs this one.
                    gone = (
                        replacer.file_name is None
                        or (self.entity_dir(replacer.entity) / replacer.file_name).exists()
                    )
                elif compaction.entity == MANIFEST_ENTITY:
                    gone = not compaction.loads
                else:
                    gone = not compaction.loads.keys() & committed
                if not gone:
                    continue
                if compaction.file_name:
                    remove(self.entity_dir(compaction.entity) / compaction.file_name)
                remove(self.entity_dir(COMPACTIONS) / f"{compaction.compaction_id}.parquet")
                del records[compaction.compaction_id]
                settled = False
        for folder in {path.parent for path in removed}:
            fsync_dir(folder)
        return removed

    def land(self, result: ReadResult) -> LoadReport:
        """Land one reader's result: nothing new if the same input was landed before."""
        started_at = _utcnow()
        checksum = result.checksum or file_checksum(result.path)
        options = json.dumps(result.options, sort_keys=True)
        load_key = stable_hash(result.kind, checksum, options, length=64)
        with self.locked(f"landing {result.kind} {result.path.name}"):
            self.ensure_layout()
            self.recover()
            previous = self.find_load(load_key)
            if previous is not None:
                return LoadReport(
                    load_id=previous,
                    kind=result.kind,
                    source_file=result.path.name,
                    rows_in=result.rows_in,
                    rows_landed=0,
                    rows_rejected=0,
                    entity_rows={},
                    notes=[],
                    already_landed=True,
                )
            load_id = f"{started_at:%Y%m%dT%H%M%S%f}-{result.kind}-{load_key[:8]}"
            lineage = {"source": result.kind, "load_id": load_id, "_loaded_at": started_at}
            entity_rows: dict[str, int] = {}
            notes = list(result.notes)
            tables = dict(result.tables)
            if PROFILES_ENTITY in tables:
                tables[PROFILES_ENTITY], restated = self._without_restated_profiles(
                    tables[PROFILES_ENTITY]
                )
                if restated:
                    notes.append(f"{restated} time zone(s) already in effect, not landed again")
            for entity, table in tables.items():
                entity_rows[entity] = table.num_rows
                if table.num_rows:
                    self._write(entity, load_id, table, lineage)
            if result.rejects:
                rejects = pa.Table.from_pylist(
                    [
                        {
                            "source_file": reject.source_file or result.path.name,
                            "source_line": reject.line,
                            "reason": reject.reason,
                            "raw_record": reject.raw_record,
                        }
                        for reject in result.rejects
                    ],
                    schema=ENTITIES[REJECTS_ENTITY],
                )
                self._write(REJECTS_ENTITY, load_id, rejects, lineage)
            manifest_row = {
                "kind": result.kind,
                "source_file": result.path.name,
                "input_checksum": checksum,
                "load_key": load_key,
                "options": options,
                "rows_in": result.rows_in,
                "rows_landed": result.rows_landed,
                "rows_rejected": len(result.rejects),
                "started_at": started_at,
                "finished_at": _utcnow(),
                "notes": json.dumps(notes, ensure_ascii=False) if notes else None,
                "entities": ",".join(sorted(e for e, rows in entity_rows.items() if rows)),
                "plays_from": _earliest_play(tables),
                "lists_from": _earliest(tables.get("recommendations"), "generated_at"),
                "entity_rows": json.dumps(
                    {
                        **{e: rows for e, rows in entity_rows.items() if rows},
                        **({REJECTS_ENTITY: len(result.rejects)} if result.rejects else {}),
                    },
                    sort_keys=True,
                ),
            }
            manifest = pa.Table.from_pylist([manifest_row], schema=ENTITIES[MANIFEST_ENTITY])
            # The manifest row is written last: until it exists the load is not committed.
            self._write(MANIFEST_ENTITY, load_id, manifest, lineage)
        return LoadReport(
            load_id=load_id,
            kind=result.kind,
            source_file=result.path.name,
            rows_in=result.rows_in,
            rows_landed=result.rows_landed,
            rows_rejected=len(result.rejects),
            entity_rows=entity_rows,
            notes=notes,
        )

    def _without_restated_profiles(self, profiles: pa.Table) -> tuple[pa.Table, int]:
        """Drop profile rows that restate the zone already in effect (a batch re-sending every
        listener's zone would otherwise look like a change, and rebuild all their days)."""
        landed = self.committed(PROFILES_ENTITY).read(["user_id", "time_zone", "set_at"])
        in_effect: dict[str, tuple[datetime, str]] = {}
        for row in landed.to_pylist():
            current = in_effect.get(row["user_id"])
            if current is None or row["set_at"] > current[0]:
                in_effect[row["user_id"]] = (row["set_at"], row["time_zone"])
        keep = [
            row["user_id"] not in in_effect or in_effect[row["user_id"]][1] != row["time_zone"]
            for row in profiles.select(["user_id", "time_zone"]).to_pylist()
        ]
        kept = profiles.filter(pa.array(keep, type=pa.bool_()))
        return kept, profiles.num_rows - kept.num_rows

    def _write(self, entity: str, load_id: str, table: pa.Table, lineage: dict) -> None:
        for name, value in lineage.items():
            field = lake_schema(entity).field(name)
            column = pa.repeat(pa.scalar(value, type=field.type), table.num_rows)
            table = table.append_column(field, column)
        table = table.cast(lake_schema(entity))
        write_parquet_atomically(table, self.entity_dir(entity) / f"{load_id}.parquet")
