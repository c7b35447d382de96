"""`spotiflow export`: every mart as Parquet, CSV or a Tableau extract, equal to the marts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest.cli import main
from ingest.export import HYPER_FILE, HYPER_SCHEMA, mart_names
from ingest.settings import Settings
from ingest.warehouse import connect
from tests.helpers import query


@pytest.fixture(scope="module")
def marts(demo_settings: Settings) -> dict[str, int]:
    names = mart_names(demo_settings)
    return {
        name: query(demo_settings, f"select count(*) from marts.{name}")[0][0] for name in names
    }


def _export(settings: Settings, file_format: str, out: Path, monkeypatch) -> None:
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(settings.data_dir))
    assert main(["export", "--format", file_format, "--out", str(out)]) == 0


def test_parquet_export_equals_every_mart(
    demo_settings: Settings, marts: dict[str, int], tmp_path: Path, monkeypatch
) -> None:
    _export(demo_settings, "parquet", tmp_path, monkeypatch)
    assert sorted(p.stem for p in tmp_path.glob("*.parquet")) == sorted(marts)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    with connect(demo_settings) as warehouse:
        for mart in marts:
            exported = f"read_parquet('{tmp_path / (mart + '.parquet')}')"
            for left, right in ((f"marts.{mart}", exported), (exported, f"marts.{mart}")):
                [(different,)] = warehouse.execute(
                    f"select count(*) from (select * from {left} except all select * from {right})"
                ).fetchall()
                assert different == 0, mart


def test_csv_export_has_every_row_and_column(
    demo_settings: Settings, marts: dict[str, int], tmp_path: Path, monkeypatch
) -> None:
    _export(demo_settings, "csv", tmp_path, monkeypatch)
    for mart, rows in marts.items():
        with (tmp_path / f"{mart}.csv").open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            assert sum(1 for _ in reader) == rows, mart
        columns = query(
            demo_settings,
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = ? order by ordinal_position",
            [mart],
        )
        assert header == [name for (name,) in columns]


def test_hyper_export_holds_every_mart_as_a_table(
    demo_settings: Settings, marts: dict[str, int], tmp_path: Path, monkeypatch
) -> None:
    from tableauhyperapi import Connection, HyperProcess, SqlType, TableName, Telemetry

    _export(demo_settings, "hyper", tmp_path, monkeypatch)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".log")] == [HYPER_FILE]
    [(plays, minutes)] = query(
        demo_settings, "select sum(plays), sum(minutes_listened) from marts.fct_daily_listening"
    )
    logs = {"log_dir": str(tmp_path)}
    with (
        HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=logs) as hyper,
        Connection(hyper.endpoint, str(tmp_path / HYPER_FILE)) as extract,
    ):
        tables = {
            name.name.unescaped: name for name in extract.catalog.get_table_names(HYPER_SCHEMA)
        }
        assert sorted(tables) == sorted(marts)
        for mart, rows in marts.items():
            assert extract.execute_scalar_query(f"select count(*) from {tables[mart]}") == rows
        daily = TableName(HYPER_SCHEMA, "fct_daily_listening")
        totals = extract.execute_list_query(
            f"select sum(plays), sum(minutes_listened) from {daily}"
        )[0]
        assert totals[0] == plays and totals[1] == pytest.approx(minutes, rel=1e-12)
        definition = extract.catalog.get_table_definition(daily)
        types = {column.name.unescaped: column.type for column in definition.columns}
        assert types["listen_date"] == SqlType.date()
        assert types["plays"] == SqlType.big_int()
        assert types["minutes_listened"] == SqlType.double()
        assert types["listening_vibe"] == SqlType.text()


def test_export_without_a_warehouse_says_what_to_do(settings: Settings, capsys) -> None:
    assert main(["export", "--format", "csv"]) != 0
    assert "run `spotiflow build` first" in capsys.readouterr().err


def test_the_exports_exposure_reads_every_mart(demo_settings: Settings) -> None:
    import json

    from tests.helpers import PROJECT_DIR

    manifest = json.loads((PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    marts = {
        node_id
        for node_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/marts/")
    }
    exposure = manifest["exposures"]["exposure.spotiflow.bi_exports"]
    assert set(exposure["depends_on"]["nodes"]) == marts
