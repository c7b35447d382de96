"""Land what the next refresh of a generated population would bring, for incremental builds.

    python -m spotiflow.simulate.append_day DATA_DIR [--hour] [--late] [--duplicates]

- one more day of plays: the population's last day again, a day later (new play ids);
- with --hour, one more hour instead (the hourly refresh): the plays of the population's last
  hour again, an hour later;
- with --late, late arrivals: a tenth of the plays of a day two weeks back, replayed an hour
  later (plays an export delivers days after they happened);
- with --duplicates, the same listens from a better source: an extended-history export that
  holds a twentieth of the last three weeks' plays, 20 s after the generated ones, which makes
  those plays duplicates of the export's (the earliest of them lies before every new play).

Each part is one load, landed through the lake like any source.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ingest.lake.landing import Lake
from ingest.lake.records import ReadResult
from ingest.lake.schemas import ENTITIES

PLAY_COLUMNS = ENTITIES["plays"].names


def _plays(lake: Lake) -> pa.Table:
    return lake.committed("plays").read(PLAY_COLUMNS)


def _moved(plays: pa.Table, shift: timedelta, tag: str) -> pa.Table:
    """The plays again, `shift` later, as new plays (ids derived from the old ones)."""
    moved = plays.set_column(
        plays.schema.get_field_index("played_at"),
        "played_at",
        pc.add(plays["played_at"], pa.scalar(shift, type=pa.duration("us"))),
    )
    return moved.set_column(
        moved.schema.get_field_index("play_id"),
        "play_id",
        pc.binary_join_element_wise(plays["play_id"], pa.scalar(tag), "+"),
    ).cast(ENTITIES["plays"])


def _every(plays: pa.Table, nth: int) -> pa.Table:
    return plays.take(pa.array(range(0, plays.num_rows, nth), type=pa.int64()))


def _day(plays: pa.Table, day_start) -> pa.Table:
    return plays.filter(
        pc.and_(
            pc.greater_equal(plays["played_at"], pa.scalar(day_start, type=pa.timestamp("us"))),
            pc.less(
                plays["played_at"],
                pa.scalar(day_start + timedelta(days=1), type=pa.timestamp("us")),
            ),
        )
    )


def _land(lake: Lake, data_dir: Path, kind: str, name: str, plays: pa.Table) -> int:
    result = ReadResult(
        kind=kind,
        path=data_dir / name,
        rows_in=plays.num_rows,
        tables={"plays": plays},
        checksum=f"{name}-{plays.num_rows}-{pc.min(plays['played_at']).as_py()}",
    )
    return lake.land(result).rows_landed


def _since(plays: pa.Table, start) -> pa.Table:
    return plays.filter(pc.greater(plays["played_at"], pa.scalar(start, type=pa.timestamp("us"))))


def append(
    data_dir: Path, *, hour: bool = False, late: bool = False, duplicates: bool = False
) -> dict[str, int]:
    """Land the next refresh's loads; returns the rows landed per part."""
    lake = Lake(data_dir / "lake")
    plays = _plays(lake)
    latest = pc.max(plays["played_at"]).as_py()
    last_day = latest.replace(hour=0, minute=0, second=0, microsecond=0)
    if hour:
        last_hour = _since(plays, latest - timedelta(hours=1))
        landed = {
            "next hour": _land(
                lake,
                data_dir,
                "generated",
                "next-hour",
                _moved(last_hour, timedelta(hours=1), "next-hour"),
            )
        }
    else:
        landed = {
            "next day": _land(
                lake,
                data_dir,
                "generated",
                "next-day",
                _moved(_day(plays, last_day), timedelta(days=1), "next-day"),
            )
        }
    if late:
        late_plays = _every(_day(plays, last_day - timedelta(days=14)), 10)
        late_plays = _moved(late_plays, timedelta(hours=1), "late")
        landed["late plays"] = _land(lake, data_dir, "generated", "late-plays", late_plays)
    if duplicates:
        recent = plays.filter(
            pc.greater_equal(
                plays["played_at"],
                pa.scalar(last_day - timedelta(days=21), type=pa.timestamp("us")),
            )
        )
        export = _moved(_every(recent, 20), timedelta(seconds=20), "export")
        landed["export duplicates"] = _land(lake, data_dir, "spotify-export", "export", export)
    return landed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="append_day", description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--hour", action="store_true", help="one more hour, not a day")
    parser.add_argument("--late", action="store_true")
    parser.add_argument("--duplicates", action="store_true")
    args = parser.parse_args(argv)
    for part, rows in append(
        args.data_dir, hour=args.hour, late=args.late, duplicates=args.duplicates
    ).items():
        print(f"append_day: {part}: {rows:,} plays landed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
