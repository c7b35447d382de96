"""Spotify data exports: every vintage, zip or folder, content types, skips, bad rows, privacy."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.cli import main
from ingest.identity import user_id_for
from ingest.landing import SCHEMA_FILE, Lake
from ingest.readers.spotify_export import coarse_platform, parse_member, read_spotify_export
from ingest.settings import Settings
from ingest.track_resolver import TrackResolver
from tests.helpers import FIXTURES

EXPORTS = FIXTURES / "spotify_export"
EXTENDED = EXPORTS / "extended"
ACCOUNT = EXPORTS / "account"
ENDSONG = EXPORTS / "endsong"
# The personal values the fixtures carry: none may reach the lake, a mart, a log or the output.
PERSONAL = [
    "fixture-user-7781",
    "203.0.113.45",
    "198.51.100.23",
    "Mozilla/5.0",
    "fixture.user@example.com",
    "Fixture Person",
    "SM-G991B",
    "iPhone14,5",
]


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def lake_rows(settings: Settings, entity: str) -> list[dict]:
    folder = Lake(settings.lake_dir).entity_dir(entity)
    files = sorted(p for p in folder.glob("*.parquet") if p.name != SCHEMA_FILE)
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def test_extended_history_of_every_vintage_lands_with_content_types(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "spotify-export", str(EXTENDED), "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert "12 rows in, 12 landed, 0 rejected (12 plays, 5 tracks)" in out
    assert "8 music plays, 1 podcast episodes, 1 audiobook chapters, 1 videos, 1 rows" in out
    plays = lake_rows(settings, "plays")
    alice = user_id_for("alice", settings)
    assert {p["user_id"] for p in plays} == {alice}
    by_type: dict[str, int] = {}
    for play in plays:
        by_type[play["content_type"]] = by_type.get(play["content_type"], 0) + 1
    assert by_type == {"music": 8, "podcast": 1, "audiobook": 1, "video": 1, "unknown": 1}
    assert all(p["played_at_precision"] == "second" for p in plays)

    first = {(p["played_at"], p["track_name"]): p for p in plays}
    # ts is when the stream ended, UTC, to the second.
    paper_boats = first[(datetime(2022, 11, 5, 20, 3, 40), "Paper Boats")]
    # A skip read from reason_end, though `skipped` says false.
    assert paper_boats["skipped"] is True and paper_boats["reason_end"] == "fwdbtn"
    assert paper_boats["ms_played"] == 12000 and paper_boats["platform"] == "ios"
    static = first[(datetime(2022, 11, 5, 20, 3, 40), "Static Bloom")]
    assert static["private_session"] is True and static["skipped"] is False
    assert static["platform"] == "windows"
    endplay = first[(datetime(2022, 11, 6, 9, 15), "Paper Boats")]
    assert endplay["skipped"] is True and endplay["platform"] == "speaker"
    podcast = first[(datetime(2022, 11, 6, 7, 30), "Episode 12: Fixtures")]
    assert podcast["content_type"] == "podcast" and podcast["track_id"] is None
    assert podcast["artist_name"] == "The Test Show"
    book = first[(datetime(2025, 3, 1, 21, 0), "Chapter 1")]
    assert book["content_type"] == "audiobook" and book["artist_name"] == "The Long Fixture"
    # Duplicate ts values of one track are two plays, numbered.
    harbour = sorted(p["play_seq"] for p in plays if p["track_name"] == "Glass Harbour")
    assert harbour == [1, 2]
    tracks = {t["track_id"]: t for t in lake_rows(settings, "tracks")}
    assert tracks["4cOdK2wGLETKBW3PvgPWqT"]["album_name"] == "Aurora Sessions"


def test_the_export_names_its_user_unless_told(settings: Settings) -> None:
    result = read_spotify_export(EXTENDED, settings, TrackResolver())
    users = {}
    for play in result.tables["plays"].to_pylist():
        users[play["user_id"]] = users.get(play["user_id"], 0) + 1
    # 2022-23 rows carry the username (hashed here); later vintages carry none.
    assert users == {
        user_id_for("fixture-user-7781", settings): 6,
        user_id_for(settings.sample_user, settings): 6,
    }
    assert any("6 play(s) name no account" in note for note in result.notes)


def test_a_zip_and_its_folder_are_the_same_input(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = zip_folder(EXTENDED, tmp_path / "my_spotify_data.zip")
    assert main(["ingest", "spotify-export", str(archive), "--user", "alice"]) == 0
    assert main(["ingest", "spotify-export", str(EXTENDED), "--user", "alice"]) == 0
    assert main(["ingest", "spotify-export", str(archive), "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert out.count("already landed") == 2
    assert len(lake_rows(settings, "plays")) == 12


def test_account_data_resolves_tracks_by_name_and_artist(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "spotify-export", str(EXTENDED), "--user", "alice"]) == 0
    archive = zip_folder(ACCOUNT, tmp_path / "my_spotify_data.zip")
    assert main(["ingest", "spotify-export", str(archive), "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert "5 rows in, 5 landed, 0 rejected (5 plays, 0 tracks)" in out
    assert "account data: 3 of 4 plays matched a known track by name and artist; 1 landed" in out
    account = [p for p in lake_rows(settings, "plays") if p["played_at_precision"] == "minute"]
    resolved = {p["track_name"]: p["track_id"] for p in account}
    assert resolved == {
        "Northern Lights": "4cOdK2wGLETKBW3PvgPWqT",
        "Glass Harbour": "3n3Ppam7vgaVa1iaRUc9Lp",
        "LANTERN": "0VjIjW4GlUZAMYd2vXMi3b",  # case and spacing do not matter
        "Unknown Song": None,
        "Episode 13: More Fixtures": None,
    }
    assert [p["content_type"] for p in account].count("podcast") == 1


def test_the_oldest_vintage_lands(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "spotify-export", str(ENDSONG), "--user", "alice"]) == 0
    assert "2 rows in, 2 landed, 0 rejected" in capsys.readouterr().out
    plays = {p["track_name"]: p for p in lake_rows(settings, "plays")}
    # `skipped` is null in old files: the back button says it was a skip.
    assert plays["Old Roads"]["skipped"] is True
    assert plays["Northern Lights"]["skipped"] is False
    assert plays["Old Roads"]["platform"] == "android"


@pytest.mark.parametrize(
    ("raw", "family"),
    [
        ("Android OS 9 API 28 (samsung, SM-G960F)", "android"),
        ("iOS 12.1 (iPhone9,3)", "ios"),
        ("Windows 10 (10.0.19041; x64)", "windows"),
        ("OS X 10.14 [x86 8]", "macos"),
        ("web_player windows 10;chrome 87.0.4280.88;desktop", "web"),
        ("Android_TV (Sony, BRAVIA 4K)", "tv"),
        ("osx", "macos"),
        ("linux", "linux"),
        ("Partner unknown_device", "other"),
        ("not_applicable", None),
        (None, None),
    ],
)
def test_platforms_become_coarse_families(raw: str | None, family: str | None) -> None:
    assert coarse_platform(raw) == family


BAD_ROWS = [
    {"ts": "2024-01-01T10:00:00Z", "ms_played": 200000, "spotify_track_uri":
     "spotify:track:4cOdK2wGLETKBW3PvgPWqT", "master_metadata_track_name": "Northern Lights",
     "master_metadata_album_artist_name": "The Fixtures", "reason_end": "trackdone"},
    {"ms_played": 1000, "spotify_track_uri": "spotify:track:4cOdK2wGLETKBW3PvgPWqT"},
    {"ts": "yesterday", "ms_played": 1000},
    {"ts": "2024-01-01T11:00:00Z", "ms_played": -5, "ip_addr": "203.0.113.45",
     "spotify_track_uri": "spotify:track:4cOdK2wGLETKBW3PvgPWqT"},
    {"ts": "2024-01-01T12:00:00Z", "ms_played": "abc"},
    {"ts": "2099-01-01T00:00:00Z", "ms_played": 1000},
    {"ts": "2005-12-31T23:59:59Z", "ms_played": 1000},
    {"ts": "2024-01-01T13:00:00Z", "ms_played": 1000, "spotify_track_uri": "spotify:foo:123"},
    42,
    {"ts": "2024-01-01T14:00:00Z", "ms_played": 180000, "spotify_track_uri":
     "spotify:track:1dGr1c8CrMLDpV6mPbImSI", "master_metadata_track_name": "Paper Boats"},
]  # fmt: skip


def test_bad_rows_are_quarantined_and_good_rows_land(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "export" / "Spotify Extended Streaming History"
    folder.mkdir(parents=True)
    text = json.dumps(BAD_ROWS, indent=1)
    # A BOM, and a file cut off in the middle of its last record.
    cut = text.rindex('"master_metadata_track_name": "Paper Boats"')
    (folder / "Streaming_History_Audio_2024_0.json").write_bytes(
        b"\xef\xbb\xbf" + text[:cut].encode()
    )
    (folder / "Streaming_History_Audio_2024_1.json").write_bytes(b"")
    (folder / "Userdata.json").write_text('{"username": "fixture-user-7781"}')

    assert main(["ingest", "spotify-export", str(folder.parent), "--user", "bob"]) == 0
    out = capsys.readouterr().out
    assert "10 rows in, 2 landed, 8 rejected (2 plays, 1 tracks)" in out
    assert "1 row(s) with an unknown uri kind" in out and "1 empty history file(s)" in out
    plays = lake_rows(settings, "plays")
    assert sorted(p["content_type"] for p in plays) == ["music", "unknown"]
    rejects = {r["source_line"]: r for r in lake_rows(settings, "rejects")}
    reasons = {line: r["reason"] for line, r in rejects.items()}
    assert reasons[2] == "record 2: ts is missing"
    assert "'yesterday' is not an ISO-8601 timestamp" in reasons[3]
    assert reasons[4] == "record 4: ms_played -5 is negative"
    assert reasons[5] == "record 5: ms_played 'abc' is not a number of milliseconds"
    assert "is in the future" in reasons[6]
    assert "before Spotify existed" in reasons[7]
    assert reasons[9] == "record 9: is a int, not a record"
    assert "is cut off: JSON breaks at character" in reasons[10]
    assert "after 9 complete record(s)" in reasons[10]
    assert {r["source_file"] for r in rejects.values()} == {"Streaming_History_Audio_2024_0.json"}
    # The rejected row keeps what it said, but not the IP address.
    assert "203.0.113.45" not in rejects[4]["raw_record"]
    assert json.loads(rejects[4]["raw_record"])["ms_played"] == -5
    manifest = Lake(settings.lake_dir).manifest().to_pylist()[0]
    assert manifest["rows_in"] == manifest["rows_landed"] + manifest["rows_rejected"] == 10


def test_salvage_keeps_every_complete_record() -> None:
    records, problem = parse_member(b'[{"a": 1}, {"b": 2}, {"c": ')
    assert records == [{"a": 1}, {"b": 2}] and "after 2 complete record(s)" in (problem or "")
    assert parse_member(b"") == ([], None)
    assert parse_member(b'{"not": "an array"}') == ([], "is not a JSON array but a dict")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: _photo_zip(d), "holds no streaming history"),
        (lambda d: _write(d / "notes.txt", "hello"), "is neither a Spotify export zip"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "holds no streaming history"),
    ],
)  # fmt: skip
def test_what_is_not_an_export_is_refused_in_one_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:
    path = make(tmp_path)
    assert main(["ingest", "spotify-export", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert not Lake(settings.lake_dir).manifest().num_rows


def _photo_zip(folder: Path) -> Path:
    with zipfile.ZipFile(folder / "photos.zip", "w") as archive:
        archive.writestr("IMG_0001.txt", "no history here")
        archive.writestr("Spotify Account Data/Userdata.json", '{"username": "x"}')
    return folder / "photos.zip"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_no_personal_data_reaches_the_lake_or_the_output(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in (EXTENDED, ENDSONG):
        assert main(["ingest", "spotify-export", str(folder)]) == 0
    assert main(["ingest", "spotify-export", str(zip_folder(ACCOUNT, tmp_path / "a.zip"))]) == 0
    captured = capsys.readouterr()
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        if path.suffix == ".parquet":
            text += json.dumps(pq.read_table(path).to_pylist(), default=str)
        for value in PERSONAL:
            assert value.encode() not in data, (value, path)
            assert value not in text, (value, path)
    for value in PERSONAL:
        assert value not in captured.out + captured.err
