"""The original SpotiFlow CSV: every row a play, bad rows quarantined, bad files refused."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from ingest.sources.legacy_csv.reader import read_legacy_csv
from spotiflow.cli import main
from spotiflow.errors import InputFileError
from spotiflow.settings import Settings
from tests.support.helpers import FIXTURES, SAMPLE_CSV, query


def test_sample_reads_every_row_as_a_play() -> None:
    result = read_legacy_csv(SAMPLE_CSV, "u1")
    with SAMPLE_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert result.rows_in == len(rows) == 1350
    assert result.rows_landed == 1350 and result.rejects == []
    plays = result.tables["plays"].to_pylist()
    assert len(plays) == 1350
    assert len({play["play_id"] for play in plays}) == 1350
    assert {play["played_at_precision"] for play in plays} == {"day"}
    assert result.tables["tracks"].num_rows == len({row["Track ID"] for row in rows}) == 39
    assert result.tables["audio_features"].num_rows == 39


def test_repeated_rows_of_a_day_stay_separate_plays_numbered_in_file_order() -> None:
    plays = read_legacy_csv(SAMPLE_CSV, "u1").tables["plays"].to_pylist()
    first = plays[0]
    same = [
        p
        for p in plays
        if (p["track_id"], p["played_at"]) == (first["track_id"], first["played_at"])
    ]
    assert [p["play_seq"] for p in same] == list(range(1, len(same) + 1))
    assert len(same) > 1


def test_play_ids_are_stable_across_reads_and_differ_per_user() -> None:
    once = read_legacy_csv(SAMPLE_CSV, "u1").tables["plays"].column("play_id").to_pylist()
    again = read_legacy_csv(SAMPLE_CSV, "u1").tables["plays"].column("play_id").to_pylist()
    other = read_legacy_csv(SAMPLE_CSV, "u2").tables["plays"].column("play_id").to_pylist()
    assert once == again
    assert not set(once) & set(other)


def test_bad_rows_are_rejected_with_line_and_reason() -> None:
    result = read_legacy_csv(FIXTURES / "legacy_bad_rows.csv", "u1")
    assert result.rows_in == 8
    assert result.rows_landed == 3
    reasons = {reject.line: reject.reason for reject in result.rejects}
    assert reasons == {
        4: "Day_Played '04/09/2024' is not a date (YYYY-MM-DD)",
        5: "danceability 1.7 is outside 0..1",
        6: "Track ID '' is not a Spotify track id",
        7: "has 23 fields, the header has 22",
        8: "duration_ms 'long' is not a number",
    }
    assert all(reject.raw_record for reject in result.rejects)
    assert result.tables["plays"].num_rows == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x00\x01\x02binary", "is not a text file"),
        (b"Track Name,Artist Name\nx,y\n", "line 1: is missing required column(s) Track ID"),
        (b'Track Name,"Artist\n', "line 1: is not valid CSV"),
    ],
)
def test_malformed_files_are_refused_naming_file_and_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as raised:
        read_legacy_csv(path, "u1")
    assert str(raised.value).startswith(str(path))
    assert message in str(raised.value)


def test_undecodable_text_with_a_named_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(SAMPLE_CSV.read_bytes()[:2000] + b"\nCaf\xe9\n")
    with pytest.raises(InputFileError, match=r"line \d+: is not valid utf-8"):
        read_legacy_csv(path, "u1", encoding="utf-8")


@pytest.mark.parametrize("day", ["0001-01-01", "1900-01-01", "2006-09-30", "9999-12-31"])
def test_days_spotify_cannot_have_played_are_rejected(tmp_path: Path, day: str) -> None:
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    header, row = lines[0], lines[1]
    bad = row.replace("2024-04-09", day)
    assert bad != row
    path = tmp_path / "history.csv"
    path.write_text("\n".join([header, row, bad]) + "\n", encoding="utf-8")
    result = read_legacy_csv(path, "u1")
    assert (result.rows_in, result.rows_landed) == (2, 1)
    [reject] = result.rejects
    reason = "is in the future" if day > "2026" else "is before Spotify existed (2006-10)"
    assert reject.line == 3 and reason in reject.reason and reject.reason.startswith("Day_Played")


def test_a_duration_too_large_to_store_is_rejected(tmp_path: Path) -> None:
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    header, row = lines[0], lines[1]
    cells = row.split(",")
    cells[header.split(",").index("duration_ms")] = "1e30"
    path = tmp_path / "history.csv"
    path.write_text("\n".join([header, row, ",".join(cells)]) + "\n", encoding="utf-8")
    result = read_legacy_csv(path, "u1")
    assert (result.rows_in, result.rows_landed) == (2, 1)
    assert result.rejects[0].reason == "duration_ms '1e30' is out of range"


def _counted(settings: Settings) -> tuple[int, dict[str, int], dict[str, tuple[int, int]]]:
    """fct_plays' plays, fct_duplicate_plays' rows by reason, and per input file its rows
    landed and plays landed again (fct_loads)."""
    (plays,) = query(settings, "select count(*) from marts.fct_plays")[0]
    duplicates = dict(
        query(
            settings, "select duplicate_reason, count(*) from marts.fct_duplicate_plays group by 1"
        )
    )
    loads = {
        name: (landed, again)
        for name, landed, again in query(
            settings, "select source_file, rows_landed, plays_landed_again from marts.fct_loads"
        )
    }
    return plays, duplicates, loads


def test_a_history_split_in_two_files_adds_up_and_its_re_exports_add_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 28: the sample split by alternate rows (morning and evening of the same days) lost
    189 plays as 'landed more than once', without a trace."""
    header, *rows = SAMPLE_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    files = {
        "morning.csv": rows[0::2],
        "evening.csv": rows[1::2],
        # The morning file again under another name: the same input, landed once.
        "morning-copy.csv": rows[0::2],
        # The morning exported again, in another order: other bytes, the same plays.
        "morning-again.csv": rows[0::2][::-1],
        # The evening exported again with the morning of its last day: evening's plays and more.
        "evening-and-more.csv": rows[1::2] + [row for row in rows[0::2] if ",2024-04-09," in row],
    }
    for name, lines in files.items():
        (tmp_path / name).write_text(header + "".join(lines), encoding="utf-8")

    def land(name: str) -> None:
        assert main(["ingest", "legacy-csv", str(tmp_path / name), "--user", "split"]) == 0

    land("morning.csv")
    land("evening.csv")
    assert main(["build", "--no-checks"]) == 0
    assert query(settings, "select count(*) from marts.fct_plays") == [(1350,)]  # was 1,161
    assert _counted(settings) == (
        1350,
        {},
        {"morning.csv": (675, 0), "evening.csv": (675, 0)},
    )
    # The morning's plays keep the ids the reader gave them; the evening's continue after them.
    user = query(settings, "select distinct user_id from marts.fct_plays")[0][0]
    morning = read_legacy_csv(tmp_path / "morning.csv", user).tables["plays"]
    assert set(morning.column("play_id").to_pylist()) <= {
        play_id for (play_id,) in query(settings, "select play_id from marts.fct_plays")
    }

    land("morning-copy.csv")
    land("morning-again.csv")
    land("evening-and-more.csv")
    assert main(["build", "--no-checks"]) == 0
    plays, duplicates, loads = _counted(settings)
    more = sum(1 for row in rows[0::2] if ",2024-04-09," in row)
    # Still every play once; each copy a later load landed again is listed with its load: the
    # morning again lands the morning's plays again; the evening and more, the evening's and the
    # morning's of 9 April, whose latest copies the morning again had landed.
    assert plays == 1350
    assert loads == {
        "morning.csv": (675, 675),
        "evening.csv": (675, 675),
        "morning-again.csv": (675, more),
        "evening-and-more.csv": (675 + more, 0),
    }
    assert duplicates == {"repeated_load": 675 + 675 + more}
    assert plays + sum(duplicates.values()) == sum(landed for landed, _ in loads.values())
    by_day = dict(query(settings, "select listen_date, count(*) from marts.fct_plays group by 1"))
    with SAMPLE_CSV.open(encoding="utf-8") as handle:
        days = Counter(date.fromisoformat(row["Day_Played"]) for row in csv.DictReader(handle))
    assert by_day == dict(days)
    # The incremental build (of the three new loads) equals a full one.
    every_copy = (
        "select play_id, load_id, null as counted_in from marts.fct_plays union all "
        "select play_id, load_id, duplicate_of_load_id from marts.fct_duplicate_plays "
        "order by all"
    )
    incremental = query(settings, every_copy)
    assert main(["build", "--no-checks", "--full-refresh"]) == 0
    assert query(settings, every_copy) == incremental
