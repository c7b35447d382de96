"""One lake built on each engine, and Spark with 1 and 2 cores: per-core throughput for
docs/SCALE.md.

    python -m bench.engines [--plays 1000000] [--engines duckdb,spark,postgres]

Each build is `dbt run --full-refresh` (the models only: tests cost per node, not per row) in a
process of its own, so each Spark run starts its own JVM; the table reports the wall time, the
plays built per second, and per core. PostgreSQL runs only when PGHOST is set (its server's own
cores are not counted: it shares this machine).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.measure import run_measured
from bench.run import BIN, PROJECT_DIR, WORK_DIR, bench_env, generate
from ingest.lake.landing import Lake


def _plays(data_dir: Path) -> int:
    import pyarrow.parquet as pq

    lake = Lake(data_dir / "lake")
    return sum(pq.read_metadata(path).num_rows for path in lake.committed_files("plays"))


def runs(engines: list[str]) -> list[tuple[str, str, int, dict[str, str]]]:
    """(engine, label, cores, environment) of each build."""
    planned = []
    if "duckdb" in engines:
        planned.append(("duckdb", "DuckDB, 2 threads", 2, {"SPOTIFLOW_DUCKDB_THREADS": "2"}))
        one = {"SPOTIFLOW_DUCKDB_THREADS": "1", "SPOTIFLOW_DBT_THREADS": "1"}
        planned.append(("duckdb", "DuckDB, 1 thread", 1, one))
    if "spark" in engines:
        for cores in (1, 2):
            planned.append(("spark", f"Spark local[{cores}]", cores,
                            {"SPOTIFLOW_SPARK_MASTER": f"local[{cores}]"}))  # fmt: skip
    if "postgres" in engines and os.environ.get("PGHOST"):
        planned.append(("postgres", "PostgreSQL (same machine)", 2, {}))
    return planned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.engines", description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--engines", default="duckdb,spark,postgres")
    args = parser.parse_args(argv)
    data_dir = WORK_DIR / f"engines-{args.plays}"
    generate(data_dir, args.plays)
    Lake(data_dir / "lake").ensure_layout()
    plays = _plays(data_dir)
    print(f"bench.engines: {plays:,} plays in {data_dir}", flush=True)
    if "postgres" in args.engines.split(",") and os.environ.get("PGHOST"):
        from spotiflow.settings import Settings
        from spotiflow.warehouse.engines.postgres import publish_lake

        settings = Settings.from_env(bench_env(data_dir, SPOTIFLOW_ENGINE="postgres"))
        publish_lake(settings, Lake(data_dir / "lake"))
    lines = [
        "| build (dbt run --full-refresh) | cores | seconds | peak RSS MB | plays/s "
        "| plays/s per core |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, label, cores, extra in runs(args.engines.split(",")):
        environment = bench_env(data_dir, **extra)
        run_measured([str(BIN / "dbt"), "seed", "--target", engine, "--quiet"],
                     environment, PROJECT_DIR)  # fmt: skip
        built = run_measured(
            [str(BIN / "dbt"), "run", "--full-refresh", "--target", engine, "--quiet"],
            environment, PROJECT_DIR,
        )  # fmt: skip
        rate = plays / built.seconds
        lines.append(
            f"| {label} | {cores} | {built.seconds:.1f} | {built.peak_rss_bytes / 1024**2:,.0f} "
            f"| {rate:,.0f} | {rate / cores:,.0f} |"
        )
        print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
