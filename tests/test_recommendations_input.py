"""Recommender outputs: the schema written once, validated row by row, CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.lake.schemas import RECOMMENDATIONS
from ingest.sources.recommendations.reader import read_recommendations
from spotiflow.errors import InputFileError

HEADER = (
    "model_name,model_version,run_id,generated_at,user_id,seed_track_id,rank,"
    "recommended_track_id,score"
)


def _write_csv(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_csv_rows_are_typed_and_bad_rows_rejected(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "recs.csv",
        "knn,2,r1,2024-04-08T00:00:00Z,u1,s1,1,t1,0.9",
        "knn,2,r1,2024-04-08T02:00:00+02:00,u1,s1,2,t2,",
        "knn,2,r1,2024-04-08,u1,s1,0,t3,0.5",
        "knn,2,r1,yesterday,u1,s1,3,t3,0.5",
        "knn,2,r1,2024-04-08,u1,s1,1,t9,0.1",
        "knn,2,,2024-04-08,u1,s1,4,t4,0.1",
        "knn,2,r1,2024-04-08,u1,s1,1,t9,0.2",
    )
    result = read_recommendations(path)
    # A tie (t1 and t9 both rank 1) keeps both; the same track at the same rank again does not.
    assert (result.rows_in, result.rows_landed) == (7, 3)
    rows = result.tables["recommendations"].to_pylist()
    assert rows[0]["generated_at"] == rows[1]["generated_at"]  # both 2024-04-08 00:00 UTC
    assert rows[1]["score"] is None and rows[0]["variant"] is None
    assert {r.line: r.reason for r in result.rejects} == {
        4: "rank '0' is not a positive whole number",
        5: "generated_at 'yesterday' is not an ISO-8601 timestamp",
        7: "run_id is empty",
        8: "duplicates (run_id, user_id, seed_track_id, rank, recommended_track_id) of line 6",
    }


def test_parquet_output_is_read_and_rows_numbered(tmp_path: Path) -> None:
    table = pa.table(
        {
            "run_id": ["r1", "r1"],
            "model_name": ["knn", "knn"],
            "model_version": ["2", "2"],
            "variant": ["B", None],
            "generated_at": pa.array([1712534400000000, 1712534400000000], pa.timestamp("us")),
            "user_id": ["u1", "u1"],
            "seed_track_id": ["s1", "s1"],
            "rank": pa.array([1, -1], pa.int64()),
            "recommended_track_id": ["t1", "t2"],
            "score": [0.5, 0.4],
        }
    )
    path = tmp_path / "recs.parquet"
    pq.write_table(table, path)
    result = read_recommendations(path)
    assert result.rows_landed == 1
    assert result.tables["recommendations"].schema.equals(RECOMMENDATIONS)
    assert result.tables["recommendations"].to_pylist()[0]["variant"] == "B"
    assert [(r.line, r.reason) for r in result.rejects] == [
        (2, "rank '-1' is not a positive whole number")
    ]


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "recs.csv", "knn,r1", header="model_name,run_id")
    with pytest.raises(InputFileError) as raised:
        read_recommendations(path)
    message = str(raised.value)
    assert message.startswith(f"{path}, line 1: is not a recommender output: missing column(s)")
    assert "model_version" in message and "recommended_track_id" in message


def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "recs.parquet"
    path.write_text("not parquet", encoding="utf-8")
    with pytest.raises(InputFileError, match="is not a readable Parquet file"):
        read_recommendations(path)


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00Z", "2006-09-30T23:59:59Z", "2099-01-01", "9999-12-31"]
)
def test_runs_spotify_cannot_have_made_are_rejected(tmp_path: Path, when: str) -> None:
    path = _write_csv(
        tmp_path / "recs.csv",
        "knn,2,r1,2024-04-08T00:00:00Z,u1,s1,1,t1,0.9",
        f"knn,2,r2,{when},u1,s1,1,t1,0.9",
    )
    result = read_recommendations(path)
    assert (result.rows_in, result.rows_landed) == (2, 1)
    [reject] = result.rejects
    assert reject.line == 3 and reject.reason.startswith("generated_at ")
    assert ("in the future" if when > "2027" else "before Spotify existed") in reject.reason


def test_a_rank_too_large_to_store_is_rejected(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "recs.csv",
        "knn,2,r1,2024-04-08T00:00:00Z,u1,s1,1,t1,0.9",
        "knn,2,r1,2024-04-08T00:00:00Z,u1,s1,3000000000,t2,0.9",
    )
    result = read_recommendations(path)
    assert (result.rows_in, result.rows_landed) == (2, 1)
    assert result.rejects[0].reason == "rank '3000000000' is out of range"
