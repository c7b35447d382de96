"""Write-audit-publish: while a build runs, readers answer from the last published build; a
build that fails, or is killed, leaves them on it and says so; the next one publishes."""

from __future__ import annotations

import shutil

import pytest

from spotiflow.cli import main
from spotiflow.serve.dashboard.marts import Marts
from spotiflow.settings import Settings
from spotiflow.warehouse import publish
from tests.support.helpers import FIXTURES, SAMPLE_CSV, paused_build, query

EXTENDED = FIXTURES / "spotify_export" / "extended"


def _plays(settings: Settings) -> int:
    return query(settings, "select count(*) from marts.fct_plays")[0][0]


def _fingerprint(settings: Settings) -> list[tuple]:
    return query(
        settings,
        "select (select count(*) from marts.fct_plays), "
        # Rounded: a parallel sum of doubles may differ in its last bit run to run.
        "(select round(sum(minutes_listened), 6) from marts.fct_daily_listening), "
        "(select count(*) from marts.fct_weekly_top_songs)",
    )


@pytest.fixture
def published_once(settings: Settings) -> Settings:
    """The bundled sample built and published; an export landed since, not yet built."""
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["build", "--no-checks"]) == 0
    assert main(["ingest", "spotify-export", str(EXTENDED)]) == 0
    return settings


def test_readers_answer_from_the_published_build_while_a_build_runs(
    published_once: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = published_once
    record = publish.published(settings)
    capsys.readouterr()
    with paused_build(settings) as build:
        assert _plays(settings) == 1350
        assert main(["summary"]) == 0
        shown = capsys.readouterr().out
        assert "Loads: 1 —" in shown
        assert f"published {publish.when(record.published_at)}" in shown
        marts = Marts.from_settings(settings)
        assert marts.missing_marts() == []
        assert len(marts.query("select * from marts.fct_plays")) == 1350
        assert marts.build_status()[0].startswith("Data as of")
        assert build.poll() is None  # the build was running all along
    assert build.returncode == 0, build.stdout.read()
    assert _plays(settings) > 1350
    assert main(["summary"]) == 0
    assert "Loads: 2 —" in capsys.readouterr().out
    assert publish.published(settings).published_at > record.published_at


def test_a_failed_build_leaves_readers_on_the_previous_one_and_says_so(
    published_once: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = published_once
    record = publish.published(settings)
    # Too little memory for the larger tables: the views and small tables build, then it fails
    # halfway, its own file left part new, part old.
    monkeypatch.setenv("SPOTIFLOW_DUCKDB_MEMORY_LIMIT", "20MB")
    capsys.readouterr()
    assert main(["build", "--no-checks"]) == 1
    out = capsys.readouterr().out
    kept = f"not published; readers keep the build published {publish.when(record.published_at)}"
    assert kept in out
    assert _plays(settings) == 1350
    assert publish.published(settings) == record
    status = Marts.from_settings(settings).build_status()
    assert len(status) == 2 and "failed and was not published" in status[1]
    assert main(["summary"]) == 0
    assert "failed and was not published (dbt build:" in capsys.readouterr().out

    # A build that passes publishes; the failed one's partial work is caught up, not kept.
    monkeypatch.delenv("SPOTIFLOW_DUCKDB_MEMORY_LIMIT")
    assert main(["build"]) == 0
    after = _fingerprint(settings)
    assert after[0][0] > 1350
    assert len(Marts.from_settings(settings).build_status()) == 1
    assert main(["build", "--full-refresh", "--no-checks"]) == 0
    assert _fingerprint(settings) == after


def test_a_build_killed_while_writing_leaves_readers_on_the_previous_one(
    published_once: Settings,
) -> None:
    settings = published_once
    record = publish.published(settings)
    with paused_build(settings) as build:
        build.kill()
    assert _plays(settings) == 1350
    assert publish.published(settings) == record
    # The next build starts over from its file as the kill left it, and publishes.
    assert main(["build", "--no-checks"]) == 0
    after = _fingerprint(settings)
    assert after[0][0] > 1350
    assert main(["build", "--full-refresh", "--no-checks"]) == 0
    assert _fingerprint(settings) == after


def test_a_warehouse_built_before_publication_is_adopted(settings: Settings) -> None:
    """A data dir from before builds were published (or a plain dbt's): its file is the
    published build the next one starts from."""
    from spotiflow.warehouse.dbt import run_dbt

    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    run_dbt(settings, "build")  # writes spotiflow.duckdb itself, as a plain dbt does
    assert publish.published(settings) is None
    assert _plays(settings) == 1350
    assert main(["build", "--no-checks"]) == 0
    assert _plays(settings) == 1350
    assert publish.published(settings) is not None
    # The old file became one build file, the build wrote the other, which is now published.
    slots = [settings.builds_dir / slot / "spotiflow.duckdb" for slot in publish.SLOTS]
    assert all(slot.exists() for slot in slots)
    assert settings.warehouse_path.samefile(slots[0])


def test_a_data_dir_copied_through_its_links_still_stages(settings: Settings) -> None:
    """A copy that followed links (shutil.copytree, cp -L, some backups) turned the link to the
    slot being built into a folder; the next build replaces it by a link, nothing else lost."""
    copied = settings.builds_dir / publish.BUILDING
    copied.mkdir(parents=True)
    (copied / "spotiflow.duckdb").write_bytes(b"a copy of a slot")
    building = publish.stage(settings)
    assert copied.is_symlink()
    assert building.warehouse_path.parent.resolve().parent == settings.builds_dir.resolve()
    assert building.warehouse_path.parent.resolve().name in publish.SLOTS


def _spark_table(settings: Settings, folder: str, plays: list[int]) -> None:
    """A table as dbt-spark leaves it under Spark's warehouse: Parquet part files (written anew
    at each build, never rewritten) beside Spark's marker and checksum files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = settings.spark_warehouse_dir / folder
    if table.exists():
        shutil.rmtree(table)  # Spark drops a rebuilt table's files, then writes new ones
    table.mkdir(parents=True)
    pq.write_table(pa.table({"play_count": plays}), table / "part-00000.parquet")
    (table / "_SUCCESS").touch()
    (table / ".part-00000.parquet.crc").write_bytes(b"crc")


def test_spark_readers_read_the_snapshot_published_never_the_tables_written(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from ingest.lake.landing import Lake
    from spotiflow.warehouse.engines import open_warehouse
    from spotiflow.warehouse.engines import spark as spark_engine

    spark = replace(settings, engine="spark", dbt_target="spark")
    Lake(spark.lake_dir).ensure_layout()  # readers see the lake's sources too

    def counts(reader: Settings) -> list[tuple]:
        with open_warehouse(reader) as warehouse:
            return warehouse.rows("select sum(play_count) from marts.plays_counted")

    # An earlier release built in place, with no snapshot: readers read its tables, and a
    # build's staging adopts them as the published snapshot before it rewrites them.
    _spark_table(spark, "marts.db/plays_counted", [1, 2])
    assert counts(spark) == [(3,)]
    assert publish.what_readers_read(spark).startswith("the tables they had under")
    building = publish.stage(spark)
    _spark_table(building, "marts.db/plays_counted", [10, 20])  # the build rewrites: unpublished
    assert counts(building) == [(30,)] and counts(spark) == [(3,)]
    # Published: the tables, their record, in one step; a reader that opened the snapshot
    # before keeps reading it through the next publication.
    record = publish.Publication(publish.now(), publish.now(), None, project="p")
    publish.publish(building, record)
    assert counts(spark) == [(30,)]
    assert publish.published(spark) == record
    with open_warehouse(spark) as before:
        _spark_table(building, "marts.db/plays_counted", [100])
        publish.publish(building, replace(record, project="q"))
        assert counts(spark) == [(100,)]
        assert before.rows("select sum(play_count) from marts.plays_counted") == [(30,)]

    # A publication stopped halfway (killed while it links the tables' files) changes nothing
    # readers read; the next one removes what it left.
    def killed(source, target) -> None:
        raise KeyboardInterrupt

    _spark_table(building, "marts.db/plays_counted", [1000])
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(spark_engine, "_link", killed)
        publish.publish(building, replace(record, project="r"))
    assert counts(spark) == [(100,)] and publish.published(spark).project == "q"
    publish.publish(building, replace(record, project="s"))
    assert counts(spark) == [(1000,)]
    # The snapshot published and the one before are kept; older ones go.
    assert len([p for p in spark.spark_published_dir.iterdir() if not p.is_symlink()]) == 2
    # The marker and checksum files were never published.
    published = (spark.spark_published_dir / "current").resolve()
    assert sorted(p.name for p in published.rglob("*") if p.is_file()) == [
        "contracts.json", "part-00000.parquet", "publication.json",
    ]  # fmt: skip
