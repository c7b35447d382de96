"""Comparing what two builds hold, table by table and row for row, whatever their engines."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ingest.engines import open_warehouse
from ingest.settings import Settings

Rows = tuple[list[str], list[tuple]]


def tables(settings: Settings, schema: str, names: Iterable[str] | None = None) -> dict[str, Rows]:
    """Every table of a schema (or the named ones): column names and rows."""
    with open_warehouse(settings) as warehouse:
        wanted = sorted(names) if names is not None else warehouse.tables(schema)
        return {name: warehouse.execute(f"select * from {schema}.{name}") for name in wanted}


def _is_float(value: Any) -> bool:
    return isinstance(value, float | Decimal)


def _plain(value: Any) -> Any:
    """One spelling per value across drivers: timestamps without a zone, floats as floats."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def _sort_key(row: tuple) -> tuple:
    # The grain never lies in a float: order by everything else, floats (rounded) last.
    exact = tuple((value is None, str(value)) for value in row if not _is_float(value))
    rounded = tuple(
        (value is None, round(float(value), 6) if _is_float(value) else 0) for value in row
    )
    return exact + rounded


def _same(left: Any, right: Any, tolerance: float) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if _is_float(left) or _is_float(right):
        left, right = float(left), float(right)
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(left, date) and isinstance(right, date):
        return left == right
    return left == right


def differences(left: dict[str, Rows], right: dict[str, Rows], tolerance: float = 0.0) -> dict:
    """Per table that differs: why (missing, columns, row counts, or the first differing
    cells). Floats agree within `tolerance`, relative or absolute."""
    found: dict[str, str] = {}
    for name in sorted(set(left) | set(right)):
        if name not in left or name not in right:
            found[name] = "only in " + ("left" if name in left else "right")
            continue
        (left_columns, left_rows), (right_columns, right_rows) = left[name], right[name]
        if sorted(left_columns) != sorted(right_columns):
            found[name] = f"columns {left_columns} vs {right_columns}"
            continue
        order = [right_columns.index(column) for column in left_columns]
        right_rows = [tuple(row[i] for i in order) for row in right_rows]
        if len(left_rows) != len(right_rows):
            found[name] = f"{len(left_rows)} rows vs {len(right_rows)}"
            continue
        one = sorted((tuple(map(_plain, row)) for row in left_rows), key=_sort_key)
        two = sorted((tuple(map(_plain, row)) for row in right_rows), key=_sort_key)
        cells = [
            f"{left_columns[i]}: {a!r} vs {b!r}"
            for row_one, row_two in zip(one, two, strict=True)
            for i, (a, b) in enumerate(zip(row_one, row_two, strict=True))
            if not _same(a, b, tolerance)
        ]
        if cells:
            found[name] = f"{len(cells)} cells differ, e.g. " + "; ".join(cells[:3])
    return found
