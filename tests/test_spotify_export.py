"""Spotify data exports: every vintage, zip or folder, content types, skips, bad rows, privacy."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.identity import user_id_for
from ingest.lake.landing import SCHEMA_FILE, Lake
from ingest.sources.spotify_export import read_spotify_export
from ingest.sources.spotify_export.platform import coarse_platform
from spotiflow.cli import main
from spotiflow.settings import Settings
from tests.support.helpers import FIXTURES, query, zip_folder

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


def lake_rows(settings: Settings, entity: str) -> list[dict]:
    folder = Lake(settings.lake_dir).entity_dir(entity)
    files = sorted(p for p in folder.glob("*.parquet") if p.name != SCHEMA_FILE)
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def test_extended_history_lands_what_the_export_says(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "spotify-export", str(EXTENDED), "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert "12 rows in, 12 landed, 0 rejected (12 spotify_export__extended_plays" in out
    assert "11 extended-history audio record(s)" in out
    assert "1 extended-history video record(s)" in out
    plays = lake_rows(settings, "spotify_export__extended_plays")
    assert {p["user_id"] for p in plays} == {user_id_for("alice", settings)}
    assert "username" not in plays[0] and "platform" not in plays[0]
    by_time = {(p["ts"], p["master_metadata_track_name"]): p for p in plays}
    paper_boats = by_time[(datetime(2022, 11, 5, 20, 3, 40), "Paper Boats")]
    # Landed as said: `skipped` false, the ending fwdbtn; staging reads it as a skip.
    assert paper_boats["skipped"] is False and paper_boats["reason_end"] == "fwdbtn"
    assert paper_boats["platform_family"] == "ios" and paper_boats["ms_played"] == 12000
    assert {p["file_kind"] for p in plays} == {"extended-audio", "extended-video"}
    # Byte-identical records land as they are; the build counts them once.
    harbour = [p for p in plays if p["master_metadata_track_name"] == "Glass Harbour"]
    assert len(harbour) == 2


def test_the_export_names_its_user_unless_told(settings: Settings) -> None:
    result = read_spotify_export(EXTENDED, settings)
    users: dict[str, int] = {}
    for play in result.tables["spotify_export__extended_plays"].to_pylist():
        users[play["user_id"]] = users.get(play["user_id"], 0) + 1
    # 2022-23 rows carry the username (hashed here); later vintages carry none.
    assert users == {
        user_id_for("fixture-user-7781", settings): 6,
        user_id_for(settings.sample_user, settings): 6,
    }
    assert any("6 record(s) name no account" in note for note in result.notes)


def test_account_data_names_its_listener_from_userdata(settings: Settings, tmp_path: Path) -> None:
    archive = zip_folder(ACCOUNT, tmp_path / "my_spotify_data.zip")
    result = read_spotify_export(archive, settings)
    plays = result.tables["spotify_export__account_plays"].to_pylist()
    assert {p["user_id"] for p in plays} == {user_id_for("fixture-user-7781", settings)}
    assert any("the username in Userdata.json (hashed)" in note for note in result.notes)


def test_a_zip_and_its_folder_are_the_same_input(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = zip_folder(EXTENDED, tmp_path / "my_spotify_data.zip")
    assert main(["ingest", "spotify-export", str(archive), "--user", "alice"]) == 0
    assert main(["ingest", "spotify-export", str(EXTENDED), "--user", "alice"]) == 0
    assert main(["ingest", "spotify-export", str(archive), "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert out.count("already landed") == 2
    assert len(lake_rows(settings, "spotify_export__extended_plays")) == 12


@pytest.fixture(scope="module")
def one_listeners_exports(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One person's account data (landed first, as Spotify sends it first), extended history
    of two vintages, built."""
    from tests.support.helpers import PROJECT_DIR, TEST_SALT, make_settings

    data_dir = tmp_path_factory.mktemp("exports") / "data"
    patch = pytest.MonkeyPatch()
    patch.setenv("SPOTIFLOW_PROJECT_DIR", str(PROJECT_DIR))
    patch.setenv("SPOTIFLOW_DATA_DIR", str(data_dir))
    patch.setenv("SPOTIFLOW_USER_ID_SALT", TEST_SALT)
    try:
        archive = zip_folder(ACCOUNT, data_dir.parent / "my_spotify_data.zip")
        for path in (archive, EXTENDED, ENDSONG):
            assert main(["ingest", "spotify-export", str(path), "--user", "alice"]) == 0
        assert main(["build"]) == 0
        yield make_settings(data_dir)
    finally:
        patch.undo()


def test_content_types_and_skips_are_derived_in_staging(one_listeners_exports: Settings) -> None:
    rows = query(
        one_listeners_exports,
        "select content_type, count(*) from staging.stg_spotify_export__extended_plays "
        "group by all",
    )
    assert dict(rows) == {"music": 10, "podcast": 1, "audiobook": 1, "video": 1, "unknown": 1}
    skips = dict(
        query(
            one_listeners_exports,
            "select played_at::varchar || ' ' || track_name, is_skipped "
            "from staging.stg_spotify_export__extended_plays where track_name is not null "
            "and content_type = 'music'",
        )
    )
    # A skip read from reason_end, though `skipped` says false; null `skipped` in 2021.
    assert skips["2022-11-05 20:03:40 Paper Boats"] is True
    assert skips["2022-11-06 09:15:00 Paper Boats"] is True  # endplay
    assert skips["2021-06-01 10:04:00 Old Roads"] is True  # backbtn
    assert skips["2021-06-01 10:00:00 Northern Lights"] is False


def test_account_plays_resolve_against_tracks_landed_after_them(
    one_listeners_exports: Settings,
) -> None:
    resolved = dict(
        query(
            one_listeners_exports,
            "select track_name, track_id from intermediate.int_plays_deduplicated "
            "where played_at_precision = 'minute'",
        )
    )
    assert resolved == {
        "Northern Lights": "4cOdK2wGLETKBW3PvgPWqT",
        "Glass Harbour": "3n3Ppam7vgaVa1iaRUc9Lp",
        "LANTERN": "0VjIjW4GlUZAMYd2vXMi3b",  # case and spacing do not matter
        "Unknown Song": None,
        "Episode 13: More Fixtures": None,  # a podcast: no track to find
    }
    counts = query(
        one_listeners_exports,
        "select played_at_precision, plays, plays_with_track_id, plays_resolved_by_name, "
        "plays_unresolved, plays_not_music, duplicate_plays from marts.fct_track_resolution "
        "order by 1",
    )
    assert counts == [("minute", 5, 0, 3, 1, 1, 2), ("second", 14, 10, 0, 0, 4, 1)]


def test_each_play_counts_once(one_listeners_exports: Settings) -> None:
    duplicates = query(
        one_listeners_exports,
        "select p.track_name, d.duplicate_reason, d.duplicate_of_source, "
        "d.duplicate_seconds_apart from marts.fct_duplicate_plays as d "
        "inner join intermediate.int_plays_deduplicated as p on d.play_id = p.play_id "
        "order by 1, 2",
    )
    # The record extended history repeats, and account plays of listening it already holds.
    assert duplicates == [
        ("Glass Harbour", "cross_source", "spotify-export", 30),
        ("Glass Harbour", "repeated_record", "spotify-export", 0),
        ("Northern Lights", "cross_source", "spotify-export", 0),
    ]
    (plays,) = query(one_listeners_exports, "select count(*) from marts.fct_plays")[0]
    assert plays == 19 - 3


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
    assert "10 rows in, 2 landed, 8 rejected (2 spotify_export__extended_plays" in out
    assert "1 empty history file(s)" in out
    plays = lake_rows(settings, "spotify_export__extended_plays")
    assert sorted(p["spotify_track_uri"] for p in plays) == [
        "spotify:foo:123",
        "spotify:track:4cOdK2wGLETKBW3PvgPWqT",
    ]
    rejects = {r["source_line"]: r for r in lake_rows(settings, "rejects")}
    reasons = {line: r["reason"] for line, r in rejects.items()}
    assert reasons[2] == "record 2: ts is missing"
    assert reasons[3] == 'record 3: ts "yesterday" is not a time like 2023-08-07T21:07:25Z'
    assert reasons[4] == "record 4: ms_played -5 is negative"
    assert reasons[5] == 'record 5: ms_played "abc" is not a number of milliseconds'
    assert "is in the future" in reasons[6]
    assert "before Spotify existed" in reasons[7]
    assert reasons[9] == "record 9: is a number, not a record"
    assert "is cut off: JSON breaks at character" in reasons[10]
    assert "after 9 complete record(s)" in reasons[10]
    assert {r["source_file"] for r in rejects.values()} == {"Streaming_History_Audio_2024_0.json"}
    # The rejected row keeps what it said, but not the IP address.
    assert "203.0.113.45" not in rejects[4]["raw_record"]
    assert json.loads(rejects[4]["raw_record"])["ms_played"] == -5
    manifest = Lake(settings.lake_dir).manifest().to_pylist()[0]
    assert manifest["rows_in"] == manifest["rows_landed"] + manifest["rows_rejected"] == 10


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


def test_unpacked_members_stay_in_the_data_dir_and_go(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.sources.spotify_export.members as members

    seen: list[Path] = []
    unpack = members._from_zip

    def spy(archive_path: Path, scratch: Path, limits):
        seen.append(scratch)
        assert oct(scratch.stat().st_mode & 0o777) == "0o700"
        return unpack(archive_path, scratch, limits)

    monkeypatch.setattr(members, "_from_zip", spy)
    archive = zip_folder(EXTENDED, tmp_path / "my_spotify_data.zip")
    assert main(["ingest", "spotify-export", str(archive), "--user", "alice"]) == 0
    root = settings.data_dir / ".scratch"
    assert seen and seen[0].parent == root
    assert oct(root.stat().st_mode & 0o777) == "0o700"
    assert list(root.iterdir()) == []


def test_what_a_killed_reading_unpacked_is_removed_by_the_next(
    settings: Settings, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    root = settings.data_dir / ".scratch"
    left = root / f"export-{dead.pid}-x1y2"
    running = root / f"export-{os.getpid()}-other"
    for folder in (left, running):
        folder.mkdir(parents=True)
        (folder / "00000-unpacked").write_text('[{"username": "fixture-user-7781"}]')
    assert main(["ingest", "spotify-export", str(ENDSONG), "--user", "alice"]) == 0
    assert not left.exists()
    assert running.exists()  # a reading still running keeps its folder


def test_symbolic_links_inside_an_export_are_not_followed(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "endsong_0.json").write_bytes((ENDSONG / "MyData" / "endsong_0.json").read_bytes())
    export = tmp_path / "export" / "MyData"
    export.mkdir(parents=True)
    (export / "endsong_0.json").symlink_to(outside / "endsong_0.json")
    (export / "linked").symlink_to(outside, target_is_directory=True)
    assert main(["ingest", "spotify-export", str(export.parent)]) == 2
    assert "holds no streaming history" in capsys.readouterr().err
    (export / "endsong_1.json").write_bytes((ENDSONG / "MyData" / "endsong_0.json").read_bytes())
    assert main(["ingest", "spotify-export", str(export.parent), "--user", "alice"]) == 0
    assert "2 rows in, 2 landed" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["exp [1]", "exp*", "exp?", "it's"])
def test_an_export_folder_is_read_as_itself_whatever_its_name(
    settings: Settings, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Beside it, a folder its name would match as a glob pattern, holding other plays.
    decoy = tmp_path / "exp 1" / "MyData"
    decoy.mkdir(parents=True)
    (decoy / "endsong_0.json").write_text(json.dumps(BAD_ROWS[:1] * 5))
    folder = tmp_path / name / "MyData"
    folder.mkdir(parents=True)
    (folder / "endsong_0.json").write_bytes((ENDSONG / "MyData" / "endsong_0.json").read_bytes())
    assert main(["ingest", "spotify-export", str(folder.parent), "--user", "alice"]) == 0
    assert "2 rows in, 2 landed" in capsys.readouterr().out


def test_a_history_file_with_records_but_none_read_is_never_zero_rows(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Should a path ever be read as something else again (as 'exp [1]' read 'exp 1'), the
    file's records are accounted for: a rejected problem naming the file, not "0 rows"."""
    from ingest.sources.spotify_export import json_files

    monkeypatch.setattr(json_files, "literal_path", str)
    decoy = tmp_path / "exp 1" / "MyData"
    decoy.mkdir(parents=True)
    (decoy / "endsong_0.json").write_text(json.dumps(BAD_ROWS[:1] * 5))
    folder = tmp_path / "exp [1]" / "MyData"
    folder.mkdir(parents=True)
    (folder / "endsong_0.json").write_bytes((ENDSONG / "MyData" / "endsong_0.json").read_bytes())
    (folder / "endsong_1.json").write_text(" [ \n ] ")
    assert main(["ingest", "spotify-export", str(folder.parent), "--user", "alice"]) == 0
    assert "1 rows in, 0 landed, 1 rejected" in capsys.readouterr().out
    lake = Lake(settings.lake_dir)
    (rejects,) = [pq.read_table(path) for path in lake.committed_files("rejects")]
    assert rejects["reason"].to_pylist() == [
        "endsong_0.json holds records but none could be read from it"
    ]


def _zip_of(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def test_a_zip_unpacking_to_far_more_than_it_holds_is_refused(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = b"[" + b" " * (8 * 2**20) + b"]"  # 8 MB of blanks in a few kB
    archive = _zip_of(tmp_path / "bomb.zip", {"MyData/endsong_0.json": bomb})
    assert main(["ingest", "spotify-export", str(archive)]) == 2
    err = capsys.readouterr().err
    assert "endsong_0.json is compressed" in err and "SPOTIFLOW_EXPORT_MAX_RATIO" in err
    assert err.count("\n") == 1
    assert list((settings.data_dir / ".scratch").iterdir()) == []


def test_a_member_larger_than_the_limit_is_refused(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("SPOTIFLOW_EXPORT_MAX_MEMBER_MB", "1")
    records = [
        dict(BAD_ROWS[0], ts=f"2024-01-01T10:{i // 60:02d}:{i % 60:02d}Z") for i in range(9000)
    ]
    archive = _zip_of(tmp_path / "big.zip", {"MyData/endsong_0.json": json.dumps(records).encode()})
    assert main(["ingest", "spotify-export", str(archive)]) == 2
    assert "endsong_0.json unpacks to more than 1 MB" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("limit", "value", "records", "landed"),
    [
        ("SPOTIFLOW_EXPORT_MAX_REJECTS", "20", [{}] * 30, None),
        ("SPOTIFLOW_EXPORT_MAX_REJECTS", "40", [{}] * 30, "30 rows in, 0 landed, 30 rejected"),
        ("SPOTIFLOW_EXPORT_MAX_RECORDS", "5", BAD_ROWS[:1] * 6, None),
        ("SPOTIFLOW_EXPORT_MAX_RECORDS", "6", BAD_ROWS[:1] * 6, "6 rows in"),
    ],
)
def test_a_history_file_past_the_record_or_reject_limit_is_refused_naming_it(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    limit: str,
    value: str,
    records: list,
    landed: str | None,
) -> None:
    """1.7 M `{}` records once became 1.7 M rejects in memory: a file that is mostly not a
    history is refused whole, as is one holding more records than any real file does."""
    monkeypatch.setenv(limit, value)
    folder = tmp_path / "export" / "MyData"
    folder.mkdir(parents=True)
    (folder / "endsong_0.json").write_text(json.dumps(records))
    code = main(["ingest", "spotify-export", str(folder.parent), "--user", "alice"])
    captured = capsys.readouterr()
    if landed is None:
        assert code == 2
        assert captured.err.startswith("spotiflow: error: endsong_0.json: ")
        assert limit in captured.err and captured.err.count("\n") == 1
        assert Lake(settings.lake_dir).committed_load_ids() == set()
    else:
        assert code == 0 and landed in captured.out
