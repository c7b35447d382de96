"""`make bench`: generate populations, build them, and print (and keep in BENCHMARKS.md) a table.

    python -m bench.run [--sizes 1000000,10000000] [--repeat 3] [--population 100000000]

Every row states its data size; timed steps run `--repeat` times and report the median wall
time and the largest peak memory (RSS of the whole process tree). The large population is built
once. Each part's rows are kept in bench/rows.json as it ends, with when and where it ran (the
file is committed beside BENCHMARKS.md, which it makes); `--reuse` takes the parts found there
instead of running them again (after a part failed, say), and `--report` writes the report from
them alone. A report says which parts ran on another day than the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.export_landing import prepare
from bench.measure import Measurement, run_measured
from bench.refresh import BUILD_AFTER, BUILD_FULL, bench_refresh
from ingest.lake.landing import Lake
from spotiflow.simulate.append_day import append

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_DIR / "bench" / ".work"
NOTES = PROJECT_DIR / "bench" / "NOTES.md"
BIN = Path(sys.executable).parent
DAYS = 56
# The generator's listeners play about this many times in DAYS days (measured on seed 1).
PLAYS_PER_LISTENER = 660
PANDAS = "pandas script, 3 marts (bench/pandas_marts.py)"
HAND_SQL = "hand-written DuckDB SQL, 3 marts (bench/hand_written.sql)"
INCREMENTAL = "dbt run, incremental, after one more day landed"
THREE_MARTS = ("+fct_daily_listening", "+fct_weekly_top_songs", "+fct_predicted_vs_actual")
SAME_MARTS = "dbt run --full-refresh, the same 3 marts and their parents"
EXPORT_ROWS = 1_000_000
LANDING = "spotiflow ingest spotify-export (extended history"
RAW_JSON = "pyarrow raw JSON read + Parquet write, same records (bench/raw_json_landing.py)"
# Rows of bench/compaction.py start so: a lake of many small loads, before and after compaction.
COMPACTION = "compaction"
COMPACTION_LOADS = 1_000
# The population built under a memory limit: about 150 k listeners of DAYS days.
POPULATION = 100_000_000
POPULATION_MEMORY_LIMIT = "8GB"
POPULATION_BUILD = f"dbt build --full-refresh, DuckDB memory limit {POPULATION_MEMORY_LIMIT}"
MAX_PEAK_MIB = 8 * 1024
# What the population's build leaves free on the disk it spills to.
DISK_KEPT_FREE_GB = 10
ROWS_FILE = PROJECT_DIR / "bench" / "rows.json"
AFTER_ONE_DAY = BUILD_AFTER.split("{")[0] + "day"


@dataclass(frozen=True)
class Row:
    plays: int
    step: str
    seconds: float
    peak_rss_mb: float
    runs: int
    # For dbt steps: the slowest nodes of the last run (name, seconds), from run_results.json.
    slowest: tuple[tuple[str, float], ...] = ()
    # For spotiflow builds: their time by step (name, median seconds), as the build reports it.
    phases: tuple[tuple[str, float], ...] = ()


def slowest_nodes(count: int = 8) -> tuple[tuple[str, float], ...]:
    """The slowest models and tests of the last dbt invocation."""
    results = json.loads((PROJECT_DIR / "target" / "run_results.json").read_text())["results"]
    timed = sorted(
        ((node_name(r["unique_id"]), r["execution_time"]) for r in results),
        key=lambda node: -node[1],
    )
    return tuple(timed[:count])


def node_name(unique_id: str) -> str:
    """A node's name: model.spotiflow.<name>, test.spotiflow.<name>.<hash>, seed..."""
    return unique_id.split(".")[2]


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )  # fmt: skip
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024**2:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def bench_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SPOTIFLOW_DATA_DIR": str(data_dir),
        "SPOTIFLOW_PROJECT_DIR": str(PROJECT_DIR),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "GX_ANALYTICS_ENABLED": "False",
        # For Spark targets (as spotiflow sets them for its own dbt calls).
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPOTIFLOW_SPARK_LOG_CONFIG": str(
            PROJECT_DIR / "spotiflow/warehouse/engines/log4j2-spark.properties"
        ),
        **extra,
    }


def generate(data_dir: Path, plays: int) -> Measurement | None:
    """A population of about `plays` plays in `data_dir`, unless its lake is there already."""
    if (data_dir / "lake" / "loads").exists():
        return None
    users = max(1, round(plays / PLAYS_PER_LISTENER))
    return run_measured(
        [str(BIN / "spotiflow"), "generate", "--users", str(users), "--days", str(DAYS),
         "--seed", "1"],
        bench_env(data_dir),
        PROJECT_DIR,
    )  # fmt: skip


def _repeat(command: list[str], data_dir: Path, times: int) -> tuple[float, float, int]:
    runs: list[Measurement] = [
        run_measured(command, bench_env(data_dir), PROJECT_DIR) for _ in range(times)
    ]
    return (
        statistics.median(run.seconds for run in runs),
        max(run.peak_rss_bytes for run in runs) / 1024**2,
        len(runs),
    )


def bench_size(plays: int, repeat: int) -> list[Row]:
    data_dir = WORK_DIR / f"plays-{plays}"
    rows = []
    generated = generate(data_dir, plays)
    if generated is not None:
        rows.append(
            Row(
                plays,
                "spotiflow generate",
                generated.seconds,
                generated.peak_rss_bytes / 1024**2,
                1,
            )
        )
    # The lake's schema files, as `spotiflow build` would refresh them.
    Lake(data_dir / "lake").ensure_layout()
    dbt = [str(BIN / "dbt")]
    python = [sys.executable, "-m"]
    out = data_dir / "alternatives"
    for step, command in (
        (PANDAS, [*python, "bench.pandas_marts", str(data_dir), str(out / "pandas")]),
        (HAND_SQL, [*python, "bench.duckdb_marts", str(data_dir), str(out / "duckdb")]),
        ("dbt build --full-refresh", [*dbt, "build", "--full-refresh", "--quiet"]),
        # Like for like with the alternatives: the same three marts and what they are built on.
        (SAME_MARTS, [*dbt, "run", "--full-refresh", "--quiet", "--select", *THREE_MARTS]),
        # Last: the incremental step starts from the warehouse this leaves.
        ("dbt run --full-refresh", [*dbt, "run", "--full-refresh", "--quiet"]),
    ):
        seconds, peak, runs = _repeat(command, data_dir, repeat)
        slowest = slowest_nodes() if command[0] == dbt[0] else ()
        rows.append(Row(plays, step, seconds, peak, runs, slowest))
    rows.append(bench_incremental(plays, data_dir, repeat))
    rows += bench_refresh(plays, data_dir, repeat, str(BIN / "spotiflow"), bench_env)
    return rows


def bench_population(plays: int) -> list[Row]:
    """A large population, generated in batches, built once under DuckDB's memory limit."""
    data_dir = WORK_DIR / f"population-{plays}"
    rows = []
    generated = generate(data_dir, plays)
    if generated is not None:
        users = max(1, round(plays / PLAYS_PER_LISTENER))
        rows.append(
            Row(plays, f"spotiflow generate ({users:,} listeners, {DAYS} days, in batches)",
                generated.seconds, generated.peak_rss_bytes / 1024**2, 1)
        )  # fmt: skip
    Lake(data_dir / "lake").ensure_layout()
    # Spill may not take the disk the box needs: past it the build fails, and says so.
    spill_gb = max(1, shutil.disk_usage(data_dir).free // 1000**3 - DISK_KEPT_FREE_GB)
    env = bench_env(
        data_dir,
        SPOTIFLOW_DUCKDB_MEMORY_LIMIT=POPULATION_MEMORY_LIMIT,
        SPOTIFLOW_DUCKDB_MAX_TEMP_DIRECTORY_SIZE=f"{spill_gb}GB",
    )
    command = [str(BIN / "dbt"), "build", "--full-refresh", "--quiet"]
    built = run_measured(command, env, PROJECT_DIR, check=False)
    step = POPULATION_BUILD
    if built.returncode != 0:
        # Kept as a row, not lost with the part: what stopped it (a disk too small to spill
        # to, say) is the finding.
        step = f"{POPULATION_BUILD}: did not finish ({failure(built.output, built.returncode)})"
    rows.append(
        Row(plays, step, built.seconds, built.peak_rss_bytes / 1024**2, 1,
            slowest_nodes() if built.returncode == 0 else ())
    )  # fmt: skip
    return rows


def failure(output: str, returncode: int) -> str:
    """What stopped a dbt build, from its log: the failing node and the engine's message."""
    plain = (re.sub(r"\x1b\[[0-9;]*m", "", line) for line in output.splitlines())
    lines = [re.sub(r"^\d\d:\d\d:\d\d\s+", "", line).strip() for line in plain]
    for number, line in enumerate(lines):
        if "Error in" in line:
            message = next((text for text in lines[number + 1 :] if text), "")
            return f"{line}: {message}"[:240]
    return f"exit code {returncode}"


def bench_incremental(plays: int, data_dir: Path, repeat: int) -> Row:
    """One more day landed on a copy of the lake (hard links: loads never change), then an
    incremental `dbt run` from the fully built warehouse, restored before every repetition."""
    copy = WORK_DIR / f"plays-{plays}-next-day"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data_dir / "lake", copy / "lake", copy_function=os.link)
    appended = append(copy)["next day"]
    runs = []
    for _ in range(repeat):
        shutil.copy(data_dir / "spotiflow.duckdb", copy / "spotiflow.duckdb")
        command = [str(BIN / "dbt"), "run", "--quiet"]
        runs.append(run_measured(command, bench_env(copy), PROJECT_DIR))
    shutil.rmtree(copy)
    return Row(
        plays,
        f"{INCREMENTAL} ({appended:,} plays)",
        statistics.median(run.seconds for run in runs),
        max(run.peak_rss_bytes for run in runs) / 1024**2,
        len(runs),
        slowest_nodes(),
    )


def bench_landing(records: int, repeat: int) -> list[Row]:
    """Landing an extended-history export into an empty lake, against pyarrow's raw reader."""
    export, lines, files = prepare(WORK_DIR, records)
    scratch = WORK_DIR / "landing"
    steps = (
        (f"{LANDING}, {files} files)",
         [str(BIN / "spotiflow"), "ingest", "spotify-export", str(export), "--user", "bench"]),
        (RAW_JSON,
         [sys.executable, "-m", "bench.raw_json_landing", str(lines), str(scratch / "raw")]),
    )  # fmt: skip
    rows = []
    for step, command in steps:
        runs = []
        for _ in range(repeat):
            shutil.rmtree(scratch, ignore_errors=True)  # every run lands into an empty lake
            runs.append(run_measured(command, bench_env(scratch), PROJECT_DIR))
        rows.append(
            Row(
                records,
                step,
                statistics.median(run.seconds for run in runs),
                max(run.peak_rss_bytes for run in runs) / 1024**2,
                len(runs),
            )
        )
    shutil.rmtree(scratch, ignore_errors=True)
    return rows


def targets(rows: list[Row]) -> list[str]:
    """Issue 16's targets, as ratios within one run, for the largest population built whole;
    a target whose rows are not in this run (a part that did not run) is left out."""

    def find(prefix: str, plays: int | None = None) -> Row | None:
        return next((row for row in rows if row.step.startswith(prefix)
                     and (plays is None or row.plays == plays)), None)  # fmt: skip

    checks: list[tuple[str, float, bool]] = []
    built = [row.plays for row in rows if row.step == "dbt build --full-refresh"]
    largest = max(built, default=0)
    build, full = find("dbt build --full-refresh", largest), find(BUILD_FULL, largest)
    pandas, hand, same = find(PANDAS, largest), find(HAND_SQL, largest), find(SAME_MARTS, largest)
    day = find(AFTER_ONE_DAY, largest)
    if day and full:
        checks.append((f"one-day spotiflow refresh <= 10% of the full build, {largest:,} plays",
                       day.seconds / full.seconds, day.seconds / full.seconds <= 0.10))  # fmt: skip
    if same and hand and pandas:
        checks += [
            ("like-for-like dbt run <= 2x the hand-written SQL", same.seconds / hand.seconds,
             same.seconds / hand.seconds <= 2),
            ("like-for-like dbt run >= 3x faster than pandas", pandas.seconds / same.seconds,
             pandas.seconds / same.seconds >= 3),
        ]  # fmt: skip
    if build:
        checks.append((f"full dbt build of {largest:,} plays <= 60 s", build.seconds,
                       build.seconds <= 60))  # fmt: skip
    landing, raw_json = find(LANDING), find(RAW_JSON)
    if landing and raw_json:
        checks.append((f"landing {landing.plays:,} export rows >= 0.5x pyarrow's raw speed",
                       raw_json.seconds / landing.seconds,
                       raw_json.seconds / landing.seconds >= 0.5))  # fmt: skip
    population = next((row for row in rows if row.step.startswith(POPULATION_BUILD)), None)
    if population is not None:
        finished = population.step == POPULATION_BUILD
        checks.append(
            (f"{population.plays:,} plays built within 8 GiB peak (GiB)"
             + ("" if finished else ", the build did not finish"),
             population.peak_rss_mb / 1024, finished and population.peak_rss_mb <= MAX_PEAK_MIB)
        )  # fmt: skip
    return [f"- {name}: {value:.2f} — {'met' if met else 'MISSED'}" for name, value, met in checks]


def table(rows: list[Row]) -> str:
    lines = [
        "| data size (plays; export rows) | step | median wall time (s) | peak RSS (MB) | runs |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {row.plays:,} | {row.step} | {row.seconds:.1f} | {row.peak_rss_mb:,.0f} | {row.runs} |"
        for row in rows
    ]
    return "\n".join(lines)


def where_time_goes(rows: list[Row]) -> str:
    """The slowest nodes of each dbt step on the largest population."""
    largest = max((row.plays for row in rows if row.step == "dbt build --full-refresh"), default=0)
    lines = ["Where the time goes (slowest nodes of the last repetition):", ""]
    for row in rows:
        if row.slowest and row.plays >= largest:
            nodes = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in row.slowest)
            lines.append(f"- {row.plays:,} plays, {row.step}: {nodes}")
            if row.phases:
                steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in row.phases)
                lines.append(f"  - time by step: {steps}")
    return "\n".join(lines)


def _row(saved: dict) -> Row:
    return Row(
        **{
            **saved,
            "slowest": tuple(map(tuple, saved["slowest"])),
            "phases": tuple(map(tuple, saved.get("phases", ()))),
        }
    )


def _kept_rows() -> dict[str, tuple[str, list[Row]]]:
    """Part -> (when and where it ran, its rows)."""
    if not ROWS_FILE.exists():
        return {}
    saved = json.loads(ROWS_FILE.read_text())
    return {part: (kept["measured"], [_row(row) for row in kept["rows"]])
            for part, kept in saved.items()}  # fmt: skip


def _keep_rows(parts: dict[str, tuple[str, list[Row]]]) -> None:
    saved = {
        part: {"measured": measured, "rows": [asdict(row) for row in rows]}
        for part, (measured, rows) in parts.items()
    }
    ROWS_FILE.write_text(json.dumps(saved, indent=1) + "\n")


def _measured() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d}, {machine()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="plays per population")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timed step (3)")
    parser.add_argument(
        "--export-rows", type=int, default=EXPORT_ROWS, help="rows of the landed export (1M)"
    )
    parser.add_argument(
        "--compaction-loads",
        type=int,
        default=COMPACTION_LOADS,
        help="small loads built before and after compaction (1000)",
    )
    parser.add_argument(
        "--population",
        type=int,
        default=POPULATION,
        help=f"plays of the population built under the memory limit ({POPULATION:,}; 0: none)",
    )
    parser.add_argument("--reuse", action="store_true", help="take finished parts from rows.json")
    parser.add_argument(
        "--report", action="store_true", help="report the parts in rows.json, run nothing"
    )
    args = parser.parse_args(argv)
    from bench.compaction import bench_compaction  # it builds on this module

    parts = [
        *((f"{plays:,} plays", lambda plays=plays: bench_size(plays, args.repeat))
          for plays in (int(size) for size in args.sizes.split(","))),
        (f"landing an export of {args.export_rows:,} rows",
         lambda: bench_landing(args.export_rows, args.repeat)),
    ]  # fmt: skip
    if args.population:
        parts.append((f"a population of {args.population:,} plays",
                      lambda: bench_population(args.population)))  # fmt: skip
    parts.append((f"{args.compaction_loads:,} small loads, before and after compaction",
                  lambda: bench_compaction(args.compaction_loads, args.repeat)))  # fmt: skip
    kept = _kept_rows() if args.reuse or args.report else {}
    rows: list[Row] = []
    ran: dict[str, str] = {}
    for name, run in parts:
        if args.report:  # the parts that ran, nothing run again
            if name in kept:
                ran[name], part_rows = kept[name]
                rows += part_rows
            continue
        if name in kept:
            print(f"bench: {name}: kept from {ROWS_FILE.name}", flush=True)
        else:
            print(f"bench: {name} ...", flush=True)
            kept[name] = (_measured(), run())
            _keep_rows(kept)
        ran[name], part_rows = kept[name]
        rows += part_rows
    result = (
        f"{table(rows)}\n\nTargets (as ratios within this run):\n\n"
        + "\n".join(targets(rows))
        + f"\n\n{where_time_goes(rows)}"
    )
    print(result)
    # The run is when and where most parts ran; a part measured elsewhere says so.
    run_on = max(set(ran.values()), key=list(ran.values()).count)
    others = "".join(
        f"\n- {name}: measured {measured}" for name, measured in ran.items() if measured != run_on
    )
    report = (
        f"# Benchmarks\n\n`make bench` on {run_on}.\n"
        + (f"\nParts measured on another day or machine:\n{others}\n" if others else "")
        + f"\n{result}\n"
    )
    if NOTES.exists():  # why targets are missed and what would close them, kept by hand
        report += "\n" + NOTES.read_text(encoding="utf-8")
    (PROJECT_DIR / "BENCHMARKS.md").write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
