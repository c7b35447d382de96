"""Which files of the lake a reader reads: the one rule, in Python (macros/lake/committed_lake.sql
holds the same rule for dbt on DuckDB and Spark).

A compaction (ingest/lake/compaction.py) merges many loads' files of one entity into
`<entity>/compacted-<compaction_id>.parquet` and commits it by writing its record,
`compactions/<compaction_id>.parquet`: one row per load the file holds (load_id, rows) and one per
compaction it replaces (replaces). A compaction is live while it has a record and no other record
replaces it. Then, per entity:

    the manifest (loads)   the live compacted manifest files, and the per-load manifest files
                           (loads/<load_id>.parquet) no live compaction holds; the loads they
                           list are the committed loads
    any other entity       the live compacted files that hold a committed load, and the
                           committed loads' own files (<load_id>.parquet) no live compaction
                           holds; in the compacted files, rows of loads no longer committed
                           (withdrawn by `spotiflow forget`) are left out

A compacted file without a record, a load's file a record has taken over: neither is read, so
a compaction killed between any two of its steps leaves the lake reading the same rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.lake.schemas import lake_schema
from spotiflow.errors import SpotiflowError

SCHEMA_FILE = "_schema.parquet"
MANIFEST_ENTITY = "loads"
COMPACTIONS = "compactions"
COMPACTED_PREFIX = "compacted-"

RECORD_SCHEMA = pa.schema(
    [
        pa.field("compaction_id", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        # The compacted file in the entity's folder (null: the compaction replaces files with
        # nothing, as when every load of a compacted manifest was withdrawn).
        pa.field("file_name", pa.string()),
        # A row per load the file holds, with its rows in the file ...
        pa.field("load_id", pa.string()),
        pa.field("rows", pa.int64()),
        # ... and a row per compaction this one replaces (their loads are all in this one).
        pa.field("replaces", pa.string()),
        pa.field("compacted_at", pa.timestamp("us"), nullable=False),
    ]
)


def is_compacted(path: Path) -> bool:
    return path.name.startswith(COMPACTED_PREFIX)


def is_data_file(path: Path) -> bool:
    """A file of rows: not the schema file, not a temporary file."""
    return path.suffix == ".parquet" and not path.name.startswith(("_", "."))


@dataclass(frozen=True)
class Compaction:
    """One record: a compacted file of an entity, the loads it holds, what it replaces."""

    compaction_id: str
    entity: str
    file_name: str | None
    loads: dict[str, int]
    replaces: frozenset[str]


def read_compactions(root: Path) -> list[Compaction]:
    """Every compaction with a record, oldest first."""
    folder = root / COMPACTIONS
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(p for p in folder.iterdir() if is_data_file(p)):
        rows = pq.read_table(path).to_pylist()
        if not rows:
            continue
        found.append(
            Compaction(
                compaction_id=rows[0]["compaction_id"],
                entity=rows[0]["entity"],
                file_name=rows[0]["file_name"],
                loads={r["load_id"]: r["rows"] for r in rows if r["load_id"] is not None},
                replaces=frozenset(r["replaces"] for r in rows if r["replaces"] is not None),
            )
        )
    return found


def live_compactions(compactions: Iterable[Compaction]) -> list[Compaction]:
    """The compactions no other record replaces."""
    compactions = list(compactions)
    replaced = {name for c in compactions for name in c.replaces}
    return [c for c in compactions if c.compaction_id not in replaced]


def conform(table: pa.Table, entity: str) -> pa.Table:
    """A file's rows with the entity's current columns and types (columns a file landed before
    they existed are null, as a reader's union by name gives them); every column nullable."""
    schema = lake_schema(entity)
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    nullable = pa.schema([f.with_nullable(True) for f in schema])
    return pa.table(columns, schema=nullable)


def _without(table: pa.Table, loads: Sequence[str]) -> pa.Table:
    if not loads:
        return table
    return table.filter(pc.invert(pc.is_in(table["load_id"], value_set=pa.array(loads))))


@dataclass(frozen=True)
class EntityFiles:
    """What a reader reads of one entity: its files, and the loads to leave out of them."""

    entity: str
    folder: Path
    files: tuple[Path, ...]
    # Loads no longer committed whose rows are still in a compacted file read here.
    withdrawn: tuple[str, ...]
    # Committed load -> the live compacted file holding its rows (loads without one: their own).
    compacted: dict[str, Path] = field(default_factory=dict)

    def file_of(self, load_id: str) -> Path:
        """The file that holds a committed load's rows (it may be gone: callers check)."""
        return self.compacted.get(load_id, self.folder / f"{load_id}.parquet")

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        """Every committed row, in the entity's schema (or the given columns of it)."""
        schema = lake_schema(self.entity)
        if columns is not None:
            schema = pa.schema([schema.field(name) for name in columns])
        tables = [schema.empty_table()]
        for path in self.files:
            leave_out = self.withdrawn if is_compacted(path) else ()
            tables.append(self._read(path, schema.names, leave_out))
        return pa.concat_tables(tables, promote_options="permissive")

    def batches(
        self, columns: Sequence[str], loads: Collection[str], max_rows: int
    ) -> Iterator[pa.Table]:
        """The given columns of the committed rows of `loads`, whole files at a time, in tables
        of about `max_rows` rows (a file larger than that comes alone): memory follows the
        batch, not the entity. Files holding none of `loads` are not opened."""
        schema = lake_schema(self.entity)
        schema = pa.schema([schema.field(name) for name in dict.fromkeys([*columns, "load_id"])])
        held: dict[Path, set[str]] = {}
        for load_id, path in self.compacted.items():
            held.setdefault(path, set()).add(load_id)
        parts: list[pa.Table] = []
        rows = 0
        loads = set(loads)
        for path in self.files:
            in_file = held.get(path, set()) if is_compacted(path) else {path.stem}
            wanted = in_file & loads
            if not wanted:
                continue
            table = self._read(path, schema.names, ())
            if wanted != in_file or is_compacted(path):
                table = table.filter(pc.is_in(table["load_id"], pa.array(sorted(wanted))))
            parts.append(table)
            rows += table.num_rows
            if rows >= max_rows:
                yield pa.concat_tables([schema.empty_table(), *parts], promote_options="permissive")
                parts, rows = [], 0
        if parts:
            yield pa.concat_tables([schema.empty_table(), *parts], promote_options="permissive")

    def load_rows(self, load_id: str) -> pa.Table:
        """One committed load's rows, from whichever file holds them."""
        path = self.file_of(load_id)
        if is_compacted(path):
            return pq.read_table(path, filters=[("load_id", "=", load_id)])
        return pq.read_table(path)

    def rows_by_load(self) -> Counter[str]:
        """Rows per committed load in the files read (a compacted file's load_id column counted,
        a load's own file by its metadata)."""
        counts: Counter[str] = Counter()
        for path in self.files:
            if not is_compacted(path):
                counts[path.stem] += pq.read_metadata(path).num_rows
                continue
            loads = pq.read_table(path, columns=["load_id"])["load_id"]
            for row in pc.value_counts(loads).to_pylist():
                if row["values"] not in self.withdrawn:
                    counts[row["values"]] += row["counts"]
        return counts

    @staticmethod
    def _read(path: Path, names: Sequence[str], leave_out: Sequence[str]) -> pa.Table:
        present = set(pq.read_schema(path).names)
        wanted = [name for name in names if name in present]
        if leave_out and "load_id" not in wanted:
            table = pq.read_table(path, columns=[*wanted, "load_id"])
            return _without(table, leave_out).drop_columns(["load_id"])
        return _without(pq.read_table(path, columns=wanted), leave_out)


@dataclass(frozen=True)
class LakeFiles:
    """The lake as one reading of its records, manifest and folders has it."""

    root: Path
    compactions: tuple[Compaction, ...]
    manifest_files: tuple[Path, ...]
    manifest: pa.Table

    @classmethod
    def read(cls, root: Path) -> LakeFiles:
        # The records first, then the manifest, then (in entity()) the data files: a compaction
        # writes its file before its record, a landing its files before its manifest row.
        compactions = tuple(read_compactions(root))
        held = _held(live_compactions(compactions), MANIFEST_ENTITY)
        folder = root / MANIFEST_ENTITY
        compacted = sorted({folder / name for name in held.values()})
        lost = [path for path in compacted if not path.exists()]
        if lost:
            # Its loads would silently stop being committed (and their files be cleaned away).
            raise SpotiflowError(
                f"the lake in {root} has lost {MANIFEST_ENTITY}/{lost[0].name}, the manifest of "
                "compacted loads: restore it from a backup before anything else lands or builds"
            )
        own = sorted(
            path
            for path in (folder.iterdir() if folder.is_dir() else ())
            if is_data_file(path) and not is_compacted(path) and path.stem not in held
        )
        files = [*compacted, *own]
        schema = lake_schema(MANIFEST_ENTITY)
        tables = [schema.empty_table(), *(pq.read_table(path) for path in files)]
        manifest = pa.concat_tables(tables, promote_options="permissive")
        return cls(root, compactions, tuple(files), manifest)

    @property
    def committed(self) -> frozenset[str]:
        return frozenset(self.manifest.column("load_id").to_pylist())

    def live(self) -> list[Compaction]:
        return live_compactions(self.compactions)

    def entity(self, entity: str) -> EntityFiles:
        folder = self.root / entity
        held = _held(self.live(), entity)
        if entity == MANIFEST_ENTITY:
            compacted = {load: folder / name for load, name in held.items()}
            return EntityFiles(entity, folder, self.manifest_files, (), compacted)
        committed = self.committed
        reading = sorted({name for load, name in held.items() if load in committed})
        withdrawn = sorted(
            load for load, name in held.items() if load not in committed and name in reading
        )
        own = sorted(
            path
            for path in (folder.iterdir() if folder.is_dir() else ())
            if is_data_file(path)
            and not is_compacted(path)
            and path.stem in committed
            and path.stem not in held
        )
        compacted_files = [folder / name for name in reading if (folder / name).exists()]
        compacted = {load: folder / name for load, name in held.items() if load in committed}
        return EntityFiles(
            entity, folder, tuple(compacted_files + own), tuple(withdrawn), compacted
        )


def _held(live: Iterable[Compaction], entity: str) -> dict[str, str]:
    """Load -> the live compacted file of the entity that holds its rows."""
    return {
        load: compaction.file_name
        for compaction in live
        if compaction.entity == entity and compaction.file_name
        for load in compaction.loads
    }
