"""The build's DuckDB settings come from profiles.yml, each overridable from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import PROJECT_DIR

DBT = Path(sys.executable).parent / "dbt"
SHOW = (
    "select current_setting('threads') as threads, current_setting('memory_limit') as memory, "
    "current_setting('temp_directory') as spill, "
    "current_setting('preserve_insertion_order') as ordered, "
    "current_setting('max_temp_directory_size') as spill_limit"
)


def _settings(tmp_path: Path, **overrides: str) -> dict:
    env = {
        **os.environ,
        "SPOTIFLOW_DATA_DIR": str(tmp_path),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        **overrides,
    }
    result = subprocess.run(
        [str(DBT), "show", "--inline", SHOW, "--profiles-dir", str(PROJECT_DIR), "--quiet",
         "--output", "json"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)["show"][0]


def test_defaults_suit_a_two_core_box(tmp_path: Path) -> None:
    assert _settings(tmp_path) == {
        "threads": 2,
        "memory": "7.4 GiB",  # 8GB, as DuckDB prints it
        "spill": str(tmp_path / "spotiflow.duckdb.tmp"),
        "ordered": False,
        "spill_limit": "90% of available disk space",  # DuckDB's own default
    }


def test_the_environment_overrides_each(tmp_path: Path) -> None:
    assert _settings(
        tmp_path,
        SPOTIFLOW_DUCKDB_THREADS="1",
        SPOTIFLOW_DUCKDB_MEMORY_LIMIT="1GB",
        SPOTIFLOW_DUCKDB_TEMP_DIRECTORY=str(tmp_path / "spill"),
        SPOTIFLOW_DUCKDB_PRESERVE_INSERTION_ORDER="true",
        SPOTIFLOW_DUCKDB_MAX_TEMP_DIRECTORY_SIZE="10GB",
    ) == {
        "threads": 1,
        "memory": "953.6 MiB",
        "spill": str(tmp_path / "spill"),
        "ordered": True,
        "spill_limit": "9.3 GiB",
    }
