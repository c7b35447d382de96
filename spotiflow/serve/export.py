"""`spotiflow export`: every mart, as files other BI tools open.

parquet: one <mart>.parquet per mart; csv: one <mart>.csv per mart (header, UTF-8, ISO dates;
a text cell a spreadsheet would evaluate as a formula starts with ' unless raw);
hyper: one spotiflow.hyper, a Tableau extract with every mart as a table in the "Extract" schema
(where Tableau looks). Files are written under temporary names and renamed, so a reader never
sees half a file; the export reads the marts only, never the lake.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings
from spotiflow.warehouse.engines import open_warehouse
from spotiflow.warehouse.engines.reader import MARTS_SCHEMA, sql_literal

FORMATS = ("parquet", "csv", "hyper")
HYPER_FILE = "spotiflow.hyper"
HYPER_SCHEMA = "Extract"
# OWASP's CSV injection: a spreadsheet evaluates a cell starting with = + - @ (or a tab or a
# carriage return) as a formula, and track, artist and model names come from third parties.
FORMULA_START = r"^[=+\-@\t\r]"


@dataclass(frozen=True)
class ExportedTable:
    mart: str
    rows: int
    path: Path


def mart_names(settings: Settings) -> list[str]:
    with open_warehouse(settings) as connection:
        names = connection.tables(MARTS_SCHEMA)
    if not names:
        raise SpotiflowError("the warehouse has no marts: run `spotiflow build` first")
    return names


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_text(data_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def _formula_safe(column: str) -> str:
    """DuckDB: the text with a single quote before it when it would start a formula."""
    starts_formula = f"regexp_matches({column}, {sql_literal(FORMULA_START)})"
    return f"case when {starts_formula} then '''' || {column} else {column} end"


def formula_safe_columns(schema: pa.Schema) -> str:
    """The select list COPY reads for CSV: every text column formula-safe, as OWASP advises
    (the spreadsheet then shows the text); numbers, dates and the rest as they are (a
    negative number is a number, not a formula)."""
    columns = []
    for field in schema:
        column = _identifier(field.name)
        columns.append(f"{_formula_safe(column)} as {column}" if _is_text(field.type) else column)
    return ", ".join(columns)


def _copy_marts(
    settings: Settings, folder: Path, file_format: str, raw: bool = False
) -> list[ExportedTable]:
    """Each mart written into <folder>/<mart>.<format> by DuckDB's COPY, whichever engine holds
    it (so every engine's export reads alike), and renamed into place. CSV text cells are
    formula-safe unless `raw`; Parquet keeps every value as it is (typed, never evaluated)."""
    options = "format parquet, compression zstd" if file_format == "parquet" else "header true"
    select = formula_safe_columns if file_format == "csv" and not raw else None
    exported = []
    names = mart_names(settings)
    with open_warehouse(settings) as warehouse:
        for mart in names:
            target = folder / f"{mart}.{file_format}"
            temporary = folder / f".{mart}.{file_format}.tmp"
            rows = warehouse.copy_to(
                f"select * from {MARTS_SCHEMA}.{mart}", temporary, options, select
            )
            os.replace(temporary, target)
            exported.append(ExportedTable(mart, rows, target))
    return exported


def _write_hyper(settings: Settings, folder: Path) -> list[ExportedTable]:
    """A Tableau extract: the marts go through Parquet, which Hyper reads with their types."""
    from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

    target = folder / HYPER_FILE
    with tempfile.TemporaryDirectory(prefix="spotiflow-hyper-") as scratch:
        staged = _copy_marts(settings, Path(scratch), "parquet")
        temporary = Path(scratch) / HYPER_FILE
        parameters = {"log_dir": scratch}
        with (
            HyperProcess(
                Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=parameters
            ) as hyper,
            Connection(hyper.endpoint, str(temporary), CreateMode.CREATE_AND_REPLACE) as hyper_db,
        ):
            hyper_db.execute_command(f'create schema "{HYPER_SCHEMA}"')
            for table in staged:
                hyper_db.execute_command(
                    f'create table "{HYPER_SCHEMA}"."{table.mart}" as '
                    f"(select * from external({sql_literal(str(table.path))}))"
                )
        shutil.move(str(temporary), folder / f".{HYPER_FILE}.tmp")
        os.replace(folder / f".{HYPER_FILE}.tmp", target)
    return [ExportedTable(table.mart, table.rows, target) for table in staged]


def export_marts(
    settings: Settings, file_format: str, out_dir: Path, raw: bool = False
) -> list[ExportedTable]:
    """Every mart into `out_dir`; `raw` writes CSV text cells as they are, formulas and all."""
    if file_format not in FORMATS:
        raise SpotiflowError(f"unknown export format {file_format!r}: {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if file_format == "hyper":
        return _write_hyper(settings, out_dir)
    return _copy_marts(settings, out_dir, file_format, raw)
