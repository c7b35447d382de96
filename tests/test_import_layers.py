"""The packages' layers (import-linter, [tool.importlinter] in pyproject.toml): kept by the code,
and broken by an upward import or a cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import PROJECT_DIR

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy2(PROJECT_DIR / "pyproject.toml", root / "pyproject.toml")
    for package in ("spotiflow", "ingest"):
        shutil.copytree(
            PROJECT_DIR / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


def _add_import(module: Path, line: str) -> None:
    text = module.read_text(encoding="utf-8")
    anchor = "from __future__ import annotations\n"
    assert anchor in text, module
    module.write_text(text.replace(anchor, anchor + line + "\n", 1), encoding="utf-8")


def test_the_code_keeps_every_contract(tmp_path: Path) -> None:
    done = _lint_imports(_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # Ingestion reaching up into the warehouse.
        (
            "ingest/lake/schemas.py",
            "from spotiflow.warehouse import build  # noqa",
            "Layers run one way",
        ),
        # The lake reaching up into a source.
        (
            "ingest/lake/records.py",
            "from ingest.sources import text  # noqa",
            "Ingestion: sources land through the lake",
        ),
        # Two warehouse modules importing each other.
        (
            "spotiflow/warehouse/dbt.py",
            "from spotiflow.warehouse import build  # noqa",
            "No import cycle",
        ),
    ],
)
def test_an_upward_import_or_a_cycle_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    root = _copy(tmp_path)
    _add_import(root / module, line)
    done = _lint_imports(root)
    assert done.returncode == 1, done.stdout + done.stderr
    broken = done.stdout.split("Broken contracts", 1)[1]
    assert contract in broken, done.stdout
