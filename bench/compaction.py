"""What compaction is worth: a lake of many small loads, as hourly API polls leave it, built by
DuckDB before and after `spotiflow compact`, and one more landing on each.

    python -m bench.compaction [--loads 1000] [--repeat 1]

Part of `make bench` (bench/run.py); on its own it prints its rows. A generated population's plays
are landed in `--loads` loads of about PLAYS_PER_LOAD plays, in time order (an hourly poll
lands a listener's last hour); the catalog, lists, time zones and experiment as one load each.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.measure import Measurement, run_measured
from bench.run import (
    BIN,
    COMPACTION,
    DAYS,
    PLAYS_PER_LISTENER,
    PROJECT_DIR,
    WORK_DIR,
    Row,
    bench_env,
    table,
)
from ingest.identity import stable_hash
from ingest.lake.landing import Lake, LoadReport
from ingest.lake.records import ReadResult
from ingest.lake.schemas import ENTITIES
from spotiflow.settings import SAMPLES_DIR
from spotiflow.simulate.params import GeneratorParams
from spotiflow.simulate.run import generate

PLAYS_PER_LOAD = 100
LOADS = 1_000
# One more landing: the bundled sample for a new listener each time (1,350 plays).
POLL = SAMPLES_DIR / "listening_history.csv"


class _PollLake(Lake):
    """A fresh lake landing each generated batch's plays as `loads` loads in time order.

    Nothing to recover in a fresh lake, and nothing landed twice: skipping those two reads keeps
    preparing it linear (each reads every manifest file so far, the very cost compaction
    removes, which the landing rows measure)."""

    def __init__(self, root: Path, loads: int) -> None:
        super().__init__(root)
        self.loads = loads

    def recover(self) -> list[Path]:
        return []

    def find_load(self, load_key: str) -> str | None:
        return None

    def land(self, result: ReadResult) -> LoadReport:
        plays = result.tables.get("plays")
        if plays is None or not plays.num_rows:
            return super().land(result)
        others = {name: rows for name, rows in result.tables.items() if name != "plays"}
        report = super().land(
            replace(result, tables=others, rows_in=result.rows_in - plays.num_rows)
        )
        plays = plays.sort_by("played_at")
        bounds = np.linspace(0, plays.num_rows, self.loads + 1).astype(int)
        for number, (start, end) in enumerate(itertools.pairwise(bounds)):
            part = plays.slice(start, end - start)
            super().land(
                ReadResult(
                    kind=result.kind,
                    path=result.path.with_name(f"{result.path.name}-poll{number:05d}"),
                    rows_in=part.num_rows,
                    tables={"plays": part},
                    options=result.options,
                    checksum=stable_hash(result.checksum, number, length=64),
                )
            )
        return report


def prepare(loads: int) -> Path:
    """A data dir whose lake holds a population's plays in `loads` loads (kept for reruns)."""
    data_dir = WORK_DIR / f"{COMPACTION}-{loads}-loads"
    if (data_dir / "lake" / "loads").exists():
        return data_dir
    users = max(1, round(loads * PLAYS_PER_LOAD / PLAYS_PER_LISTENER))
    params = GeneratorParams.create(users, DAYS, 1)
    batches = len(params.batches())
    generate(_PollLake(data_dir / "lake", -(-loads // batches)), params, lambda *_: None)
    Lake(data_dir / "lake").ensure_layout()
    return data_dir


def _files(data_dir: Path) -> tuple[int, int]:
    """Files readers read: plays', and the lake's in all."""
    lake = Lake(data_dir / "lake").files()
    every = [len(lake.entity(entity).files) for entity in ENTITIES]
    return len(lake.entity("plays").files), sum(every)


def _row(plays: int, step: str, runs: list[Measurement]) -> Row:
    return Row(
        plays,
        step,
        statistics.median(run.seconds for run in runs),
        max(run.peak_rss_bytes for run in runs) / 1024**2,
        len(runs),
    )


def _copy(source: Path, name: str) -> Path:
    """The lake again, by hard links (compaction only adds and removes files)."""
    target = WORK_DIR / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source / "lake", target / "lake", copy_function=os.link)
    return target


def bench_compaction(loads: int, repeat: int) -> list[Row]:
    source = prepare(loads)
    plays = Lake(source / "lake").committed("plays").read(["load_id"]).num_rows
    spotiflow = str(BIN / "spotiflow")
    rows = []
    for label in ("before", "after"):
        data_dir = _copy(source, f"{COMPACTION}-{label}")
        env = bench_env(data_dir)
        if label == "after":
            plays_files, all_files = _files(data_dir)
            compacted = run_measured([spotiflow, "compact"], env, PROJECT_DIR)
            after = _files(data_dir)
            step = (
                f"{COMPACTION}: spotiflow compact of {loads:,} loads (files read: plays "
                f"{plays_files:,} -> {after[0]:,}, the lake {all_files:,} -> {after[1]:,})"
            )
            rows.append(_row(plays, step, [compacted]))
        plays_files, all_files = _files(data_dir)
        where = f"{COMPACTION} {label}: {loads:,} loads, plays in {plays_files:,} file(s)"
        builds = [
            run_measured([spotiflow, "build", "--full-refresh"], env, PROJECT_DIR)
            for _ in range(repeat)
        ]
        rows.append(_row(plays, f"{where}, the lake {all_files:,}: spotiflow build --full-refresh",
                         builds))  # fmt: skip
        # One more load each time (a new listener): what every hourly poll pays.
        landings = [
            run_measured(
                [spotiflow, "ingest", "legacy-csv", str(POLL), "--user", f"{label}-{number}"],
                env,
                PROJECT_DIR,
            )
            for number in range(repeat)
        ]
        rows.append(_row(plays, f"{where}: spotiflow ingest of one more load", landings))
        shutil.rmtree(data_dir)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.compaction", description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=LOADS, help="small loads landed (1000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per timed step (1)")
    args = parser.parse_args(argv)
    print(table(bench_compaction(args.loads, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
