"""Readers never see marts built by other code: each build place knows what built it (the
project's fingerprint, the full refreshes and withdrawals since), and a place built otherwise is
rebuilt in full before it is published, by `build` and `refresh` alike. Upgrades, changed vars
and seeds, and `--full-refresh` reach every build slot (issue 28, items 1, 2 and 9)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from spotiflow.cli import main
from spotiflow.settings import Settings
from spotiflow.warehouse import generation, publish
from tests.support.engine_parity import differences, snapshot
from tests.support.helpers import FIXTURES, PROJECT_DIR, SAMPLE_CSV, make_settings, query

EXTENDED = FIXTURES / "spotify_export" / "extended"
# A release whose data dir had no build slots and no publication record, and whose seed
# play_source_priority had one column fewer than today's.
EARLIER_RELEASE = "c422e56669a9fbdd84d632023159b6af84c50d16"
# Every documented tunable set off its default (dbt_project.yml): builds pass (unit tests pin
# the vars they depend on) and the marts follow.
CHANGED_VARS = {
    "min_stream_ms": ("30000", "120000"),
    "default_time_zone": ("UTC", "America/New_York"),
    "duplicate_play_window_seconds": ("90", "30"),
    "energy_score_weights": (
        "{danceability: 1, energy: 1, liveness: 1}",
        "{danceability: 2, energy: 1, liveness: 1}",
    ),
    "musicality_score_weights": (
        "{acousticness: 1, instrumentalness: 1}",
        "{acousticness: 1, instrumentalness: 3}",
    ),
    "predicted_vs_actual_top_n": ("5", "3"),
    "predicted_vs_actual_k": ("5", "3"),
    "accuracy_k": ("10", "7"),
    "accuracy_window_days": ("7", "5"),
    "accuracy_new_tracks_only": ("false", "true"),
    "experiment_window_days": ("28", "14"),
    "experiment_pre_period_days": ("21", "7"),
    "experiment_confidence_level": ("0.95", "0.9"),
    "experiment_srm_alpha": ("0.001", "0.01"),
    "model_comparison_confidence_level": ("0.95", "0.9"),
    "feature_engagement_buckets": ("10", "5"),
    "skip_reasons": ("[fwdbtn, backbtn, endplay, unknown]", "[fwdbtn]"),
}


def _copy_project(target: Path) -> Path:
    """The dbt project as a team's own checkout has it, to change as they would."""
    target.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy2(PROJECT_DIR / name, target / name)
    for folder in ("models", "macros", "seeds", "tests/data", "spotiflow/warehouse/dbt_plugins"):
        shutil.copytree(
            PROJECT_DIR / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return target


def _set_vars(project: Path, changes: dict[str, tuple[str, str]]) -> None:
    path = project / "dbt_project.yml"
    text = path.read_text(encoding="utf-8")
    for name, (old, new) in changes.items():
        line = f"  {name}: {old}\n"
        assert line in text, f"dbt_project.yml no longer sets {name}: {old}"
        text = text.replace(line, f"  {name}: {new}\n")
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def project(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project that the CLI builds (SPOTIFLOW_PROJECT_DIR), with an export and
    the bundled sample landed for one listener."""
    project = _copy_project(tmp_path / "project")
    monkeypatch.setenv("SPOTIFLOW_PROJECT_DIR", str(project))
    assert main(["ingest", "spotify-export", str(EXTENDED), "--user", "listener"]) == 0
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "listener"]) == 0
    return project


def _published(settings: Settings) -> dict:
    return snapshot(settings, intermediate=None)


def _vibes(settings: Settings) -> set[str]:
    return {
        row[0] for row in query(settings, "select listening_vibe from marts.fct_daily_listening")
    }


def _streams(settings: Settings) -> int:
    return query(settings, "select count(*) from marts.fct_plays where is_stream")[0][0]


def test_changed_vars_and_a_full_refresh_reach_every_build_slot(
    settings: Settings, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--no-checks"]) == 0
    assert main(["build", "--no-checks"]) == 0  # both slots built with the defaults
    streams_before = _streams(settings)

    # The README's advice for a changed var: edit it, then build --full-refresh. Every unit
    # test still passes (they pin the vars they depend on).
    _set_vars(project, CHANGED_VARS)
    # And a seed: the vibes the daily listening marts name.
    vibes = project / "seeds" / "vibe_buckets.csv"
    vibes.write_text(vibes.read_text().replace("Slightly Sad", "A Bit Blue"))
    assert main(["build", "--full-refresh", "--no-checks"]) == 0
    capsys.readouterr()
    after_full_refresh = _published(settings)
    assert _streams(settings) < streams_before  # 2 min, not 30 s, makes a stream now
    assert _vibes(settings) >= {"A Bit Blue"} and "Slightly Sad" not in _vibes(settings)

    # Each hourly refresh builds the other slot, last built with the old vars: it is rebuilt
    # in full (and says so once), so readers see the same marts every hour.
    for refresh in range(2):
        assert main(["refresh"]) == 0
        said = re.findall(r"build: (.*): rebuilding every model in full", capsys.readouterr().out)
        changed = "the project changed since build slot b was built (models, macros, seeds, vars "
        assert said == ([changed + "or dbt's version)"] if refresh == 0 else [])
        assert differences(_published(settings), after_full_refresh) == {}

    # No --full-refresh: a refresh notices the change by itself, in each slot in turn.
    _set_vars(project, {"min_stream_ms": ("120000", "30000")})
    for slot in "ba":
        assert main(["refresh"]) == 0
        assert f"the project changed since build slot {slot} was built" in capsys.readouterr().out
        assert _streams(settings) == streams_before


def test_what_a_build_place_is_rebuilt_for(settings: Settings) -> None:
    place = "build slot a"
    now = generation.current(settings, withdrawal=None)
    assert generation.rebuild_reason(now, now, place) is None
    assert "no record" in generation.rebuild_reason(None, now, place)
    earlier = generation.Generation(project=None)
    assert (
        generation.rebuild_reason(earlier, now, place) == f"{place} was built by an earlier release"
    )
    other = replace(now, project="0" * 16)
    assert generation.rebuild_reason(other, now, place).startswith("the project changed")
    withdrawn = generation.current(settings, withdrawal="load-1 abc")
    assert generation.rebuild_reason(now, withdrawn, place) == "a load was withdrawn from the lake"
    # A full refresh asked for on this engine reaches every place built before it.
    generation.ask_for_full_refresh(settings)
    after = generation.current(settings, withdrawal=None)
    assert after.full_refresh is not None and after.full_refresh != now.full_refresh
    reason = generation.rebuild_reason(now, after, place)
    assert reason == f"a full refresh was asked for since {place} was built"
    assert generation.rebuild_reason(after, after, place) is None


def _earlier_release(target: Path) -> Path:
    """The earlier release's files, from this repository's history (git archive: no work
    tree or worktree record left in the repository)."""
    found = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "archive", "--format=tar", EARLIER_RELEASE],
        capture_output=True,
    )
    assert found.returncode == 0, (
        f"the earlier release {EARLIER_RELEASE[:7]} must be in this clone's history: "
        f"{found.stderr.decode(errors='replace')}"
    )
    with tarfile.open(fileobj=io.BytesIO(found.stdout)) as archive:
        archive.extractall(target, filter="data")
    return target


def _run_release(release: Path, data_dir: Path, *args: str) -> str:
    """`spotiflow ARGS` as the earlier release runs it (its code first on the path)."""
    from tests.support.helpers import TEST_SALT

    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(data_dir.parent),
        "PYTHONPATH": str(release),
        "SPOTIFLOW_PROJECT_DIR": str(release),
        "SPOTIFLOW_DATA_DIR": str(data_dir),
        "SPOTIFLOW_USER_ID_SALT": TEST_SALT,
        "DBT_PROFILES_DIR": str(release),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    done = subprocess.run(
        # The earlier release's command, from its own tree (PYTHONPATH).
        [sys.executable, "-m", "ingest.cli", *args],
        cwd=release,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_data_dir_of_an_earlier_release_upgrades_by_itself(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = _earlier_release(tmp_path / "release")
    _run_release(release, settings.data_dir, "ingest", "legacy-csv", str(SAMPLE_CSV))
    _run_release(
        release, settings.data_dir, "ingest", "spotify-export", str(EXTENDED), "--user", "x"
    )
    _run_release(release, settings.data_dir, "build", "--no-checks")
    assert publish.published(settings) is None  # that release kept no record
    old_plays = query(settings, "select count(*) from marts.fct_plays")[0][0]

    # A failed build on it says what readers really read: the old warehouse.
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPOTIFLOW_DUCKDB_MEMORY_LIMIT", "20MB")
        assert main(["build", "--no-checks"]) == 1
    out = capsys.readouterr().out
    assert "readers keep the warehouse they had" in out and "earlier release" in out, out
    assert query(settings, "select count(*) from marts.fct_plays")[0][0] == old_plays

    # Plain `build`, then `refresh` (the other slot, the old warehouse itself): no flags.
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert "rebuilding every model in full" in out
    assert main(["refresh"]) == 0
    assert "build slot b has no record of what built it" in capsys.readouterr().out
    assert main(["refresh"]) == 0
    assert "rebuilding every model in full" not in capsys.readouterr().out
    upgraded = _published(settings)

    # The marts equal a fresh build of the same lake.
    fresh = settings.data_dir.parent / "fresh"
    shutil.copytree(settings.lake_dir, fresh / "lake")
    fresh_settings = make_settings(fresh)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPOTIFLOW_DATA_DIR", str(fresh))
        assert main(["build", "--no-checks"]) == 0
    assert differences(upgraded, _published(fresh_settings)) == {}


def test_the_fingerprint_follows_what_the_marts_follow(tmp_path: Path) -> None:
    project = _copy_project(tmp_path / "project")
    first = generation.project_fingerprint(project)
    assert generation.project_fingerprint(project) == first
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")  # dbt's output is not the project
    assert generation.project_fingerprint(project) == first
    seed = project / "seeds" / "vibe_buckets.csv"
    seed.write_text(seed.read_text() + "\n")
    assert generation.project_fingerprint(project) != first
