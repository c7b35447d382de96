"""The files of an export that SpotiFlow reads, whether mailed (zip) or unpacked (folder).

Only the files named in settings.FILE_KINDS are opened; Identity.json, Payments.json,
Inferences.json and the rest are never read. A zip's members are unpacked once each into a
scratch folder, because DuckDB reads files.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.sources.spotify_export.settings import FILE_KINDS, HISTORY_KINDS
from spotiflow.errors import InputFileError
from spotiflow.settings import ArchiveLimits


@dataclass(frozen=True)
class Member:
    """One file of an export, on disk (unpacked from the zip if need be)."""

    name: str  # the file's base name: the same whether zipped or unpacked
    kind: str  # a FILE_KINDS name
    path: Path

    @property
    def is_history(self) -> bool:
        return self.kind in HISTORY_KINDS


def kind_of(name: str) -> str | None:
    for kind, pattern in FILE_KINDS:
        if pattern.match(name):
            return kind
    return None


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _inside(folder: Path, file: Path) -> bool:
    """Whether a file is the export's own: no symbolic link on its way from the folder (a link
    could point anywhere on the machine)."""
    path = file
    while path != folder:
        if path.is_symlink():
            return False
        path = path.parent
    return True


def _from_folder(folder: Path) -> list[Member]:
    members = []
    for file in sorted(folder.rglob("*.json")):
        kind = kind_of(file.name)
        relative = file.relative_to(folder).parts
        if kind and not _hidden(relative) and _inside(folder, file) and file.is_file():
            members.append(Member(file.name, kind, file))
    return members


def _copy_bounded(source, sink, limit: int, archive_path: Path, name: str) -> int:
    """Copy at most `limit` bytes (a member's declared size can lie), the count copied."""
    copied = 0
    while block := source.read(1 << 20):
        copied += len(block)
        if copied > limit:
            raise InputFileError(
                archive_path, f"{name} unpacks to more than {limit // 2**20} MB: not an export"
            )
        sink.write(block)
    return copied


def _from_zip(archive_path: Path, scratch: Path, limits: ArchiveLimits) -> list[Member]:
    try:
        with zipfile.ZipFile(archive_path) as archive:
            wanted = []
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                posix = PurePosixPath(info.filename)
                kind = kind_of(posix.name)
                if not info.is_dir() and kind and not _hidden(posix.parts):
                    wanted.append((info, kind, posix.name))
            members = []
            total = 0
            for number, (info, kind, name) in enumerate(wanted):
                if info.file_size > limits.max_ratio * max(info.compress_size, 1 << 10):
                    raise InputFileError(
                        archive_path,
                        f"{name} is compressed {info.file_size // max(info.compress_size, 1)}:1 "
                        f"(more than {limits.max_ratio}:1, SPOTIFLOW_EXPORT_MAX_RATIO): not an "
                        "export",
                    )
                # Numbered: two folders of one zip may hold files of the same name.
                target = scratch / f"{number:05d}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
                limit = min(limits.max_member_bytes, limits.max_total_bytes - total)
                with archive.open(info) as source, target.open("wb") as sink:
                    total += _copy_bounded(source, sink, limit, archive_path, name)
                members.append(Member(name, kind, target))
            return members
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as exc:
        raise InputFileError(archive_path, f"is not a readable zip ({exc})") from None


def list_members(path: Path, scratch: Path, limits: ArchiveLimits) -> list[Member]:
    """The export's files SpotiFlow reads; a clear error when it is no export at all."""
    if path.is_dir():
        members = _from_folder(path)
    elif path.is_file() and zipfile.is_zipfile(path):
        members = _from_zip(path, scratch, limits)
    elif path.is_file() and kind_of(path.name):
        members = [Member(path.name, kind_of(path.name) or "", path)]
    elif path.exists():
        raise InputFileError(
            path, "is neither a Spotify export zip, its folder, nor a history file"
        )
    else:
        raise InputFileError(path, "does not exist")
    if not any(member.is_history for member in members):
        raise InputFileError(
            path,
            "holds no streaming history (StreamingHistory_music_N.json, "
            "Streaming_History_Audio_*.json or endsong_N.json): is this a Spotify data export?",
        )
    return members


def export_checksum(members: list[Member]) -> str:
    """A digest of the read files' names and bytes: a zip and its folder are one input."""
    digest = hashlib.sha256()
    for member in sorted(members, key=lambda m: (m.name, m.kind)):
        digest.update(f"{member.name}\x1f{member.path.stat().st_size}\x1f".encode())
        with member.path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
