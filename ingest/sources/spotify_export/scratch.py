"""Where an export's zip members are unpacked: under the data dir, user-only, never left behind.

Unpacked members hold what the export holds (usernames, IP addresses, user agents), so they live
beside the lake, not in a shared /tmp: `<data dir>/.scratch/` is 0700, each reading gets its own
`export-<pid>-*` folder, removed when the reading ends, and the next reading removes any folder
whose process is gone (a kill -9).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

SCRATCH_DIR = ".scratch"
PREFIX = "export-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned(root: Path) -> list[Path]:
    """Scratch folders of readings whose process no longer runs."""
    removed = []
    for folder in root.glob(f"{PREFIX}*") if root.is_dir() else []:
        pid = folder.name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def scratch_folder(data_dir: Path) -> Iterator[Path]:
    root = data_dir / SCRATCH_DIR
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    root.chmod(0o700)
    remove_abandoned(root)
    # mkdtemp creates the folder 0700.
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
