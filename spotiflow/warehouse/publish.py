"""Write-audit-publish: a build writes and is tested where no reader looks; only a build that
passed everything (dbt's tests and the quality checkpoint) is published, atomically, to what
readers open, and a failed one leaves them on the last published build.

DuckDB keeps two build files (slots), <data dir>/.builds/{a,b}/spotiflow.duckdb. The
published warehouse, <data dir>/spotiflow.duckdb (the path the dashboard, exports and BI tools
open), is a hard link to one of them, replaced by a rename: a reader opens the old build or the
new, never a mix, and one that has the old build open keeps reading it. A build writes the other
slot. Its incremental models catch up from that slot's own last build (their watermarks live in
the file), so nothing is copied; but a slot that is missing, or that a reader still holds
(opened before the last publication), is replaced by a copy of the published file: a build
never waits for a reader. dbt opens the slot being built by one path,
<data dir>/.builds/building/spotiflow.duckdb (a link to the slot's folder).
What was published (when, the data as of when) is a table in the file, published with it.

PostgreSQL keeps two sets of schemas (slots) in the database: the published build's have the
names readers use (build_logs, staging, intermediate, marts, reference), the other's the prefix
spotiflow_next_ (Settings.postgres_schema_prefix; profiles.yml and
macros/utils/generate_schema_name.sql name them). A build writes the prefixed set, catching up
from that set's own last build, and is tested there; it is published by swapping the names of
the two sets in one transaction (PostgreSQL's DDL is transactional, and views follow a renamed
schema, as they store the oids of what they read), with its record (build_logs.
spotiflow_publication) and the reader role's usage on marts: readers see the old build or the
new, never a mix, and never a build that failed. The lake's schema is shared by both sets.

Spark builds its tables in place, and readers read a snapshot of them that each passing build
publishes (spotiflow/warehouse/engines/spark.py), its record inside.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.lake.landing import Lake, fsync_dir, write_text_atomically
from spotiflow.errors import SpotiflowError, StorageError
from spotiflow.settings import Settings
from spotiflow.warehouse.duckdb_file import lock_holder, warehouse_config
from spotiflow.warehouse.engines import postgres, spark
from spotiflow.warehouse.generation import Generation

SLOTS = ("a", "b")
BUILDING = "building"  # the link to the slot being built
# The record of the published build, inside the DuckDB file it describes.
PUBLICATION_TABLE = "main.spotiflow_publication"


@dataclass(frozen=True)
class Publication:
    """What a published build holds: the newest load it read (data as of), when it started and
    was published, and what built it (generation.py): the project's fingerprint, the
    full refresh and the withdrawal of a load (`spotiflow forget`) it was rebuilt after."""

    published_at: datetime
    build_started_at: datetime
    data_as_of: datetime | None
    withdrawal: str | None = None
    project: str | None = None
    full_refresh: str | None = None

    @property
    def generation(self) -> Generation:
        return Generation(self.project, self.full_refresh, self.withdrawal)


@dataclass(frozen=True)
class Attempt:
    """How the last build ended: published, or failed (readers kept the previous build)."""

    status: str
    finished_at: datetime
    summary: str


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _remove_database(path: Path) -> None:
    for leftover in (path, path.with_name(f"{path.name}.wal")):
        leftover.unlink(missing_ok=True)


def _held_by_a_reader(path: Path, settings: Settings) -> bool:
    config = warehouse_config(replace(settings, building_warehouse=path))
    try:
        duckdb.connect(str(path), config=config).close()
    except duckdb.IOException as exc:
        if lock_holder(str(exc)) is None:
            raise
        return True
    return False


def _settle(path: Path, settings: Settings) -> None:
    """A file a plain dbt left a write-ahead log beside: fold it in (readers and the slot
    opened by another name would not see it)."""
    if path.with_name(f"{path.name}.wal").exists():
        duckdb.connect(str(path), config=warehouse_config(settings)).close()


def _copy(source: Path, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.copying")
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise StorageError(target, error) from None


def _stage_duckdb(settings: Settings) -> Settings:
    settings.builds_dir.mkdir(parents=True, exist_ok=True)
    published = settings.published_warehouse_path
    # The same file name in each slot's folder: DuckDB names the database by it, and views
    # name their database (a view built in one slot must read the same once published).
    slots = [settings.builds_dir / name / published.name for name in SLOTS]
    for slot in slots:
        slot.parent.mkdir(exist_ok=True)
    if published.exists():
        _settle(published, settings)
    current = _inode(published)
    if current is not None and current not in {_inode(slot) for slot in slots}:
        # A warehouse from before builds were published: it becomes the published slot.
        _remove_database(slots[1])
        os.link(published, slots[1])
    target = next(slot for slot in slots if _inode(slot) != current or current is None)
    if target.exists() and _held_by_a_reader(target, settings):
        # A reader opened it before the last publication and still reads it: it keeps its
        # copy (unlinked, the file lives while open); this build starts from the published one.
        _remove_database(target)
    if not target.exists() and published.exists():
        _copy(published, target)
    # dbt opens the slot by one path whichever it is (a link to the slot's folder): a path that
    # changed would change dbt's profile, and dbt would parse the whole project again.
    link = settings.builds_dir / BUILDING
    temporary = settings.builds_dir / f".{BUILDING}.tmp"
    temporary.unlink(missing_ok=True)
    if link.is_dir() and not link.is_symlink():
        # A copy of the data dir that followed links (shutil.copytree, cp -L, some backups)
        # made the link a folder holding a copy of a slot: nothing reads it, a link replaces it.
        shutil.rmtree(link)
    os.symlink(target.parent.name, temporary)
    os.replace(temporary, link)
    return replace(settings, building_warehouse=link / published.name)


def stage(settings: Settings) -> Settings:
    """The settings of a build's own place: what dbt, its tests and the checkpoint work on."""
    if settings.engine == "duckdb":
        return _stage_duckdb(settings)
    settings.builds_dir.mkdir(parents=True, exist_ok=True)
    if settings.engine == "postgres":
        return replace(settings, postgres_building=True)
    spark.adopt_tables_built_in_place(settings, _read_json(_record_file(settings, "published")))
    return replace(settings, spark_building=True)


def place_name(building: Settings) -> str:
    """The build's own place, as messages name it."""
    if building.engine == "duckdb":
        return f"build slot {building.warehouse_path.parent.resolve().name}"
    if building.engine == "postgres":
        return f"schema set {building.postgres_schema_prefix}*"
    return f"the {building.engine} warehouse"


def place_holds_a_build(building: Settings, own: Publication | None) -> bool:
    """Whether the build's place holds an earlier build (a new, empty one is simply built)."""
    if own is not None:
        return True
    if building.engine == "duckdb":
        return building.warehouse_path.exists()
    if building.engine == "postgres":
        return postgres.holds_marts(building, building.postgres_schema_prefix)
    return spark.holds_tables(building)


def _record_file(settings: Settings, kind: str) -> Path:
    return settings.builds_dir / f"{kind}-{settings.engine}.json"


def _write_json(path: Path, value: dict) -> None:
    write_text_atomically(path, json.dumps(value, default=str))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _time(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _publication(row: dict | None) -> Publication | None:
    if not row or row.get("published_at") is None:
        return None
    return Publication(
        published_at=_time(row["published_at"]),
        build_started_at=_time(row["build_started_at"]),
        data_as_of=_time(row.get("data_as_of")),
        withdrawal=row.get("withdrawal"),
        # A record an earlier release wrote has neither: its build is rebuilt in full.
        project=row.get("project"),
        full_refresh=row.get("full_refresh"),
    )


def _read_duckdb_record(path: Path, settings: Settings, *, read_only: bool) -> Publication | None:
    if not path.exists():
        return None
    config = {} if read_only else warehouse_config(settings)
    with duckdb.connect(str(path), read_only=read_only, config=config) as connection:
        found = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = 'spotiflow_publication'"
        ).fetchone()[0]
        if not found:
            return None
        cursor = connection.execute(f"select * from {PUBLICATION_TABLE}")
        names = [column[0] for column in cursor.description]
        row = cursor.fetchone()
    return _publication(dict(zip(names, row, strict=True)) if row else None)


def published(settings: Settings) -> Publication | None:
    """The record of the build readers see; None before any published build (or where a
    plain dbt built the warehouse)."""
    if settings.engine == "duckdb":
        with contextlib.suppress(duckdb.Error):
            return _read_duckdb_record(settings.published_warehouse_path, settings, read_only=True)
        return None
    if settings.engine == "postgres":
        import psycopg2

        with contextlib.suppress(SpotiflowError, psycopg2.Error):
            return _publication(postgres.published_record(settings, ""))
        return None
    if not settings.spark_published_dir.exists():
        # An earlier release's record of the tables it built in place (readers read them).
        return _publication(_read_json(_record_file(settings, "published")))
    return _publication(spark.published_record(settings))


def own_record(building: Settings) -> Publication | None:
    """The record of the last build published from this build's place (its slot)."""
    if building.engine == "duckdb":
        return _read_duckdb_record(building.warehouse_path, building, read_only=False)
    if building.engine == "postgres":
        return _publication(postgres.published_record(building, building.postgres_schema_prefix))
    return published(building)


def data_as_of(lake: Lake, started_at: datetime) -> datetime | None:
    """The newest committed load a build that started then reads."""
    finished = [
        value
        for value in lake.manifest().column("finished_at").to_pylist()
        if value is not None and value <= started_at
    ]
    return max(finished) if finished else None


def publish(building: Settings, publication: Publication) -> None:
    """Make the build the one readers open, with its record, in one atomic step."""
    if building.engine == "postgres":
        postgres.publish_schemas(building, asdict(publication))
        return
    if building.engine == "spark":
        spark.publish_tables(building, asdict(publication))
        return
    slot = building.warehouse_path
    with duckdb.connect(str(slot), config=warehouse_config(building)) as connection:
        connection.execute(
            f"create or replace table {PUBLICATION_TABLE} (published_at timestamp, "
            "build_started_at timestamp, data_as_of timestamp, withdrawal varchar, "
            "project varchar, full_refresh varchar)"
        )
        connection.execute(
            f"insert into {PUBLICATION_TABLE} values (?, ?, ?, ?, ?, ?)",
            [publication.published_at, publication.build_started_at, publication.data_as_of,
             publication.withdrawal, publication.project, publication.full_refresh],
        )  # fmt: skip
        connection.execute("checkpoint")
    published_path = building.published_warehouse_path
    link = published_path.with_name(f".{published_path.name}.publishing")
    try:
        link.unlink(missing_ok=True)
        os.link(slot, link)
        os.replace(link, published_path)
    except OSError as error:
        link.unlink(missing_ok=True)
        raise StorageError(published_path, error) from None
    fsync_dir(published_path.parent)


def what_readers_read(settings: Settings) -> str:
    """The build readers read, said truly: the last published one, a warehouse built without a
    record (by an earlier release or a plain dbt), or nothing yet."""
    before = published(settings)
    if before is not None:
        return f"the build published {when(before.published_at)}"
    if settings.engine == "duckdb" and settings.published_warehouse_path.exists():
        return (
            f"the warehouse they had, {settings.published_warehouse_path} (built without a "
            "publication record: by an earlier release or a plain dbt)"
        )
    if settings.engine == "postgres":
        try:
            in_place = postgres.holds_marts(settings, "")
        except SpotiflowError:
            return f"whatever PostgreSQL database {settings.postgres_database} holds"
        if in_place:
            return (
                f"the marts they had in PostgreSQL database {settings.postgres_database} (built "
                "without a publication record: by an earlier release or a plain dbt)"
            )
    if settings.engine == "spark" and spark.unrecorded_tables(settings):
        return (
            f"the tables they had under {settings.spark_warehouse_dir} (built in place "
            "without a publication record: by an earlier release or a plain dbt)"
        )
    return "nothing: no build has been published yet"


def record_attempt(settings: Settings, status: str, summary: str) -> None:
    _write_json(
        _record_file(settings, "last-build"),
        {"status": status, "finished_at": now(), "summary": summary},
    )


def last_attempt(settings: Settings) -> Attempt | None:
    found = _read_json(_record_file(settings, "last-build"))
    if not found or found.get("status") is None or found.get("finished_at") is None:
        return None
    return Attempt(
        status=str(found["status"]),
        finished_at=_time(found["finished_at"]),
        summary=str(found.get("summary") or ""),
    )


def _age(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def status_lines(settings: Settings, at: datetime | None = None) -> list[str]:
    """What readers are shown about the build they read: data as of when and how old, and a
    warning when the latest build failed and they are on the previous one."""
    at = at or now()
    record = published(settings)
    attempt = last_attempt(settings)
    lines = []
    if record is None:
        lines.append(
            "No published build on record (the warehouse was built by an earlier release or a "
            "plain dbt)."
        )
    else:
        as_of = record.data_as_of
        lines.append(
            (f"Data as of {when(as_of)} ({_age(as_of, at)})" if as_of else "No data landed")
            + f"; published {when(record.published_at)} ({_age(record.published_at, at)})."
        )
    if (
        attempt is not None
        and attempt.status == "failed"
        and (record is None or attempt.finished_at > record.published_at)
    ):
        lines.append(
            f"The latest build, {when(attempt.finished_at)}, failed and was not published "
            f"({attempt.summary}): this is the build before it."
        )
    return lines
