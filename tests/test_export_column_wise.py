"""Extended history read column-wise (DuckDB) lands exactly what reading record by record does."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

import ingest.readers.spotify_export as spotify_export
from ingest.cli import main
from ingest.generate.extended_export import FOLDER, write_extended_export
from ingest.identity import stable_hash
from ingest.readers.extended_history import PYTHON_WHITESPACE
from ingest.records import ReadResult
from ingest.settings import Settings
from ingest.track_resolver import TrackResolver
from tests.helpers import FIXTURES

TRACK = "spotify:track:4cOdK2wGLETKBW3PvgPWqT"
# Values each rule of the record path has an opinion on, all valid (nothing to quarantine).
TRICKY = [
    {"ts": "2024-02-01T10:00:00Z", "ms_played": 0, "spotify_track_uri": TRACK,
     "master_metadata_track_name": "\u3000Padded\x1c ", "master_metadata_album_artist_name": " ",
     "username": "  spaced user ", "platform": "  Android OS 9 API 28 (samsung)  "},
    {"ts": "2024-02-01T10:00:00Z", "ms_played": 10, "spotify_track_uri": TRACK,
     "master_metadata_track_name": "Padded", "username": "spaced user",
     "platform": "NOT_APPLICABLE"},
    {"ts": "2024-02-01T10:00:01Z", "spotify_track_uri": TRACK + "\n", "platform": "PlayStation 5"},
    {"ts": "2024-02-01T10:00:02Z", "spotify_track_uri": "", "episode_name": 7, "username": 5},
    {"ts": "2024-02-01T10:00:03Z", "spotify_track_uri": "spotify:episode:xyz",
     "reason_end": "fwdbtn"},
    {"ts": "2024-02-01T10:00:04Z", "spotify_track_uri": "spotify:local:a:b:c:1",
     "master_metadata_track_name": 12, "skipped": "yes", "shuffle": 1, "reason_end": " trackdone "},
    {"ts": "2024-02-01T10:00:05Z", "audiobook_chapter_uri": [1], "audiobook_chapter_title": "Ch"},
    {"ts": "2024-02-01T10:00:06Z", "episode_name": [], "audiobook_uri": {},
     "master_metadata_track_name": "Named only", "offline": True, "incognito_mode": False},
    {"ts": "2024-02-01T10:00:07Z", "platform": "", "reason_end": "", "skipped": None},
    {"ts": "2024-02-01T10:00:08Z", "platform": 3, "episode_name": 0.0, "spotify_episode_uri": "x"},
]  # fmt: skip


def _export(tmp_path: Path) -> Path:
    shape = write_extended_export(tmp_path / "export", 4_500, seed=7, records_per_file=1_000)
    folder = shape.folder / FOLDER
    (folder / "Streaming_History_Audio_2024_tricky.json").write_text(
        json.dumps(TRICKY, ensure_ascii=False), encoding="utf-8"
    )
    (folder / "Streaming_History_Video_2024.json").write_text(
        json.dumps([{"ts": "2024-03-01T08:00:00Z", "ms_played": 5}]), encoding="utf-8"
    )
    (folder / "Streaming_History_Audio_2024_empty.json").write_text("[]", encoding="utf-8")
    return shape.folder


def _read_record_by_record(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on the record path: the names of the files it reads."""
    read: list[str] = []
    original = spotify_export._read_member

    def spy(reading, member):
        read.append(member.name)
        return original(reading, member)

    monkeypatch.setattr(spotify_export, "_read_member", spy)
    return read


def _both(path: Path, settings: Settings, user: str | None) -> tuple[ReadResult, ReadResult]:
    fast = spotify_export.read_spotify_export(path, settings, TrackResolver(), user=user)
    slow = spotify_export.read_spotify_export(
        path, settings, TrackResolver(), user=user, column_wise=False
    )
    return fast, slow


def _assert_same(fast: ReadResult, slow: ReadResult) -> None:
    for entity in ("plays", "tracks"):
        assert fast.tables[entity].schema == slow.tables[entity].schema
        for column in fast.tables[entity].column_names:
            assert (
                fast.tables[entity][column].to_pylist() == slow.tables[entity][column].to_pylist()
            ), column
    assert fast.rows_in == slow.rows_in
    assert fast.notes == slow.notes
    assert fast.rejects == slow.rejects


@pytest.mark.parametrize("user", [None, "alice"])
def test_column_wise_equals_record_by_record(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: str | None
) -> None:
    export = _export(tmp_path)
    read_slowly = _read_record_by_record(monkeypatch)
    fast, slow = _both(export, settings, user)
    # Every file (generated, tricky, video, empty) was read column-wise; the reference read all.
    assert len(read_slowly) == 8 and len(set(read_slowly)) == 8
    assert fast.rows_in == 4_500 + len(TRICKY) + 1
    _assert_same(fast, slow)
    plays = fast.tables["plays"].to_pylist()
    tricky = [p for p in plays if p["played_at"].strftime("%Y-%m-%d %H:%M") == "2024-02-01 10:00"]
    assert [p["content_type"] for p in tricky] == [
        "music", "music", "music", "podcast", "unknown", "music", "audiobook", "music",
        "unknown", "podcast",
    ]  # fmt: skip
    assert tricky[0]["track_name"] == "Padded" and tricky[0]["artist_name"] is None
    assert tricky[0]["platform"] == "android" and tricky[1]["platform"] is None
    assert tricky[2]["track_id"] == "4cOdK2wGLETKBW3PvgPWqT"
    assert tricky[5]["skipped"] is False and tricky[5]["reason_end"] == "trackdone"
    assert tricky[4]["skipped"] is True
    video = next(p for p in plays if p["played_at"].isoformat() == "2024-03-01T08:00:00")
    assert video["content_type"] == "video"


def test_only_files_with_records_to_judge_are_read_record_by_record(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export(tmp_path)
    folder = export / FOLDER
    bad = [*TRICKY[:2], {"ts": "2024-02-01T10:00:09Z", "ms_played": 1.5}]
    (folder / "Streaming_History_Audio_2024_bad.json").write_text(json.dumps(bad))
    (folder / "Streaming_History_Audio_2024_cut.json").write_text(json.dumps(TRICKY)[:-40])
    read_slowly = _read_record_by_record(monkeypatch)
    fast = spotify_export.read_spotify_export(export, settings, TrackResolver(), user="bob")
    assert sorted(read_slowly) == [
        "Streaming_History_Audio_2024_bad.json", "Streaming_History_Audio_2024_cut.json",
    ]  # fmt: skip
    reasons = [reject.reason for reject in fast.rejects]
    assert "record 3: ms_played 1.5 is not a whole number of milliseconds" in reasons
    assert any("is cut off" in reason for reason in reasons)
    read_slowly.clear()
    slow = spotify_export.read_spotify_export(
        export, settings, TrackResolver(), user="bob", column_wise=False
    )
    _assert_same(fast, slow)


def test_play_ids_are_the_stable_hash_of_the_play(settings: Settings, tmp_path: Path) -> None:
    export = _export(tmp_path)
    fast = spotify_export.read_spotify_export(export, settings, TrackResolver(), user="alice")
    plays = fast.tables["plays"].to_pylist()
    first, second = (p for p in plays if p["track_name"] == "Padded")
    key = "4cOdK2wGLETKBW3PvgPWqT"
    for play, seq in ((first, 1), (second, 2)):
        assert play["play_seq"] == seq
        assert play["play_id"] == stable_hash(
            play["user_id"], key, play["played_at"].isoformat(), seq
        )
    assert len({p["play_id"] for p in plays}) == len(plays)
    assert isinstance(fast.tables["plays"], pa.Table)


def test_the_whitespace_stripped_is_pythons() -> None:
    assert set(PYTHON_WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


def test_landing_reports_its_speed(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    extended = FIXTURES / "spotify_export" / "extended"
    assert main(["ingest", "spotify-export", str(extended), "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert "12 rows in, 12 landed" in out and " rows/s" in out
    assert main(["ingest", "spotify-export", str(extended), "--user", "alice"]) == 0
    assert "rows/s" not in capsys.readouterr().out  # nothing was landed
