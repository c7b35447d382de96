"""Comparing what two builds hold, table by table and row for row, whatever their engines."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spotiflow.settings import Settings
from spotiflow.warehouse.engines import open_warehouse

# The incremental models, by schema.
INCREMENTAL_INTERMEDIATE = ("int_plays_deduplicated", "int_recommendations_positioned",
                            "int_recommendation_lists_matched",
                            "int_track_days_aggregated",
                            "int_recommendation_lists_scored")  # fmt: skip
INCREMENTAL_MARTS = ("fct_plays", "fct_daily_listening", "fct_daily_track_plays",
                     "fct_weekly_listening", "fct_weekly_top_songs",
                     "fct_population_daily_listening", "fct_population_weekly_listening",
                     "fct_population_weekly_top_songs", "fct_recommendation_accuracy",
                     "fct_predicted_vs_actual", "fct_prediction_similarity")  # fmt: skip
INCREMENTAL_MODELS = frozenset(INCREMENTAL_INTERMEDIATE + INCREMENTAL_MARTS)


def tables(settings: Settings, schema: str, names: Iterable[str] | None = None) -> dict:
    """Every table of a schema (or the named ones), as Arrow."""
    with open_warehouse(settings) as warehouse:
        wanted = sorted(names) if names is not None else warehouse.tables(schema)
        return {name: warehouse.arrow(f"select * from {schema}.{name}") for name in wanted}


def snapshot(
    settings: Settings,
    marts: Iterable[str] | None = None,
    intermediate: Iterable[str] | None = INCREMENTAL_INTERMEDIATE,
) -> dict:
    """What a build left, to compare with another: the marts (all, or the named ones) and the
    intermediate tables (the incremental ones unless named; all with None)."""
    return {**tables(settings, "marts", marts), **tables(settings, "intermediate", intermediate)}


def _is_float(data_type: pa.DataType) -> bool:
    return pa.types.is_floating(data_type) or pa.types.is_decimal(data_type)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """One spelling across drivers: timestamps in microseconds without a zone, integers wide."""
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("us", tz=column.type.tz)).cast(pa.timestamp("us"))
    if pa.types.is_integer(column.type):
        return column.cast(pa.int64())
    if _is_float(column.type):
        return column.cast(pa.float64())
    return column


def _sorted(table: pa.Table, columns: list[str]) -> pa.Table:
    table = pa.table({name: _plain(table.column(name)) for name in columns})
    # The grain never lies in a float: order by everything else first, floats last.
    keys = [n for n in columns if not _is_float(table.column(n).type)] + [
        n for n in columns if _is_float(table.column(n).type)
    ]
    return table.sort_by([(name, "ascending") for name in keys])


def differences(left: dict, right: dict, tolerance: float = 0.0) -> dict[str, str]:
    """Per table that differs: why (missing, columns, row counts, or the first differing
    column). Floats agree within `tolerance`, relative or absolute."""
    found: dict[str, str] = {}
    for name in sorted(set(left) | set(right)):
        if name not in left or name not in right:
            found[name] = "only in " + ("left" if name in left else "right")
            continue
        one, two = left[name], right[name]
        if sorted(one.column_names) != sorted(two.column_names):
            found[name] = f"columns {one.column_names} vs {two.column_names}"
            continue
        if one.num_rows != two.num_rows:
            found[name] = f"{one.num_rows} rows vs {two.num_rows}"
            continue
        if not one.num_rows:
            continue
        one, two = _sorted(one, one.column_names), _sorted(two, one.column_names)
        for column in one.column_names:
            a, b = one.column(column), two.column(column)
            if _is_float(a.type) and _is_float(b.type):
                same = np.isclose(
                    a.to_numpy(zero_copy_only=False).astype(float),
                    b.to_numpy(zero_copy_only=False).astype(float),
                    rtol=tolerance, atol=tolerance, equal_nan=True,
                )  # fmt: skip
                nulls_agree = pc.all(pc.equal(pc.is_null(a), pc.is_null(b))).as_py()
                if not (same.all() and nulls_agree):
                    first = int(np.argmin(same))
                    found[name] = f"{column}: {a[first]} vs {b[first]} (and maybe more)"
                    break
            elif a.to_pylist() != b.to_pylist():
                pairs = zip(a.to_pylist(), b.to_pylist(), strict=True)
                first = next(i for i, (x, y) in enumerate(pairs) if x != y)
                found[name] = f"{column}: {a[first]} vs {b[first]} (and maybe more)"
                break
    return found
