"""One listener's Spotify exports of every vintage (tests/fixtures/spotify_export/vintages, in
the key sets and quirks of ../shared/SPOTIFY.md): each lands, each play counts once in either
ingest order, one listener across exports, nothing personal kept anywhere."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.identity import user_id_for
from spotiflow.cli import main
from spotiflow.settings import Settings
from spotiflow.warehouse.duckdb_file import connect
from tests.support.helpers import FIXTURES, PROJECT_DIR, TEST_SALT, make_settings, query, zip_folder

VINTAGES = FIXTURES / "spotify_export" / "vintages"
USER = "fixture-user-7781"
# Every personal value the fixtures hold, of every key SPOTIFY.md lists as personal.
PERSONAL = [
    USER,
    "fixture.user@example.com",
    "203.0.113.45",
    "198.51.100.23",
    "192.0.2.77",
    "Mozilla/5.0 (Fixture; Echo)",
    "9f1c2e7a4b8d4c3aa0e5f6b7c8d9e0f1",
    "Echo_Dot",
    "SM-G960F",
    "Fixtureburg",
    "Fixture Region",
    "fixture-metro-501",
    "-179.7654321",
    "89.1234567",
    "Fixture Person",
    "Running Mix",
    "fixture-friend-0042",
    "canal path",
    "FX-10999",
    "+49 30 1234567",
    "1990-01-01",
    "Fixture Card",
    "fixture secret search",
    "1P_Custom_Fixture_Segment",
]


def _exports(scratch: Path) -> list[list[str]]:
    """The CLI arguments of each export; extended history since late 2024 names no account."""
    return [
        [str(zip_folder(VINTAGES / "account_2026", scratch / "my_spotify_data.zip"))],
        [str(VINTAGES / "extended_2026"), "--user", USER],
        [str(VINTAGES / "extended_2021")],
        [str(VINTAGES / "extended_2020")],
        [str(VINTAGES / "account_2020")],
    ]


def _built(data_dir: Path, order: list[list[str]]) -> Settings:
    patch = pytest.MonkeyPatch()
    patch.setenv("SPOTIFLOW_PROJECT_DIR", str(PROJECT_DIR))
    patch.setenv("SPOTIFLOW_DATA_DIR", str(data_dir))
    patch.setenv("SPOTIFLOW_USER_ID_SALT", TEST_SALT)
    try:
        for arguments in order:
            assert main(["ingest", "spotify-export", *arguments]) == 0
        assert main(["build"]) == 0
    finally:
        patch.undo()
    return make_settings(data_dir)


@pytest.fixture(scope="module")
def both_orders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Settings]]:
    """The same exports landed as they usually arrive (account data first) and reversed."""
    scratch = tmp_path_factory.mktemp("vintages")
    exports = _exports(scratch)
    yield (
        _built(scratch / "usual" / "data", exports),
        _built(scratch / "reversed" / "data", list(reversed(exports))),
    )


def test_every_vintage_lands_whole(settings: Settings, tmp_path: Path, capsys) -> None:
    for arguments in _exports(tmp_path):
        assert main(["ingest", "spotify-export", *arguments]) == 0
    out = capsys.readouterr().out
    assert out.count(" 0 rejected") == 5
    assert "11 rows in, 11 landed" in out  # account 2026: 7 + 1 plays, 3 track references
    assert "12 rows in, 12 landed" in out  # extended 2026: 10 audio, 2 video
    assert "10 extended-history audio record(s)" in out
    assert "2 extended-history video record(s)" in out
    assert "1 extended-history video record(s)" in out  # endvideo.json, 2020
    assert "3 account-data record(s) of the 2019-20 files mixing music and podcasts" in out
    assert "3 track reference(s) from YourLibrary.json and playlists" in out


def test_one_listener_across_exports(both_orders: tuple[Settings, Settings]) -> None:
    usual, _ = both_orders
    users = query(usual, "select distinct user_id from marts.fct_plays")
    assert users == [(user_id_for(USER, usual),)]


# Lineage: load ids name when a load landed, which differs between the two orders.
LINEAGE_COLUMNS = ("load_id", "duplicate_of_load_id", "loaded_at", "first_loaded_at",
                   "last_loaded_at")  # fmt: skip


def _mart_rows(settings: Settings, mart: str) -> list[tuple]:
    """A mart's rows without its lineage columns."""
    with connect(settings) as connection:
        columns = [
            name
            for (name,) in connection.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = ? order by ordinal_position",
                [mart],
            ).fetchall()
            if name not in LINEAGE_COLUMNS
        ]
        return connection.execute(
            f"select {', '.join(columns)} from marts.{mart} order by all"
        ).fetchall()


def test_either_ingest_order_gives_identical_marts(both_orders: tuple[Settings, Settings]) -> None:
    usual, reversed_order = both_orders
    with connect(usual) as connection:
        marts = [
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]
    assert "fct_plays" in marts and "fct_duplicate_plays" in marts
    for mart in sorted(set(marts) - {"fct_loads", "fct_rejected_rows"}):
        assert _mart_rows(usual, mart) == _mart_rows(reversed_order, mart), mart


def test_each_play_counts_once(both_orders: tuple[Settings, Settings]) -> None:
    usual, _ = both_orders
    duplicates = query(
        usual,
        "select p.played_at::varchar, p.track_name, d.duplicate_reason, d.duplicate_seconds_apart "
        "from marts.fct_duplicate_plays as d "
        "inner join intermediate.int_plays_deduplicated as p on d.play_id = p.play_id "
        "order by 1, 2, 3",
    )
    assert duplicates == [
        # Account data of 2020 (names only, minute precision) repeats the 2020 vintage.
        ("2020-06-01 10:00:00", "Northern Lights", "cross_source", 20),
        # The 2021 export holds the 2020 plays again, now with uris.
        ("2020-06-01 10:00:20", "Northern Lights", "repeated_record", 0),
        ("2020-06-01 10:05:00", "Old Roads", "cross_source", 10),
        ("2020-06-01 10:05:10", "Old Roads", "repeated_record", 0),
        # An episode in the mixed 2019-20 file is the 2020 vintage's podcast play.
        ("2020-06-01 11:00:00", "Episode 3: Early Fixtures", "cross_source", 30),
        # Account data of 2025-26 repeats extended history: to the second, and 30 s off.
        ("2025-12-01 18:00:00", "Northern Lights", "cross_source", 0),
        ("2025-12-01 18:03:00", "Glass Harbour", "cross_source", 30),
        # The offline play reported twice, and the byte-identical record.
        ("2025-12-01 18:03:30", "Glass Harbour", "repeated_record", 0),
        ("2025-12-01 18:07:00", "Paper Boats", "cross_source", 0),
        ("2025-12-01 18:07:00", "Paper Boats", "repeated_record", 0),
        ("2025-12-02 07:30:00", "Episode 12: Fixtures", "cross_source", 0),
        # NFKC, case and a no-break space: LANTERN by "the band" is Lantern by The Band.
        ("2025-12-04 10:00:00", "LANTERN", "cross_source", 0),
    ]
    by_type = dict(query(usual, "select content_type, count(*) from marts.fct_plays group by 1"))
    # Videos: endvideo.json, the video podcast and the second-long track row of the 2026 file.
    assert by_type == {"music": 11, "podcast": 2, "audiobook": 1, "video": 3, "unknown": 1}
    (landed,) = query(usual, "select count(*) from intermediate.int_plays_unioned")[0]
    assert landed == sum(by_type.values()) + len(duplicates)


def test_account_plays_resolve_from_the_library_and_playlists(
    both_orders: tuple[Settings, Settings],
) -> None:
    usual, _ = both_orders
    resolved = dict(
        query(
            usual,
            "select track_name, track_id from intermediate.int_plays_deduplicated "
            "where played_at_precision = 'minute' and played_at >= '2025-12-05'",
        )
    )
    assert resolved == {
        "Quiet Hours": "5Qe7ZyZ0Hm1bUQx2nWxKj9",  # YourLibrary.json only
        "Old Roads": "6rqhFgbbKwnb9MLmUQDhG6",  # Playlist1.json (and the 2021 export)
        "Unknown Song": None,
    }
    rows = query(
        usual,
        "select played_at_precision, plays, plays_with_track_id, plays_resolved_by_name, "
        "plays_unresolved, plays_not_music from marts.fct_track_resolution order by 1",
    )
    # The 2019-20 file's episode counts as music (the file does not say) and finds no track;
    # the local file has none to find.
    assert rows == [("minute", 11, 0, 8, 2, 1), ("second", 19, 10, 2, 1, 6)]


def _texts_of(path: Path) -> str:
    """A file as text, and a Parquet file's rows decoded (compression hides strings)."""
    data = path.read_bytes()
    text = data.decode("utf-8", errors="replace")
    if path.suffix == ".parquet":
        text += json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)
    return text


def _warehouse_text(settings: Settings) -> str:
    with connect(settings) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        return "\n".join(
            json.dumps(connection.execute(f'select * from "{s}"."{t}"').fetchall(), default=str)
            for s, t in tables
        )


def _hostile_copy(scratch: Path) -> Path:
    """The 2020 and 2026 extended vintages with their personal keys in records that are
    rejected (a bad ts, a record that is a list) and in a file cut off mid-record."""
    copy = scratch / "hostile"
    shutil.copytree(VINTAGES / "extended_2020", copy / "a")
    shutil.copytree(VINTAGES / "extended_2026", copy / "b")
    ended = copy / "a" / "MyData" / "endsong_0.json"
    records = json.loads(ended.read_text(encoding="utf-8"))
    bad = [
        {**records[0], "ts": "not a time"},
        {**records[1], "ms_played": "long"},
        list(records[2].values()),
    ]
    ended.write_text(json.dumps(records + bad), encoding="utf-8")
    cut = (
        copy
        / "b"
        / "Spotify Extended Streaming History"
        / "Streaming_History_Audio_2025-2026_1.json"
    )
    text = json.dumps(
        [{**records[0], "ts": "2025-12-09T10:00:00Z"}, {**records[1], "ts": "2025-12-09T10:05:00Z"}]
    )
    cut.write_text(text[: text.rindex('"city"')], encoding="utf-8")
    return copy


def test_nothing_personal_is_kept_anywhere(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for arguments in _exports(tmp_path):
        assert main(["ingest", "spotify-export", *arguments]) == 0
    hostile = _hostile_copy(tmp_path)
    assert main(["ingest", "spotify-export", str(hostile / "a")]) == 0
    zipped = zip_folder(hostile / "b", tmp_path / "hostile.zip")
    assert main(["ingest", "spotify-export", str(zipped), "--user", USER]) == 0
    assert main(["build"]) == 0
    captured = capsys.readouterr()
    (rejected,) = query(settings, "select count(*) from marts.fct_rejected_rows")[0]
    assert rejected == 4  # three bad records and the cut-off file's rest
    raw = query(
        settings, "select raw_record from marts.fct_rejected_rows where raw_record is not null"
    )
    assert len(raw) == 2 and all(json.loads(r)["master_metadata_track_name"] for (r,) in raw)
    texts = {str(p): _texts_of(p) for p in settings.data_dir.rglob("*") if p.is_file()}
    texts["the warehouse, decoded"] = _warehouse_text(settings)
    texts["the output"] = captured.out + captured.err
    assert any(name.endswith(".parquet") for name in texts)
    assert any("/logs/" in name for name in texts)
    for name, text in texts.items():
        for value in PERSONAL:
            assert value not in text, (value, name)
