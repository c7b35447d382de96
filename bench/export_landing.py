"""An extended-history export of a given size for the landing benchmark, and its NDJSON twin."""

from __future__ import annotations

import json
from pathlib import Path

from spotiflow.simulate.extended_export import FOLDER, write_extended_export


def prepare(work_dir: Path, records: int) -> tuple[Path, Path, int]:
    """(export folder, folder of the same records one per line, files), written once."""
    export = work_dir / f"export-{records}"
    lines = work_dir / f"export-{records}-jsonl"
    if not (lines / "complete").exists():
        write_extended_export(export, records)
        lines.mkdir(parents=True, exist_ok=True)
        for path in sorted((export / FOLDER).glob("*.json")):
            records_of_file = json.loads(path.read_text(encoding="utf-8"))
            with (lines / f"{path.stem}.jsonl").open("w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(record) + "\n" for record in records_of_file)
        (lines / "complete").touch()
    return export, lines, len(list((export / FOLDER).glob("*.json")))
