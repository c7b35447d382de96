"""SpotiFlow dashboard: `spotiflow dashboard` runs it (Streamlit, 127.0.0.1).

Reads the marts of the warehouse in SPOTIFLOW_DATA_DIR; each figure is a mart's value.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from spotiflow.serve.dashboard.marts import Marts, WarehouseNotReady
from spotiflow.serve.dashboard.views import diagnostics_page, listening_page
from spotiflow.settings import Settings
from spotiflow.warehouse.engines import built_at

PAGES = {"Listening": listening_page, "Model diagnostics": diagnostics_page}


@st.cache_data(ttl=300, show_spinner=False)
def _cached_query(
    _marts: Marts, engine: str, built_at: float, sql: str, params: tuple
) -> pd.DataFrame:
    # The engine and when it was last built are the key: a new build is read at once.
    del engine, built_at
    return Marts.query(_marts, sql, list(params))


class CachedMarts(Marts):
    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        stamp = built_at(self.settings)
        if stamp is None:
            return super().query(sql, params)
        return _cached_query(self, self.settings.engine, stamp, sql, tuple(params or []))


def main() -> None:
    st.set_page_config(page_title="SpotiFlow", page_icon="🎧", layout="wide")
    marts = CachedMarts.from_settings(Settings.from_env())
    page = st.sidebar.radio("Page", list(PAGES), key="page")
    status = marts.build_status()
    if status:
        st.sidebar.caption(status[0])
    for warning in status[1:]:
        st.sidebar.warning(warning)
    try:
        missing = marts.missing_marts()
        if missing:
            raise WarehouseNotReady(
                "The warehouse lacks "
                + ", ".join(f"marts.{name}" for name in missing)
                + ": run `spotiflow build` first."
            )
        PAGES[page](marts)
    except WarehouseNotReady as reason:
        st.title("SpotiFlow")
        st.info(str(reason))
    except Exception as error:  # the last guard: a message, never a traceback
        st.error(f"The dashboard could not show this page: {type(error).__name__}.")
        st.text(str(error))  # as text: the message may quote a name from the marts


main()
