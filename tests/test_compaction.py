"""Lake compaction: many loads' files merged into a few, and nothing a reader reads changes —
every mart, every incremental window, a forgotten load, a compaction killed at any step."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.lake.compaction import compact, withdraw
from ingest.lake.files import COMPACTIONS, is_compacted, is_data_file
from ingest.lake.landing import Lake
from ingest.lake.schemas import ENTITIES
from spotiflow.cli import main
from spotiflow.refresh.job import run_refresh
from spotiflow.refresh.steps import refresh_steps
from spotiflow.settings import Settings
from spotiflow.warehouse.dbt import DbtSession
from spotiflow.warehouse.engines import open_warehouse
from spotiflow.warehouse.engines.postgres import publish_lake
from tests.support.engine_parity import differences, snapshot
from tests.support.helpers import FIXTURES, SAMPLE_CATALOG, SAMPLE_CSV, query
from tests.support.postgres_server import on_postgres

EXPORTS = [
    *(FIXTURES / "spotify_export" / name for name in ("account", "endsong", "extended")),
    *sorted((FIXTURES / "spotify_export" / "vintages").iterdir()),
]


def _land_several(settings: Settings, *, population: bool = True) -> None:
    """Loads of every kind: the bundled sample for two listeners and its catalog, Spotify's
    exports of every vintage (each one a load), and a small generated population (its
    catalog, listeners, plays, recommendations and experiment)."""
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "second-listener"]) == 0
    assert main(["ingest", "catalog", str(SAMPLE_CATALOG)]) == 0
    for export in EXPORTS:
        assert main(["ingest", "spotify-export", str(export), "--user", "exported"]) == 0
    if population:
        arguments = ["--users", "6", "--days", "15", "--seed", "3", "--tracks", "300"]
        assert main(["generate", *arguments]) == 0


def _rows(lake: Lake) -> dict[str, list[str]]:
    """Every entity's committed rows, as the Python rule reads them, in a comparable order."""
    return {entity: _sorted(lake.committed(entity).read().to_pylist()) for entity in ENTITIES}


def _sorted(rows: list[dict]) -> list[str]:
    return sorted(repr(sorted(row.items())) for row in rows)


def _source_rows(settings: Settings) -> dict[str, list[str]]:
    """Every entity's rows as dbt's sources read them on DuckDB (macros/lake)."""
    found = {}
    for entity in ENTITIES:
        table = query(settings, f"select * from lake.{entity}")
        columns = [row[0] for row in query(settings, f"describe lake.{entity}")]
        found[entity] = _sorted([dict(zip(columns, row, strict=True)) for row in table])
    return found


def _files_on_disk(lake: Lake, entity: str) -> list[Path]:
    return sorted(path for path in lake.entity_dir(entity).iterdir() if is_data_file(path))


def _latest_builds(settings: Settings) -> list[tuple]:
    return query(
        settings,
        "select model_name, rebuilt_everything, rebuilt_from from main.incremental_builds "
        "where built_at = (select max(built_at) from main.incremental_builds)",
    )


def test_compaction_keeps_every_mart_identical_and_no_incremental_window_sees_it(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(settings.lake_dir)
    _land_several(settings)
    assert main(["build"]) == 0
    before = snapshot(settings, marts=None, intermediate=None)
    rows_before = _rows(lake)
    files_before = {entity: len(lake.committed_files(entity)) for entity in ENTITIES}
    assert files_before["loads"] == 13 and files_before["plays"] == 3
    capsys.readouterr()

    assert main(["compact"]) == 0
    out = capsys.readouterr().out
    # Every entity of more than one load is merged into one file, not a row changed.
    merged = {entity: count for entity, count in files_before.items() if count > 1}
    assert set(merged) >= {"loads", "plays", "tracks", "audio_features",
                           "spotify_export__extended_plays"}  # fmt: skip
    for entity, count in merged.items():
        rows = len(rows_before[entity])
        assert f"compact: {entity}: {count} files -> 1 ({rows:,} rows, unchanged)" in out, out
        assert len(lake.committed_files(entity)) == 1
    assert _rows(lake) == rows_before
    # Until a build is published the merged files stay: the published build's sources read them.
    assert len(_files_on_disk(lake, "plays")) == 3 + 1
    assert query(settings, "select count(*) from lake.plays")[0][0] == len(rows_before["plays"])

    assert main(["build"]) == 0  # with the quality checkpoint: manifest = lake = source per load
    out = capsys.readouterr().out
    # The manifest is untouched: the build after a compaction rebuilds no window at all.
    assert "rebuilding every model in full" not in out
    builds = _latest_builds(settings)
    assert builds and {(everything, since) for _, everything, since in builds} == {(False, None)}
    assert differences(before, snapshot(settings, marts=None, intermediate=None)) == {}
    assert _source_rows(settings) == rows_before
    # Published: the files the compaction took over are gone; the lake holds one per entity.
    assert f"build: removed {sum(merged.values())} file(s) the lake's compaction took over" in out
    for entity in merged:
        (only,) = _files_on_disk(lake, entity)
        assert is_compacted(only)
    assert len(_files_on_disk(lake, COMPACTIONS)) == len(merged)

    # And the marts equal a full rebuild from the compacted lake.
    assert main(["build", "--full-refresh", "--no-checks"]) == 0
    assert differences(before, snapshot(settings, marts=None, intermediate=None)) == {}

    # Nothing left to merge.
    capsys.readouterr()
    assert main(["compact"]) == 0
    assert "compact: nothing to merge" in capsys.readouterr().out


def test_a_compacted_load_is_forgotten_and_its_rows_leave(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(settings.lake_dir)
    _land_several(settings, population=False)
    second = sorted(lake.committed_load_ids())[1]  # the second listener's sample
    assert "-legacy-csv-" in second
    assert main(["compact"]) == 0
    assert main(["build"]) == 0
    plays = query(settings, "select count(*) from marts.fct_plays")[0][0]
    second_plays = query(
        settings, "select count(*) from marts.fct_plays where load_id = ?", [second]
    )[0][0]
    assert second_plays == 1350
    capsys.readouterr()

    assert main(["forget", second]) == 0
    out = capsys.readouterr().out
    assert f"forget: load {second} withdrawn" in out
    assert "rebuilding every model in full" in out  # the full-refresh marker, as for any load
    assert second not in lake.committed_load_ids()
    assert query(settings, "select count(*) from marts.fct_plays")[0][0] == plays - 1350
    assert query(settings, "select count(*) from lake.plays where load_id = ?", [second]) == [(0,)]
    # Its rows are gone from the compacted files too (rewritten without them), not only hidden.
    for entity in ("loads", "plays", "tracks", "audio_features"):
        for path in _files_on_disk(lake, entity):
            assert second not in pq.read_table(path, columns=["load_id"])["load_id"].to_pylist()
    # Its input lands again, as a new load.
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "second-listener"]) == 0
    assert "already landed" not in capsys.readouterr().out


def test_rows_of_a_withdrawn_load_still_in_a_compacted_file_are_never_read(
    settings: Settings,
) -> None:
    """A forget killed after its manifest step leaves the load's rows in a compacted data file:
    every reader leaves them out (Python, dbt's sources), and the next compaction drops them."""
    from ingest.lake.compaction import drop_from_manifest

    lake = Lake(settings.lake_dir)
    _land_several(settings, population=False)
    assert main(["compact"]) == 0
    lake.remove_superseded()  # as the next build does once published
    rows_before = _rows(lake)
    withdrawn = sorted(lake.committed_load_ids())[1]  # the second listener's sample
    with lake.locked("a forget, killed after its manifest step"):
        drop_from_manifest(lake, lake.files(), withdrawn)
    plays = lake.committed("plays")
    assert plays.withdrawn == (withdrawn,)
    expected = {
        entity: [row for row in rows if f"('load_id', '{withdrawn}')" not in row]
        for entity, rows in rows_before.items()
    }
    assert len(expected["plays"]) == len(rows_before["plays"]) - 1350
    assert _rows(lake) == expected
    # dbt's sources on DuckDB read the same (the rule in macros/lake), and so the marts.
    DbtSession(settings).run("run-operation", "publish_committed_lake")
    assert _source_rows(settings) == expected

    assert main(["compact"]) == 0
    assert lake.committed("plays").withdrawn == ()
    assert _rows(lake) == expected


# Run in a child process: every change the compaction makes to the lake (a rename that
# completes a file, an unlink) is counted, and the process SIGKILLs itself just before the
# change numbered argv[1] (0: never). It prints how many changes it made.
KILLED_AT_A_STEP = """
import os, pathlib, signal, sys
from spotiflow.cli import main
from ingest.lake.landing import Lake

kill_at, changes = int(sys.argv[1]), 0
replace, unlink = os.replace, pathlib.Path.unlink

def change():
    global changes
    changes += 1
    if changes == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

def counted_replace(*args, **kwargs):
    change()
    return replace(*args, **kwargs)

def counted_unlink(self, *args, **kwargs):
    change()
    return unlink(self, *args, **kwargs)

os.replace, pathlib.Path.unlink = counted_replace, counted_unlink
command = sys.argv[2:]
if command == ["tidy"]:  # what a build does once it is published
    Lake(pathlib.Path(os.environ["SPOTIFLOW_DATA_DIR"]) / "lake").remove_superseded()
else:
    assert main(command) == 0
print(changes)
"""


def _killed(settings: Settings, kill_at: int, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILLED_AT_A_STEP, str(kill_at), *command],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )


def _restore(pristine: Path, lake: Lake) -> None:
    shutil.rmtree(lake.root)
    shutil.copytree(pristine, lake.root)


def _assert_reads(settings: Settings, dbt: DbtSession, expected: dict[str, list[str]]) -> None:
    lake = Lake(settings.lake_dir)
    assert _rows(lake) == expected
    dbt.run("run-operation", "publish_committed_lake")
    assert _source_rows(settings) == expected


@pytest.mark.parametrize(
    "command", [("compact",), ("tidy",), ("forget", "--no-build")], ids=lambda c: c[0]
)
def test_kill_9_at_any_step_leaves_a_lake_that_reads_the_same_rows(
    settings: Settings, tmp_path: Path, command: tuple[str, ...]
) -> None:
    lake = Lake(settings.lake_dir)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "second-listener"]) == 0
    assert main(["ingest", "spotify-export", str(EXPORTS[0]), "--user", "exported"]) == 0
    if command != ("compact",):
        assert compact(lake, settings.compact_target_rows)  # what the kills interrupt next
    if command == ("forget", "--no-build"):
        lake.remove_superseded()
        withdrawn = sorted(lake.committed_load_ids())[1]
        command = ("forget", withdrawn, "--no-build")
    pristine = tmp_path / "pristine"
    shutil.copytree(lake.root, pristine)
    before = _rows(lake)
    after = before
    if command[0] == "forget":
        after = {entity: [row for row in rows if f"('load_id', '{withdrawn}')" not in row]
                 for entity, rows in before.items()}  # fmt: skip

    whole = _killed(settings, 0, *command)
    assert whole.returncode == 0, whole.stderr
    changes = int(whole.stdout.split()[-1])
    assert changes >= {"compact": 8, "tidy": 8, "forget": 6}[command[0]], changes
    done = _rows(lake)
    assert done == after

    dbt = DbtSession(settings)
    for kill_at in range(1, changes + 1):
        _restore(pristine, lake)
        killed = _killed(settings, kill_at, *command)
        assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stdout, killed.stderr)
        # Before its commit the lake reads as before, after it as after; never anything else.
        committed = lake.committed_load_ids()
        reading = after if command[0] == "forget" and withdrawn not in committed else before
        _assert_reads(settings, dbt, reading)
        # What the next landing or build removes first changes nothing read either.
        lake.recover()
        _assert_reads(settings, dbt, reading)
        assert not list(lake.root.glob("*/.*.tmp"))
        # Run again, the command completes the work.
        if command[0] != "forget" or withdrawn in committed:
            again = _killed(settings, 0, *command)
            assert again.returncode == 0, (kill_at, again.stderr)
        assert _rows(lake) == after
    if command[0] == "compact":
        _assert_reads(settings, dbt, before)
        assert all(len(lake.committed_files(e)) <= 1 for e in ENTITIES)


def test_refresh_compacts_an_entity_past_the_file_count_setting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPOTIFLOW_COMPACT_AFTER_FILES", "3")
    settings = Settings.from_env()
    lake = Lake(settings.lake_dir)
    steps = refresh_steps(settings)
    names = [step.name for step in steps]
    assert names.index("compact the lake") == names.index("build, check and publish") - 1
    step = steps[names.index("compact the lake")]

    for user in ("one", "two", "three"):
        assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", user]) == 0
    log = io.StringIO()
    assert run_refresh(settings, [step], log) == 0
    assert "compact the lake: skipped" in log.getvalue()
    assert "more than 3 files (SPOTIFLOW_COMPACT_AFTER_FILES)" in log.getvalue()
    assert len(lake.committed_files("plays")) == 3

    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "four"]) == 0
    log = io.StringIO()
    assert run_refresh(settings, [step], log) == 0
    text = log.getvalue()
    assert "compact the lake: compact: plays: 4 files -> 1 (5,400 rows, unchanged)" in text
    assert "compact: loads: 4 files -> 1 (4 rows, unchanged)" in text
    assert "compact the lake: ok" in text and "4 entities compacted" in text
    assert {e: len(lake.committed_files(e)) for e in ("plays", "tracks", "loads")} == {
        "plays": 1, "tracks": 1, "loads": 1,
    }  # fmt: skip


def test_compacted_files_grow_to_the_target_size_and_no_further(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPOTIFLOW_COMPACT_TARGET_ROWS", "3000")
    for user in ("one", "two", "three"):
        assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", user]) == 0
    assert main(["compact"]) == 0
    out = capsys.readouterr().out
    # 1,350 plays a load: two fit under 3,000 rows, the third stays as it was.
    assert "compact: plays: 3 files -> 2 (4,050 rows, unchanged)" in out
    assert "compact: tracks: 3 files -> 1 (117 rows, unchanged)" in out
    lake = Lake(settings.lake_dir)
    sizes = sorted(pq.read_metadata(p).num_rows for p in lake.committed_files("plays"))
    assert sizes == [1350, 2700]
    # A fourth load joins the lone one; the full file is left alone.
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "four"]) == 0
    assert main(["compact"]) == 0
    assert "compact: plays: 3 files -> 2 (5,400 rows, unchanged)" in capsys.readouterr().out
    sizes = sorted(pq.read_metadata(p).num_rows for p in lake.committed_files("plays"))
    assert sizes == [2700, 2700]


def test_a_load_s_rows_come_from_whichever_file_holds_them(settings: Settings) -> None:
    """What PostgreSQL's copy reads per load: the same rows before and after compaction."""
    lake = Lake(settings.lake_dir)
    _land_several(settings, population=False)
    manifest = lake.manifest().to_pylist()
    written = [(entity, row["load_id"]) for row in manifest
               for entity in (row["entities"] or "").split(",") if entity]  # fmt: skip
    loads = {entity: sum(e == entity for e, _ in written) for entity, _ in written}
    before = {key: _sorted(lake.committed(key[0]).load_rows(key[1]).to_pylist()) for key in written}
    assert main(["compact"]) == 0
    for (entity, load_id), rows in before.items():
        files = lake.committed(entity)
        # Compacted when the entity had more than one load's file.
        assert is_compacted(files.file_of(load_id)) == (loads[entity] > 1)
        assert _sorted(files.load_rows(load_id).to_pylist()) == rows, (entity, load_id)
    assert sum(loads[entity] > 1 for entity in loads) >= 4


def test_compact_holds_the_lake_and_refuses_readably(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(settings.lake_dir)
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    with lake.locked("landing a test file"):
        assert main(["compact"]) == 2
    err = capsys.readouterr().err
    assert "is using the lake" in err and "Traceback" not in err
    monkeypatch.setenv("SPOTIFLOW_COMPACT_AFTER_FILES", "0")
    assert main(["compact"]) == 2
    assert "SPOTIFLOW_COMPACT_AFTER_FILES='0': expected a positive whole number" in (
        capsys.readouterr().err
    )


@pytest.mark.engines
def test_postgres_copies_each_load_once_from_whichever_file_holds_it(
    settings: Settings,
    database: str,
) -> None:
    postgres = on_postgres(settings, database)
    lake = Lake(settings.lake_dir)
    for user in ("one", "two"):
        assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", user]) == 0
    lake.ensure_layout()
    first = publish_lake(postgres, lake)
    assert (first.copied, first.rows) == (2 * 4, 2 * (1350 + 39 + 39 + 1))

    # A third load, then everything compacted and the loads' own files gone: only the third
    # is copied, its rows from the compacted files; the first two are not copied again.
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "three"]) == 0
    third = max(lake.committed_load_ids())
    assert compact(lake, settings.compact_target_rows)
    lake.remove_superseded()
    assert {len(lake.committed_files(e)) for e in ("plays", "tracks", "loads")} == {1}
    again = publish_lake(postgres, lake)
    assert (again.copied, again.rows, again.withdrawn) == (4, 1350 + 39 + 39 + 1, 0)

    def copied(entity: str) -> dict[str, int]:
        with open_warehouse(postgres) as warehouse:
            return dict(warehouse.rows(f"select load_id, count(*) from lake.{entity} group by 1"))

    assert copied("plays") == lake.committed("plays").rows_by_load()
    assert copied("plays")[third] == 1350

    # A compacted load forgotten leaves PostgreSQL too.
    second = sorted(lake.committed_load_ids())[1]
    withdraw(lake, second)
    gone = publish_lake(postgres, lake)
    assert (gone.copied, gone.withdrawn) == (0, 4)
    assert copied("plays") == lake.committed("plays").rows_by_load()
    assert second not in copied("plays") and len(copied("plays")) == 2
