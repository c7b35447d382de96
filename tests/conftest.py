"""Shared fixtures: isolated settings per test, and one built warehouse of the bundled sample."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.settings import Settings
from tests.helpers import PROJECT_DIR, TEST_SALT, make_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh data dir; the environment agrees, so CLI calls see the same."""
    monkeypatch.setenv("SPOTIFLOW_PROJECT_DIR", str(PROJECT_DIR))
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPOTIFLOW_USER_ID_SALT", TEST_SALT)
    return make_settings(tmp_path / "data")


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The bundled sample landed, built, recommended and built again (what `make demo` does)."""
    from ingest.cli import main

    # While iterating on tests, SPOTIFLOW_TEST_DEMO_DIR names a data dir to build once and reuse.
    reuse = os.environ.get("SPOTIFLOW_TEST_DEMO_DIR")
    if reuse and (Path(reuse) / "spotiflow.duckdb").exists():
        yield make_settings(Path(reuse))
        return
    data_dir = Path(reuse) if reuse else tmp_path_factory.mktemp("demo") / "data"
    patch = pytest.MonkeyPatch()
    patch.setenv("SPOTIFLOW_PROJECT_DIR", str(PROJECT_DIR))
    patch.setenv("SPOTIFLOW_DATA_DIR", str(data_dir))
    patch.setenv("SPOTIFLOW_USER_ID_SALT", TEST_SALT)
    try:
        assert main(["demo"]) == 0
        yield make_settings(data_dir)
    finally:
        patch.undo()
