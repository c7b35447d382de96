"""The floor for landing an export: `python -m bench.raw_json_landing JSONL_DIR OUT_DIR`.

pyarrow's JSON reader (one record per line: the same records as the export's arrays) and a
zstd Parquet write per file: no validation, no derived columns, no ids.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.json as pj
import pyarrow.parquet as pq


def main(source: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.jsonl")):
        pq.write_table(pj.read_json(path), out_dir / f"{path.stem}.parquet", compression="zstd")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
