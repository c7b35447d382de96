"""The dashboard's search matches what is typed, literally (no SQL wildcards)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from spotiflow.serve.dashboard.marts import Marts
from tests.support.helpers import make_settings


def test_percent_and_underscore_are_characters(tmp_path: Path) -> None:
    warehouse = tmp_path / "spotiflow.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema marts")
        connection.execute(
            "create table marts.fct_weekly_top_songs as select * from (values "
            "('u', date '2024-04-01', 1, '50% Off', 'A', 3, 0.5), "
            "('u', date '2024-04-01', 2, 'a_b', 'B', 2, 0.5), "
            "('u', date '2024-04-01', 3, 'axb', 'C', 1, 0.5), "
            "('u', date '2024-04-01', 4, 'back\\slash', 'D', 1, 0.5)) as songs("
            "user_id, week_start, song_rank, track_name, artist_name, plays, positivity_score)"
        )
    marts = Marts.from_settings(make_settings(tmp_path))
    start, end = date(2024, 4, 1), date(2024, 4, 7)

    def found(text: str) -> list[str]:
        return list(marts.songs_matching("u", text, start, end).track_name)

    assert found("%") == ["50% Off"]
    assert found("_") == ["a_b"]
    assert found("a_b") == ["a_b"]
    assert found("\\") == ["back\\slash"]
    assert found("X") == ["axb"]
