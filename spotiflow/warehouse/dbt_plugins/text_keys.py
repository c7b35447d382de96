"""`spotiflow_normalised_text(text)` for DuckDB: Unicode NFKC, case-folded, whitespace collapsed.

DuckDB has NFC (`nfc_normalize`) and `lower`, but not NFKC or case folding: full-width letters,
ligatures and no-break spaces would keep two spellings of one name apart. The rule itself is
macros/utils/normalised_text.sql's; this is its DuckDB body (dbt-duckdb's plugin mechanism,
named in profiles.yml). Models call it only over distinct names, in tables.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from ingest.identity import normalised_text

FUNCTION_NAME = "spotiflow_normalised_text"


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        conn.create_function(FUNCTION_NAME, normalised_text, ["VARCHAR"], "VARCHAR")
