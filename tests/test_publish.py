"""Write-audit-publish: while a build runs, readers answer from the last published build; a
build that fails, or is killed, leaves them on it and says so; the next one publishes."""

from __future__ import annotations

import pytest

from dashboard.marts import Marts
from ingest import publish
from ingest.cli import main
from ingest.settings import Settings
from tests.helpers import FIXTURES, SAMPLE_CSV, paused_build, query

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
    from ingest.dbt import run_dbt

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
