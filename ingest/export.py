"""`spotiflow export`: every mart, as files other BI tools open.

parquet: one <mart>.parquet per mart; csv: one <mart>.csv per mart (header, UTF-8, ISO dates);
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

from ingest.engines import open_warehouse
from ingest.engines.reader import MARTS_SCHEMA, sql_literal
from ingest.errors import SpotiflowError
from ingest.settings import Settings

FORMATS = ("parquet", "csv", "hyper")
HYPER_FILE = "spotiflow.hyper"
HYPER_SCHEMA = "Extract"


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


def _copy_marts(settings: Settings, folder: Path, file_format: str) -> list[ExportedTable]:
    """Each mart written into <folder>/<mart>.<format> by DuckDB's COPY, whichever engine holds
    it (so every engine's export reads alike), and renamed into place."""
    options = "format parquet, compression zstd" if file_format == "parquet" else "header true"
    exported = []
    names = mart_names(settings)
    with open_warehouse(settings) as warehouse:
        for mart in names:
            target = folder / f"{mart}.{file_format}"
            temporary = folder / f".{mart}.{file_format}.tmp"
            rows = warehouse.copy_to(f"select * from {MARTS_SCHEMA}.{mart}", temporary, options)
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


def export_marts(settings: Settings, file_format: str, out_dir: Path) -> list[ExportedTable]:
    if file_format not in FORMATS:
        raise SpotiflowError(f"unknown export format {file_format!r}: {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if file_format == "hyper":
        return _write_hyper(settings, out_dir)
    return _copy_marts(settings, out_dir, file_format)
