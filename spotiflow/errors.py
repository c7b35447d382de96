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


class StorageError(SpotiflowError):
    """The data dir cannot take a write (disk full, read-only, no permission): names where."""

    def __init__(self, path: Path | str, error: OSError) -> None:
        reason = error.strerror or str(error)
        super().__init__(f"{path}: cannot write ({reason}); nothing of it was committed")


# What the operating system says when the data dir cannot be written, as dbt passes it on.
STORAGE_FAILURES = (
    "No space left on device",
    "Disk quota exceeded",
    "Read-only file system",
    "Permission denied",
    "Operation not permitted",
)


def os_error_line(error: OSError) -> str:
    """One line for an OSError that reached the top: the path it names, and what went wrong."""
    reason = error.strerror or str(error) or type(error).__name__
    paths = [str(name) for name in (error.filename, error.filename2) if name]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


def known_failure_line(error: BaseException) -> str | None:
    """The one line a failure the user can act on gets (ours, the filesystem's, DuckDB's IO
    errors saying disk full or permission); None for a failure nobody foresaw."""
    if isinstance(error, SpotiflowError):
        return str(error)
    if isinstance(error, OSError):
        return os_error_line(error)
    text = str(error)
    if any(words in text for words in STORAGE_FAILURES):
        # DuckDB's IO errors are no OSError, but name the file and the reason.
        return text.splitlines()[0]
    return None
