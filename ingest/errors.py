"""Errors that reach the user as one readable line (never a traceback)."""

from __future__ import annotations

from pathlib import Path


class SpotiflowError(Exception):
    """A failure the user can act on; the CLI prints it and exits non-zero."""

    exit_code = 2


class InputFileError(SpotiflowError):
    """A file that cannot be read at all: names the file and, where known, the line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


class BuildError(SpotiflowError):
    """dbt or the quality checkpoint failed; the message summarises what failed."""

    exit_code = 1
