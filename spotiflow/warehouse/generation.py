"""What built a build: the project's fingerprint, and the full refreshes and withdrawals it was
rebuilt after.

Every build place (a DuckDB slot, PostgreSQL's or Spark's tables) records the generation it was
built by (publish.py). A build whose place was built by other code (a changed model, macro,
seed or var, another dbt or engine version: an upgrade), or before the latest full
refresh or withdrawal of a load, rebuilds every model in full before it can be published: its
incremental models would otherwise carry rows computed by the old rules forward.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from ingest.lake.landing import write_text_atomically
from spotiflow.settings import Settings

# What a mart's values follow: the dbt project's own files (vars live in dbt_project.yml) and
# the functions DuckDB lacks, which models call (profiles.yml loads them as a plugin).
PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
PROJECT_FOLDERS = ("models", "macros", "seeds", "spotiflow/warehouse/dbt_plugins")
# The packages that compile and run the SQL: another version may build other rows or tables.
PACKAGES = ("dbt-core", "dbt-adapters", "dbt-duckdb", "dbt-postgres", "dbt-spark", "duckdb",
            "pyspark")  # fmt: skip


def _project_files(project_dir: Path) -> list[Path]:
    found = [project_dir / name for name in PROJECT_FILES if (project_dir / name).is_file()]
    for folder in PROJECT_FOLDERS:
        found += [
            path
            for path in (project_dir / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        ]
    return sorted(found)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def project_fingerprint(project_dir: Path) -> str:
    """A hash of every file the marts follow and of the packages that build them."""
    digest = hashlib.sha256()
    for path in _project_files(project_dir):
        digest.update(path.relative_to(project_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for package in PACKAGES:
        digest.update(f"{package}=={_version(package)}\n".encode())
    return digest.hexdigest()[:16]


def unit_tests_record(settings: Settings, project: str) -> Path:
    """The note that dbt's unit tests passed for the project `project` (its fingerprint) on
    this engine. Beside dbt's own artifacts: the code and the engine decide a unit test's
    outcome, never the data, so every data dir built with this project shares it."""
    return settings.dbt_target_path / "spotiflow-unit-tests" / f"{settings.engine}-{project}"


def unit_tests_passed(settings: Settings, project: str) -> bool:
    """Whether dbt's unit tests passed on this engine for the project as it is: they test the
    SQL on fixed inputs, so the same code passes them again."""
    return unit_tests_record(settings, project).exists()


def note_unit_tests_passed(settings: Settings, project: str) -> None:
    record = unit_tests_record(settings, project)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.touch()


def _full_refresh_marker(settings: Settings) -> Path:
    return settings.builds_dir / f"full-refresh-{settings.engine}"


def full_refresh_mark(settings: Settings) -> str | None:
    """The mark of the last full refresh asked for on this engine, None if none ever was."""
    try:
        return _full_refresh_marker(settings).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def ask_for_full_refresh(settings: Settings) -> str:
    """Note that every build place must be rebuilt in full (`spotiflow build --full-refresh`):
    the one this build writes now, and each other one the next time a build writes it."""
    mark = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {uuid.uuid4().hex[:12]}"
    settings.builds_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(_full_refresh_marker(settings), mark + "\n")
    return mark


@dataclass(frozen=True)
class Generation:
    """What a build place was built by: the project, and the marks of the last full refresh and
    the last withdrawal of a load it was rebuilt after."""

    project: str | None
    full_refresh: str | None = None
    withdrawal: str | None = None


def current(settings: Settings, withdrawal: str | None) -> Generation:
    return Generation(
        project=project_fingerprint(settings.project_dir),
        full_refresh=full_refresh_mark(settings),
        withdrawal=withdrawal,
    )


def rebuild_reason(built_by: Generation | None, now: Generation, place: str) -> str | None:
    """Why `place`, built by `built_by`, must be rebuilt in full to be what `now` builds; None
    when it may catch up incrementally."""
    if built_by is None:
        return (
            f"{place} has no record of what built it (an earlier release or a plain dbt built it)"
        )
    if built_by.project is None:
        return f"{place} was built by an earlier release"
    if built_by.project != now.project:
        return (
            f"the project changed since {place} was built (models, macros, seeds, vars or "
            "dbt's version)"
        )
    if built_by.full_refresh != now.full_refresh:
        return f"a full refresh was asked for since {place} was built"
    if built_by.withdrawal != now.withdrawal:
        return "a load was withdrawn from the lake"
    return None
