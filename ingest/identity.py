"""Stable identifiers: hashed user ids (no user names in the lake) and surrogate track ids."""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from pathlib import Path

from spotiflow.settings import Settings

SALT_FILE_NAME = "user_id_salt"


def normalised_text(text: str) -> str:
    """A name as names are compared: Unicode NFKC, case-folded, whitespace collapsed (also the
    body of DuckDB's spotiflow_normalised_text, macros/utils/normalised_text.sql)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def load_or_create_salt(settings: Settings) -> str:
    """The salt for user ids: from the environment, else one random salt kept beside the lake."""
    if settings.user_id_salt:
        return settings.user_id_salt
    path = settings.data_dir / SALT_FILE_NAME
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(16)
    # Created 0600 so the salt is as private as the ids it protects.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(salt + "\n")
    return salt


def user_id_for(name: str, settings: Settings) -> str:
    """The lake's user_id for a user name: a salted hash unless plain ids are chosen."""
    if settings.plain_user_ids:
        return name
    salt = load_or_create_salt(settings)
    digest = hashlib.sha256(f"{salt}\x1f{name}".encode()).hexdigest()
    return f"u_{digest[:16]}"


def surrogate_track_id(track_name: str, artist_name: str) -> str:
    """A stable id for catalog rows without a Spotify id: the same name and artist, the same id."""
    key = f"{normalised_text(track_name)}\x1f{normalised_text(artist_name)}"
    return "sf_" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def stable_hash(*parts: object, length: int = 24) -> str:
    """A short deterministic id from its parts (play ids, run ids)."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
