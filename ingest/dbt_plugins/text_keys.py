"""`spotiflow_normalised_text(text)` for DuckDB: Unicode NFKC, case-folded, whitespace collapsed.

DuckDB has NFC (`nfc_normalize`) and `lower`, but not NFKC or case folding: full-width letters,
ligatures and no-break spaces would keep two spellings of one name apart. The rule itself is
macros/utils/normalised_text.sql's; this is its DuckDB body (dbt-duckdb's plugin mechanism,
named in profiles.yml). Models call it only over distinct names, in tables.
"""

from __future__ import annotations

import unicodedata

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

FUNCTION_NAME = "spotiflow_normalised_text"


def normalised_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        conn.create_function(FUNCTION_NAME, normalised_text, ["VARCHAR"], "VARCHAR")
