"""Settings from the environment, with documented defaults (see README, "Settings")."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from spotiflow.errors import SpotiflowError

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLES_DIR = PACKAGE_DIR / "samples"


def _default_project_dir() -> Path:
    # The dbt project is the repository root, one level above this package (editable install).
    candidate = PACKAGE_DIR.parent
    if (candidate / "dbt_project.yml").exists():
        return candidate
    return Path.cwd()


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise SpotiflowError(f"{name}={raw!r}: expected a positive whole number")
    return int(raw)


@dataclass(frozen=True)
class ArchiveLimits:
    """What an export may hold: bounded, so a hostile one cannot fill the disk or memory. A
    zipped export's unpacked size per member and in all and its compression ratio (a real
    member is about 12 MB and compresses about 10:1); and for any export, records per history
    file (a real one holds about 15,000) and rejected records per file."""

    max_member_bytes: int = 256 * 2**20
    max_total_bytes: int = 4 * 2**30
    max_ratio: int = 100
    max_records_per_file: int = 1_000_000
    max_rejects_per_file: int = 10_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ArchiveLimits:
        return cls(
            max_member_bytes=_positive(env, "SPOTIFLOW_EXPORT_MAX_MEMBER_MB", 256) * 2**20,
            max_total_bytes=_positive(env, "SPOTIFLOW_EXPORT_MAX_TOTAL_MB", 4096) * 2**20,
            max_ratio=_positive(env, "SPOTIFLOW_EXPORT_MAX_RATIO", 100),
            max_records_per_file=_positive(env, "SPOTIFLOW_EXPORT_MAX_RECORDS", 1_000_000),
            max_rejects_per_file=_positive(env, "SPOTIFLOW_EXPORT_MAX_REJECTS", 10_000),
        )


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise SpotiflowError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def _role(env: Mapping[str, str], name: str) -> str | None:
    """A PostgreSQL role name as dbt writes it into `grant … to ROLE` (unquoted): a plain
    lower-case identifier, so it is the role the server folds it to and nothing more."""
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[a-z_][a-z0-9_$]{0,62}", value):
        raise SpotiflowError(
            f"{name}={value!r}: expected a PostgreSQL role name in lower case (letters, digits, "
            "_ and $, starting with a letter or _, at most 63 characters)"
        )
    return value


# Where the warehouse is built (a target of profiles.yml each); the first is the default.
ENGINES = ("duckdb", "spark", "postgres")
# PostgreSQL: the schemas a build writes before it is published (profiles.yml,
# macros/utils/generate_schema_name.sql); the published build's have the plain names.
POSTGRES_BUILDING_PREFIX = "spotiflow_next_"


@dataclass(frozen=True)
class Settings:
    """Where things live and how identities are written.

    SPOTIFLOW_PROJECT_DIR   the dbt project (default: the repository root)
    SPOTIFLOW_DATA_DIR      lake, warehouse and state (default: <project>/data)
    SPOTIFLOW_USER_ID_SALT  salt for hashed user ids (default: a random salt kept in the data dir)
    SPOTIFLOW_PLAIN_USER_IDS  "true" keeps user names as given instead of hashing them
    SPOTIFLOW_SAMPLE_USER   the user the bundled sample is landed for (default: sample-user)
    SPOTIFLOW_ENGINE        where the warehouse is built: duckdb (embedded, the default), spark
                            (a local session; its tables in <data dir>/spark/warehouse) or
                            postgres; each is a target of profiles.yml
    DBT_TARGET              the profile target dbt builds (default: the engine's own)
    DBT_TARGET_PATH         where dbt writes its artifacts (manifest, compiled SQL, results;
                            relative to the project; default: target)
    PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE  the PostgreSQL server (libpq's own
                            variables; the database defaults to spotiflow)
    SPOTIFLOW_POSTGRES_READER_ROLE  a PostgreSQL role (the DBA's) every build grants select on
                            every mart and usage on schema marts, nothing else (default: none)
    SPOTIFLOW_EXPORT_DROP_DIR  where `spotiflow refresh` picks up Spotify exports, zips or
                            folders (default: <data dir>/drop); landed ones move to landed/
    SPOTIFLOW_DUCKDB_TEMP_DIRECTORY  where DuckDB spills (default: beside the file it writes,
                            <data dir>/spotiflow.duckdb.tmp for readers and a plain dbt)
    SPOTIFLOW_EXPORT_MAX_MEMBER_MB, SPOTIFLOW_EXPORT_MAX_TOTAL_MB, SPOTIFLOW_EXPORT_MAX_RATIO
                            what a zipped export may unpack to: per file, in all, and the
                            compression ratio (defaults 256, 4096, 100)
    SPOTIFLOW_EXPORT_MAX_RECORDS, SPOTIFLOW_EXPORT_MAX_REJECTS  records, and records that
                            cannot land, one history file may hold (defaults 1,000,000, 10,000)
    SPOTIFLOW_WAREHOUSE_LOCK_WAIT  seconds a build waits for a reader (the dashboard, a BI
                            tool) to let go of the DuckDB file before it names it (default 30)
    SPOTIFLOW_REFRESH_API   whether `spotiflow refresh` polls the Web API: auto (when a Spotify
                            app is configured), on, off (default: auto)
    SPOTIFLOW_COMPACT_AFTER_FILES  `spotiflow refresh` compacts an entity read from more files
                            than this (default 100: about four days of hourly polls)
    SPOTIFLOW_COMPACT_TARGET_ROWS  rows a compacted file grows to; files with as many are left
                            alone (default 1,000,000: tens of MB of plays)
    """

    project_dir: Path
    data_dir: Path
    user_id_salt: str | None
    plain_user_ids: bool
    sample_user: str
    dbt_target: str
    export_drop_dir: Path
    refresh_api: str
    duckdb_temp_directory_override: Path | None = None
    archive_limits: ArchiveLimits = ArchiveLimits()
    warehouse_lock_wait: int = 30
    compact_after_files: int = 100
    compact_target_rows: int = 1_000_000
    engine: str = "duckdb"
    postgres_database: str = "spotiflow"
    # The role BI tools read the marts as on PostgreSQL (None: nothing is granted).
    postgres_reader_role: str | None = None
    # dbt's artifacts: its manifest, compiled SQL and results (DBT_TARGET_PATH).
    dbt_target_path: Path = Path("target")
    # Set while a build writes: the DuckDB file it builds in (spotiflow/warehouse/publish.py),
    # not the one readers open.
    building_warehouse: Path | None = None
    # Set while a build writes on PostgreSQL: dbt, its tests and the checkpoint work on the
    # building schemas (POSTGRES_BUILDING_PREFIX + name), not those readers read.
    postgres_building: bool = False
    # Set while a build writes on Spark: readers within it (its checkpoint) read the tables
    # Spark writes, not the published snapshot of them.
    spark_building: bool = False

    @property
    def postgres_schema_prefix(self) -> str:
        """What the schemas this process works on are prefixed with on PostgreSQL: nothing for
        the published build's, POSTGRES_BUILDING_PREFIX within a build
        (spotiflow/warehouse/publish.py)."""
        return POSTGRES_BUILDING_PREFIX if self.postgres_building else ""

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def published_warehouse_path(self) -> Path:
        """The DuckDB file readers open (the dashboard, BI tools): the last published build."""
        return self.data_dir / "spotiflow.duckdb"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file this process works on: the published one, or a build's own."""
        return self.building_warehouse or self.published_warehouse_path

    @property
    def builds_dir(self) -> Path:
        """Where builds are written before they are published, and the record of each."""
        return self.data_dir / ".builds"

    @property
    def spark_warehouse_dir(self) -> Path:
        """Where Spark keeps the tables it builds (profiles.yml's spark.sql.warehouse.dir)."""
        return self.data_dir / "spark" / "warehouse"

    @property
    def spark_published_dir(self) -> Path:
        """The snapshots of Spark's tables that readers read (warehouse/engines/spark.py)."""
        return self.data_dir / "spark" / "published"

    @property
    def duckdb_temp_directory(self) -> Path:
        """Where DuckDB spills: fixed when the warehouse opens, the same for every opener. Beside
        the file by default, so a build and the readers of the published file spill apart."""
        path = self.warehouse_path
        return self.duckdb_temp_directory_override or path.with_name(f"{path.name}.tmp")

    @property
    def exports_dir(self) -> Path:
        """Where `spotiflow export` writes unless told otherwise."""
        return self.data_dir / "exports"

    @property
    def models_output_dir(self) -> Path:
        """Where recommender runs write their output files before they are landed."""
        return self.data_dir / "model_outputs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        project_dir = Path(env.get("SPOTIFLOW_PROJECT_DIR") or _default_project_dir()).resolve()
        data_dir = Path(env.get("SPOTIFLOW_DATA_DIR") or "data")
        if not data_dir.is_absolute():
            data_dir = project_dir / data_dir
        if any(character in str(data_dir) for character in "?#\\"):
            # dbt-duckdb reads the warehouse's path as a URL ('?' or '#' would cut it short),
            # and DuckDB's glob finds nothing under a path holding a backslash.
            raise SpotiflowError(
                f"SPOTIFLOW_DATA_DIR={str(data_dir)!r}: the path may hold any character but ?, "
                "# and \\ (dbt-duckdb reads the warehouse path as a URL; DuckDB's file "
                "listing cannot see past a backslash)"
            )
        engine = _choice(env, "SPOTIFLOW_ENGINE", ENGINES)
        return cls(
            engine=engine,
            postgres_database=env.get("PGDATABASE") or "spotiflow",
            postgres_reader_role=_role(env, "SPOTIFLOW_POSTGRES_READER_ROLE"),
            project_dir=project_dir,
            data_dir=data_dir.resolve(),
            user_id_salt=env.get("SPOTIFLOW_USER_ID_SALT") or None,
            plain_user_ids=_flag(env.get("SPOTIFLOW_PLAIN_USER_IDS")),
            sample_user=env.get("SPOTIFLOW_SAMPLE_USER") or "sample-user",
            dbt_target=env.get("DBT_TARGET") or engine,
            dbt_target_path=project_dir / (env.get("DBT_TARGET_PATH") or "target"),
            export_drop_dir=Path(env.get("SPOTIFLOW_EXPORT_DROP_DIR") or data_dir / "drop"),
            refresh_api=_choice(env, "SPOTIFLOW_REFRESH_API", ("auto", "on", "off")),
            archive_limits=ArchiveLimits.from_env(env),
            warehouse_lock_wait=_positive(env, "SPOTIFLOW_WAREHOUSE_LOCK_WAIT", 30),
            compact_after_files=_positive(env, "SPOTIFLOW_COMPACT_AFTER_FILES", 100),
            compact_target_rows=_positive(env, "SPOTIFLOW_COMPACT_TARGET_ROWS", 1_000_000),
            duckdb_temp_directory_override=(
                Path(env["SPOTIFLOW_DUCKDB_TEMP_DIRECTORY"]).resolve()
                if env.get("SPOTIFLOW_DUCKDB_TEMP_DIRECTORY")
                else None
            ),
        )
