"""Landing: atomic files, a manifest row per load, idempotent re-loads, recovery after a crash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.lake.landing import SCHEMA_FILE, Lake
from ingest.lake.schemas import ENTITIES, lake_schema
from ingest.sources.catalog.reader import read_catalog
from ingest.sources.legacy_csv.reader import read_legacy_csv
from tests.support.helpers import FIXTURES, SAMPLE_CSV


def _data_files(lake: Lake, entity: str) -> list[Path]:
    return sorted(p for p in lake.entity_dir(entity).glob("*.parquet") if p.name != SCHEMA_FILE)


def test_a_load_writes_one_file_per_entity_and_a_manifest_row(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    report = lake.land(read_legacy_csv(FIXTURES / "legacy_bad_rows.csv", "u1"))
    assert (report.rows_in, report.rows_landed, report.rows_rejected) == (8, 3, 5)
    for entity in ("plays", "tracks", "audio_features", "rejects", "loads"):
        files = _data_files(lake, entity)
        assert [f.stem for f in files] == [report.load_id]
        table = pq.read_table(files[0])
        assert table.schema.equals(lake_schema(entity), check_metadata=False)
        assert set(table.column("load_id").to_pylist()) == {report.load_id}
    manifest = lake.manifest().to_pylist()
    assert len(manifest) == 1
    row = manifest[0]
    assert row["rows_in"] == row["rows_landed"] + row["rows_rejected"] == 8
    assert row["source_file"] == "legacy_bad_rows.csv"
    rejects = pq.read_table(_data_files(lake, "rejects")[0]).to_pylist()
    assert [r["source_line"] for r in rejects] == [4, 5, 6, 7, 8]
    # Every entity has its schema file, so readers see every column before data arrives.
    assert all((lake.entity_dir(e) / SCHEMA_FILE).exists() for e in ENTITIES)
    assert not list(lake.root.rglob("*.tmp"))


def test_the_same_input_twice_lands_nothing_new(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    first = lake.land(read_legacy_csv(SAMPLE_CSV, "u1"))
    second = lake.land(read_legacy_csv(SAMPLE_CSV, "u1"))
    assert not first.already_landed and second.already_landed
    assert second.load_id == first.load_id
    assert len(_data_files(lake, "plays")) == 1
    assert lake.manifest().num_rows == 1


def test_the_same_file_under_another_name_is_the_same_input(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    copy = tmp_path / "renamed.csv"
    shutil.copy(SAMPLE_CSV, copy)
    lake.land(read_legacy_csv(SAMPLE_CSV, "u1"))
    assert lake.land(read_legacy_csv(copy, "u1")).already_landed


def test_the_same_file_for_another_user_is_a_new_load(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.land(read_legacy_csv(SAMPLE_CSV, "u1"))
    assert not lake.land(read_legacy_csv(SAMPLE_CSV, "u2")).already_landed
    assert lake.manifest().num_rows == 2


def test_recovery_removes_uncommitted_files_and_temporaries(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    committed = lake.land(read_legacy_csv(SAMPLE_CSV, "u1"))
    # A crash after the data files but before the manifest row: an orphan and a temporary.
    orphan = lake.entity_dir("plays") / "20990101T000000000000-legacy-csv-deadbeef.parquet"
    shutil.copy(_data_files(lake, "plays")[0], orphan)
    temporary = lake.entity_dir("tracks") / ".half-written.parquet.tmp"
    temporary.write_bytes(b"PAR1")
    removed = lake.recover()
    assert sorted(removed) == sorted([orphan, temporary])
    assert [f.stem for f in _data_files(lake, "plays")] == [committed.load_id]


def test_a_second_lander_is_refused_while_one_holds_the_lock(tmp_path: Path) -> None:
    from spotiflow.errors import SpotiflowError

    lake = Lake(tmp_path / "lake")
    with lake.locked(), pytest.raises(SpotiflowError, match="another spotiflow process"):
        lake.land(read_catalog(FIXTURES / "legacy_bad_rows.csv"))
