"""Run bench/hand_written.sql on a lake: `python -m bench.duckdb_marts DATA_DIR OUT_DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

SCRIPT = Path(__file__).with_name("hand_written.sql")


def main(data_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    sql = SCRIPT.read_text(encoding="utf-8").format(lake=data_dir / "lake", out=out_dir)
    with duckdb.connect(config={"threads": "2", "preserve_insertion_order": "false"}) as db:
        db.execute(sql)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
