"""`spotiflow refresh`: every configured source, then the build and checks, for cron.

Steps run in order and each one's failure is reported, not fatal: a rate-limited API poll should
not keep a dropped export out of tonight's marts. The exit code says whether anything failed.
On a terminal a live line shows the running step; otherwise plain timestamped log lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import itertools
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from spotiflow.errors import SpotiflowError, known_failure_line
from spotiflow.settings import Settings

OK, SKIPPED, FAILED = "ok", "skipped", "failed"
_MARKS = {OK: "✓", SKIPPED: "-", FAILED: "✗"}


class SkipStep(Exception):
    """A step with nothing to do (a source that is not configured)."""


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], str | None]  # returns a one-line result; prints become details


@dataclass
class StepResult:
    name: str
    status: str
    seconds: float
    summary: str = ""
    details: list[str] = field(default_factory=list)


def _run_captured(step: Step) -> StepResult:
    buffer = io.StringIO()
    started = time.monotonic()
    status, summary = OK, ""
    with contextlib.redirect_stdout(buffer):
        try:
            summary = step.run() or ""
        except SkipStep as reason:
            status, summary = SKIPPED, str(reason)
        except SpotiflowError as error:
            status, summary = FAILED, str(error)
        except Exception as error:  # one failing step must not hide the others' results
            line = known_failure_line(error)
            status = FAILED
            summary = line or f"unexpected error: {type(error).__name__}: {error}"
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    first, *rest = summary.splitlines() or [""]
    return StepResult(step.name, status, time.monotonic() - started, first, lines + rest)


class PlainProgress:
    """Log lines for cron and orchestrators: one per event, timestamped, no control codes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _log(self, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"{stamp} refresh: {text}", file=self.stream, flush=True)

    def run(self, step: Step, number: int, total: int) -> StepResult:
        self._log(f"[{number}/{total}] {step.name}: started")
        result = _run_captured(step)
        for line in result.details:
            self._log(f"[{number}/{total}] {step.name}: {line.strip()}")
        tail = f": {result.summary}" if result.summary else ""
        self._log(f"[{number}/{total}] {step.name}: {result.status} ({result.seconds:.1f} s){tail}")
        return result

    def done(self, text: str) -> None:
        self._log(text)


class TerminalProgress:
    """A live line per step (spinner and elapsed time), then its result and details."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def run(self, step: Step, number: int, total: int) -> StepResult:
        stop = threading.Event()
        started = time.monotonic()

        def spin() -> None:
            for frame in itertools.cycle(self.FRAMES):
                elapsed = time.monotonic() - started
                self.stream.write(f"\r{frame} [{number}/{total}] {step.name} … {elapsed:.0f} s")
                self.stream.flush()
                if stop.wait(0.1):
                    return

        spinner = threading.Thread(target=spin, daemon=True)
        spinner.start()
        try:
            result = _run_captured(step)
        finally:
            stop.set()
            spinner.join()
        mark = _MARKS[result.status]
        tail = f" — {result.summary}" if result.summary else ""
        self.stream.write(
            f"\r\033[K{mark} [{number}/{total}] {step.name} ({result.seconds:.1f} s){tail}\n"
        )
        for line in result.details:
            self.stream.write(f"    {line}\n")
        self.stream.flush()
        return result

    def done(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def progress_for(stream: TextIO) -> PlainProgress | TerminalProgress:
    return TerminalProgress(stream) if stream.isatty() else PlainProgress(stream)


@contextlib.contextmanager
def single_refresh(settings: Settings) -> Iterator[None]:
    """One refresh at a time: a cron run that overlaps the previous one exits clearly."""
    folder = settings.data_dir / "state"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "refresh.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpotiflowError(
                "another `spotiflow refresh` is still running; this one did nothing"
            ) from None
        yield


def run_refresh(settings: Settings, steps: list[Step], stream: TextIO | None = None) -> int:
    """Run every step; 0 when none failed, 1 otherwise."""
    progress = progress_for(stream or sys.stdout)
    started = time.monotonic()
    with single_refresh(settings):
        results = [progress.run(step, n, len(steps)) for n, step in enumerate(steps, start=1)]
    counts = {status: sum(r.status == status for r in results) for status in (OK, SKIPPED, FAILED)}
    progress.done(
        f"refresh: {counts[OK]} ok, {counts[SKIPPED]} skipped, {counts[FAILED]} failed "
        f"in {time.monotonic() - started:.0f} s"
    )
    return 1 if counts[FAILED] else 0


def drop_folder_items(drop_dir: Path) -> list[Path]:
    """Zips and folders waiting in one folder of the drop folder, oldest name first (a folder
    may be a listener's, holding exports: spotiflow/refresh/drop_folder.py tells)."""
    if not drop_dir.is_dir():
        return []
    return sorted(
        path
        for path in drop_dir.iterdir()
        if not path.name.startswith(".")
        and path.name not in {"landed", "failed"}
        and (path.is_dir() or path.suffix.lower() == ".zip")
    )


def file_away(item: Path, outcome: str) -> Path:
    """Move a handled export to landed/ or failed/ so the next refresh does not read it again."""
    target_dir = item.parent / outcome
    target_dir.mkdir(exist_ok=True)
    target = target_dir / item.name
    if target.exists():
        target = target_dir / f"{item.stem}-{datetime.now(UTC):%Y%m%dT%H%M%S}{item.suffix}"
    shutil.move(str(item), target)
    return target
