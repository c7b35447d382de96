"""Audio-feature catalogs: scale detected and converted at the door, ids derived, text repaired."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest.identity import surrogate_track_id
from ingest.sources.catalog.reader import read_catalog
from ingest.sources.text import repair_text
from spotiflow.errors import InputFileError
from tests.support.helpers import SAMPLE_CATALOG


def _kaggle_rows() -> list[dict]:
    with SAMPLE_CATALOG.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_percent_catalog_lands_every_row_on_the_unit_scale() -> None:
    result = read_catalog(SAMPLE_CATALOG)
    source = _kaggle_rows()
    assert result.rows_in == len(source) == 953
    assert result.rows_landed == 953 and result.rejects == []
    assert result.options == {"scale": "percent"}
    features = result.tables["audio_features"].to_pylist()
    tracks = result.tables["tracks"].to_pylist()
    first = source[0]
    assert features[0]["danceability"] == pytest.approx(int(first["danceability_%"]) / 100)
    assert features[0]["valence"] == pytest.approx(int(first["valence_%"]) / 100)
    assert features[0]["tempo"] == float(first["bpm"])
    assert features[0]["key"] == 11  # "B"
    assert features[0]["mode"] == 1  # "Major"
    assert features[0]["source_scale"] == "percent"
    assert tracks[0]["track_id"] == surrogate_track_id(first["track_name"], first["artist(s)_name"])
    assert tracks[0]["streams"] == int(first["streams"])
    # Four tracks are listed twice; each keeps its first row.
    assert len(features) == len(tracks) == 949
    first_rows = {}
    for row in source:
        track_id = surrogate_track_id(
            repair_text(row["track_name"]), repair_text(row["artist(s)_name"])
        )
        first_rows.setdefault(track_id, row)
    blank_keys = sum(1 for row in first_rows.values() if not row["key"].strip())
    assert sum(1 for f in features if f["key"] is None) == blank_keys > 0
    assert "4 row(s) repeat an earlier track" in " ".join(result.notes)
    assert all(
        0 <= f[name] <= 1 for f in features for name in ("energy", "liveness", "speechiness")
    )


def test_unreadable_optional_value_is_noted_not_fatal() -> None:
    result = read_catalog(SAMPLE_CATALOG)
    notes = " ".join(result.notes)
    assert "line 576: streams 'BPM110KeyAModeMajor" in notes
    assert "109 row(s) with damaged text encodings" in notes


def test_surrogate_ids_ignore_case_and_spacing_but_not_names() -> None:
    assert surrogate_track_id("Flowers", "Miley Cyrus") == surrogate_track_id(
        "  flowers ", "MILEY  CYRUS"
    )
    assert surrogate_track_id("Flowers", "Miley Cyrus") != surrogate_track_id(
        "Flower", "Miley Cyrus"
    )


def test_repair_text_fixes_what_it_can_and_marks_what_it_cannot() -> None:
    assert repair_text("CafÃ©") == "Café"
    assert repair_text("Beyoncé") == "Beyoncé"
    assert repair_text("TaylorÔøΩÔøΩÔøΩs Version") == "Taylor\ufffds Version"
    assert repair_text("BeyoncÔø") == "Beyonc\ufffd"


def test_latin1_file_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    text = (
        "track_name,artist(s)_name,bpm,key,mode,danceability_%,valence_%,energy_%,"
        "acousticness_%,instrumentalness_%,liveness_%,speechiness_%\n"
    )
    text += "Café del Mar,Energy 52,128,A,Minor,60,40,80,5,90,10,4\n"
    path.write_bytes(text.encode("latin-1"))
    result = read_catalog(path)
    assert result.tables["tracks"].to_pylist()[0]["track_name"] == "Café del Mar"
    assert "encoding cp1252" in result.notes[0]
    assert result.tables["audio_features"].to_pylist()[0]["key"] == 9


def test_unit_scale_catalog_with_ids_and_semicolon_artists(tmp_path: Path) -> None:
    # The shape of Kaggle's "Spotify Tracks Dataset": an unnamed index column, ';' artists,
    # the same track under several genres, a row with no names.
    path = tmp_path / "tracks.csv"
    path.write_text(
        ",track_id,artists,album_name,track_name,popularity,duration_ms,danceability,energy,key,"
        "loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,"
        "time_signature,track_genre\n"
        "0,5SuOikwiRyPMVoIQDJUgSV,Gen Hoshino,Comedy,Comedy,73,230666,0.676,0.461,1,-6.746,0,"
        "0.143,0.0322,1.01e-06,0.358,0.715,87.917,4,acoustic\n"
        "1,4qPNDBW1i3p13qLCt0Ki3A,Ben Woodward;Kanto,Ghost,Ghost - Acoustic,55,149610,0.42,"
        "0.166,1,-17.235,1,0.0763,0.924,5.56e-06,0.101,0.267,77.489,4,acoustic\n"
        "2,5SuOikwiRyPMVoIQDJUgSV,Gen Hoshino,Comedy,Comedy,73,230666,0.676,0.461,1,-6.746,0,"
        "0.143,0.0322,1.01e-06,0.358,0.715,87.917,4,j-pop\n"
        "3,,,,,0,0,0.5,0.5,1,-5,1,0.1,0.1,0.0,0.1,0.5,100,4,k-pop\n",
        encoding="utf-8",
    )
    result = read_catalog(path)
    assert result.options == {"scale": "unit"}
    assert result.rows_in == 4 and result.rows_landed == 3
    assert result.rejects[0].line == 5
    assert "no track id" in result.rejects[0].reason
    tracks = result.tables["tracks"].to_pylist()
    assert tracks[1]["artist_name"] == "Ben Woodward, Kanto"
    assert tracks[0]["popularity"] == 73 and tracks[0]["duration_ms"] == 230666
    assert result.tables["audio_features"].to_pylist()[0]["energy"] == 0.461


def test_forced_scale_and_out_of_range_values(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text(
        "id,name,artists," + ",".join(
            ["acousticness", "danceability", "energy", "instrumentalness", "liveness",
             "speechiness", "valence"]
        ) + "\n"
        "a1,A,X,0.5,0.5,0.5,0.5,0.5,0.5,0.5\n"
        "a2,B,Y,0.5,0.5,0.5,0.5,0.5,0.5,140\n",
        encoding="utf-8",
    )  # fmt: skip
    as_percent = read_catalog(path, scale="percent")
    assert as_percent.tables["audio_features"].to_pylist()[0]["energy"] == 0.005
    assert [r.reason for r in as_percent.rejects] == ["valence 140 is outside 0..100"]
    as_unit = read_catalog(path, scale="unit")
    assert [r.reason for r in as_unit.rejects] == ["valence 140 is outside 0..1"]
    # Auto-detection goes by the bulk of the values: one above 1 is that row's problem.
    detected = read_catalog(path)
    assert detected.options == {"scale": "unit"}
    assert [r.reason for r in detected.rejects] == ["valence 140 is outside 0..1"]


def test_a_file_that_is_no_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text("track_name,artist\nA,B\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"plays.csv, line 1: is not an audio-feature catalog"):
        read_catalog(path)


@pytest.mark.parametrize(
    ("column", "value"),
    [("popularity", "3e9"), ("popularity", "-3000000000"), ("duration_ms", "1e30")],
)
def test_numbers_too_large_for_their_column_are_rejected(
    tmp_path: Path, column: str, value: str
) -> None:
    header = (
        "track_id,artists,track_name,popularity,duration_ms,acousticness,danceability,energy,"
        "instrumentalness,liveness,speechiness,valence\n"
    )
    good = (
        "5SuOikwiRyPMVoIQDJUgSV,Gen Hoshino,Comedy,73,230666,0.03,0.676,0.461,0.0,0.36,0.14,0.715"
    )
    values = dict(zip(header.strip().split(","), good.split(","), strict=True))
    values |= {"track_id": "4qPNDBW1i3p13qLCt0Ki3A", column: value}
    path = tmp_path / "tracks.csv"
    path.write_text(header + good + "\n" + ",".join(values.values()) + "\n", encoding="utf-8")
    result = read_catalog(path, scale="unit")
    assert (result.rows_in, result.rows_landed) == (2, 1)
    assert result.rejects[0].reason == f"{column} {value!r} is out of range"


@pytest.mark.parametrize("odd", ["1.2", "inf"])
def test_one_odd_value_does_not_make_a_unit_catalog_percent(tmp_path: Path, odd: str) -> None:
    header = (
        "track_id,artists,track_name,acousticness,danceability,energy,instrumentalness,"
        "liveness,speechiness,valence\n"
    )
    rows = [
        f"{track_id},Artist {n},Song {n},0.03,0.676,0.461,0.0,0.36,0.14,0.715"
        for n, track_id in enumerate(
            ["5SuOikwiRyPMVoIQDJUgSV", "4qPNDBW1i3p13qLCt0Ki3A", "1iJBSr7s7jYXzM8EGcbK5b"]
        )
    ]
    rows.append(f"2y6bIYxXwAGOWPb7z0ZLfm,Artist 9,Song 9,0.03,0.5,{odd},0.0,0.36,0.14,0.5")
    path = tmp_path / "tracks.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    result = read_catalog(path)
    assert result.options == {"scale": "unit"}
    assert (result.rows_in, result.rows_landed) == (4, 3)
    assert "energy" in result.rejects[0].reason and result.rejects[0].line == 5
    energies = result.tables["audio_features"].column("energy").to_pylist()
    assert energies == [0.461, 0.461, 0.461]
