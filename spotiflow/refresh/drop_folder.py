"""Whose each export in the drop folder is, and landing them for `spotiflow refresh`.

Every export Spotify mails since late 2024 names no account, so the drop folder says whose an
export is: a folder per listener (`drop/<listener>/<export>.zip`, `drop/<listener>/<folder>/`)
or an owner file beside it (`<export>.zip.owner`, `<folder>.owner`: one line, the listener's
name). Either overrides the export's own username, as `--user` does. An export that names no one
and has no owner is filed to failed/, never landed for SPOTIFLOW_SAMPLE_USER: unattended, no one
reads the note that says so, and the plays of several people would merge into one listener.
Listener names are personal: what is printed or written shows a listener folder as its user id.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.identity import user_id_for
from ingest.lake.landing import Lake, LoadReport
from ingest.sources.spotify_export.members import kind_of
from ingest.sources.spotify_export.reader import NoListenerNamed, read_spotify_export
from spotiflow.errors import SpotiflowError, known_failure_line
from spotiflow.refresh.job import SkipStep, drop_folder_items, file_away
from spotiflow.settings import Settings

OWNER_SUFFIX = ".owner"
LANDED, FAILED = "landed", "failed"
# The folders Spotify's zips unpack to: a folder holding one is an export, not a listener's.
SPOTIFY_FOLDERS = frozenset(
    {"spotify account data", "spotify extended streaming history", "mydata"}
)


@dataclass(frozen=True)
class DropItem:
    """One export waiting in the drop folder, and the listener folder it lies in, if any."""

    path: Path
    listener_dir: Path | None = None


@dataclass(frozen=True)
class Owner:
    """Whose an export is, as the drop folder says it, and how (for the load's note)."""

    name: str
    given_by: str


def is_export_folder(folder: Path) -> bool:
    """An unpacked export holds Spotify's files or Spotify's folders; a listener's folder holds
    exports (zips, or folders that are exports themselves)."""
    for child in folder.iterdir():
        if child.is_dir() and child.name.casefold() in SPOTIFY_FOLDERS:
            return True
        if child.is_file() and kind_of(child.name):
            return True
    return False


def drop_items(drop_dir: Path) -> list[DropItem]:
    """The exports waiting: at the top of the drop folder, and one level down in each listener
    folder (which keeps its own landed/ and failed/)."""
    items: list[DropItem] = []
    for path in drop_folder_items(drop_dir):
        if path.is_dir() and not is_export_folder(path):
            items += [DropItem(export, path) for export in drop_folder_items(path)]
        else:
            items.append(DropItem(path))
    return items


def owner_file(export: Path) -> Path:
    return export.with_name(export.name + OWNER_SUFFIX)


def _owner_file_name(path: Path) -> str:
    """The one name an owner file holds; it is never repeated in a message."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SpotiflowError(f"{path.name} is not UTF-8 text: write the listener's name") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise SpotiflowError(
            f"{path.name} holds {len(lines)} lines: write one, the listener's name (as "
            "`--user` takes it)"
        )
    return lines[0]


def owner_of(item: DropItem) -> Owner | None:
    """Whose the drop folder says an export is; None when it leaves that to the export."""
    sidecar = owner_file(item.path)
    named = _owner_file_name(sidecar) if sidecar.is_file() else None
    if item.listener_dir is None:
        return Owner(named, "its .owner file in the drop folder") if named else None
    if named is not None and named != item.listener_dir.name:
        raise SpotiflowError(
            f"{sidecar.name} names another listener than the folder it lies in: one of them "
            "is wrong (remove the .owner file, or move the export to its listener's folder)"
        )
    return Owner(item.listener_dir.name, "its listener folder in the drop folder")


def land_export(settings: Settings, path: Path, owner: Owner | None) -> LoadReport:
    """One dropped export landed for its owner, else for the listener it names itself."""
    reading = read_spotify_export(
        path,
        settings,
        owner.name if owner else None,
        given_by=owner.given_by if owner else "--user",
        sample_user_fallback=False,
    )
    return Lake(settings.lake_dir).land(reading)


def _private(text: str, item: DropItem, settings: Settings) -> str:
    """Text about an item with its listener folder shown as the listener's user id."""
    if item.listener_dir is None:
        return text
    stand_in = f"<listener {user_id_for(item.listener_dir.name, settings)}>"
    return text.replace(str(item.listener_dir), str(item.listener_dir.with_name(stand_in)))


def _reason(error: Exception, item: DropItem) -> str:
    reason = known_failure_line(error) or (
        f"unexpected error ({type(error).__name__}) while landing {item.path.name}"
    )
    if isinstance(error, NoListenerNamed):
        reason += (
            f". Say whose it is, then drop it again: into a folder named for the listener "
            f"(drop/<listener>/), or beside a {owner_file(item.path).name} file holding the "
            "listener's name (as `--user` takes it)"
        )
    return reason


def _file_away(item: DropItem, outcome: str) -> Path:
    """The export to landed/ or failed/ of its folder, its owner file beside it: a stale owner
    file must not claim the next export of the same name."""
    sidecar = owner_file(item.path)
    moved = file_away(item.path, outcome)
    if sidecar.is_file():
        shutil.move(sidecar, owner_file(moved))
    return moved


def land_drop_folder(settings: Settings, report: Callable[[LoadReport], None]) -> str:
    """Every export in the drop folder landed and filed away; one failing keeps none out."""
    items = drop_items(settings.export_drop_dir)
    if not items:
        raise SkipStep(f"nothing in {settings.export_drop_dir}")
    failed = 0
    for item in items:
        try:
            report(land_export(settings, item.path, owner_of(item)))
        except Exception as error:  # one export must not keep the others out
            failed += 1
            reason = _private(_reason(error, item), item, settings)
            moved = _file_away(item, FAILED)
            moved.with_name(f"{moved.name}.reason.txt").write_text(reason + "\n")
            print(f"moved to {_private(str(moved), item, settings)}: {reason}")
        else:
            print(f"moved to {_private(str(_file_away(item, LANDED)), item, settings)}")
    if failed:
        raise SpotiflowError(f"{failed} of {len(items)} export(s) could not be landed")
    return f"{len(items)} export(s) landed"
