"""`spotiflow refresh`: every source, then build and checks; live on a terminal, logs in cron."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from spotiflow.cli import main
from spotiflow.errors import SpotiflowError
from spotiflow.refresh.job import (
    PlainProgress,
    SkipStep,
    Step,
    TerminalProgress,
    drop_folder_items,
    file_away,
    run_refresh,
    single_refresh,
)
from spotiflow.settings import Settings
from spotiflow.warehouse import generation
from tests.support.helpers import query

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ refresh: ")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fail() -> str:
    raise SpotiflowError("the source is down")


def _skip() -> str:
    raise SkipStep("not configured")


def _crash() -> str:
    raise KeyError("boom")


def _ok() -> str:
    print("detail line")
    return "3 things done"


STEPS = [Step("good", _ok), Step("absent", _skip), Step("broken", _fail), Step("buggy", _crash)]


def test_every_step_runs_and_a_failure_sets_the_exit_code(settings: Settings) -> None:
    stream = io.StringIO()
    assert run_refresh(settings, STEPS, stream) == 1
    lines = stream.getvalue().splitlines()
    assert all(LOG_LINE.match(line) for line in lines), lines
    text = "\n".join(lines)
    assert "[1/4] good: detail line" in text
    assert re.search(r"\[1/4\] good: ok \(\d+\.\d s\): 3 things done", text)
    assert "[2/4] absent: skipped" in text and "not configured" in text
    assert "[3/4] broken: failed" in text and "the source is down" in text
    assert "[4/4] buggy: failed" in text and "unexpected error: KeyError" in text
    assert lines[-1].endswith("refresh: 1 ok, 1 skipped, 2 failed in 0 s")
    # No control codes in log output: cron mails and log collectors stay readable.
    assert "\r" not in text and "\033" not in text


def test_without_failures_the_exit_code_is_zero(settings: Settings) -> None:
    assert run_refresh(settings, STEPS[:2], io.StringIO()) == 0


def test_a_terminal_gets_a_live_line_and_marks(settings: Settings) -> None:
    stream = FakeTerminal()
    assert run_refresh(settings, STEPS[:3], stream) == 1
    text = stream.getvalue()
    assert "\r✓ [1/3] good" in text.replace("\033[K", "")
    assert "✗ [3/3] broken" in text and "    detail line" in text
    assert isinstance(PlainProgress(io.StringIO()), PlainProgress)
    assert isinstance(TerminalProgress(stream), TerminalProgress)


def test_a_second_refresh_at_once_exits_clearly(settings: Settings) -> None:
    with single_refresh(settings), pytest.raises(SpotiflowError, match="still running"):
        run_refresh(settings, STEPS[:1], io.StringIO())


def test_drop_folder_lists_exports_and_files_them_away(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    (drop / "landed").mkdir(parents=True)
    (drop / "my_spotify_data").mkdir()
    (drop / "a.zip").write_bytes(b"")
    (drop / "notes.txt").write_text("not an export")
    (drop / ".partial.zip").write_bytes(b"")
    assert [p.name for p in drop_folder_items(drop)] == ["a.zip", "my_spotify_data"]
    moved = file_away(drop / "a.zip", "landed")
    assert moved == drop / "landed" / "a.zip" and moved.exists()
    (drop / "a.zip").write_bytes(b"")
    assert file_away(drop / "a.zip", "landed").name.startswith("a-")


def test_refresh_lands_dropped_exports_builds_and_checks(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPOTIPY_CLIENT_ID", raising=False)
    drop = settings.export_drop_dir
    drop.mkdir(parents=True)
    with zipfile.ZipFile(drop / "holiday_photos.zip", "w") as archive:
        archive.writestr("IMG_0001.txt", "not a history file")
    export = Path(__file__).parent / "fixtures" / "spotify_export" / "extended"
    with zipfile.ZipFile(drop / "my_spotify_data.zip", "w") as archive:
        for path in sorted(export.rglob("*.json")):
            archive.write(path, path.relative_to(export).as_posix())
    # Its 2024+ records name no account: the drop folder says whose it is (tests/test_drop_folder).
    (drop / "my_spotify_data.zip.owner").write_text("fixture-user-7781\n")

    assert main(["refresh"]) == 1  # the photo zip is not an export
    out = capsys.readouterr().out
    assert "spotify api poll: skipped" in out and "no Spotify app configured" in out
    assert "spotify exports: failed" in out and "1 of 2 export(s) could not be landed" in out
    assert "build, check and publish: ok" in out
    assert (drop / "failed" / "holiday_photos.zip").exists()
    assert (drop / "landed" / "my_spotify_data.zip").exists()
    assert drop_folder_items(drop) == []
    # Every play of the dropped export, of every content type, is in the marts; the record the
    # export repeats is counted once, and listed as a repeat.
    assert query(settings, "select count(*) from marts.fct_plays") == [(11,)]
    assert query(settings, "select duplicate_reason from marts.fct_duplicate_plays") == [
        ("repeated_record",)
    ]

    # The build accounts for its time, step by step.
    steps = re.search(r"build: time by step: (.*)", out).group(1).split(", ")
    assert [step.rsplit(" ", 2)[0] for step in steps] == [
        "staging", "lake to engine", "dbt start and parse", "dbt build", "source freshness",
        "quality checkpoint", "publication",
    ]  # fmt: skip
    assert all(float(step.rsplit(" ", 2)[1]) >= 0 for step in steps)
    # New data, the same code: the refresh runs the data tests, not dbt's unit tests.
    assert _node_kinds(settings) >= {"model", "test"}
    assert "unit_test" not in _node_kinds(settings)

    # Nothing left to land: the next refresh succeeds and skips the empty drop folder.
    assert main(["refresh"]) == 0
    assert "spotify exports: skipped" in capsys.readouterr().out
    # `spotiflow build`, which an engineer runs after changing the SQL, runs them when the code
    # has not passed them yet on this engine (no record of its fingerprint), and not again.
    record = generation.unit_tests_record(
        settings, generation.project_fingerprint(settings.project_dir)
    )
    record.unlink(missing_ok=True)
    assert main(["build", "--no-checks"]) == 0
    assert "unit_test" in _node_kinds(settings)
    assert record.exists()
    assert main(["build", "--no-checks"]) == 0
    assert _node_kinds(settings) >= {"model", "test"}
    assert "unit_test" not in _node_kinds(settings)


def _node_kinds(settings: Settings) -> set[str]:
    """What kinds of node the last dbt call ran (its run_results.json)."""
    results = json.loads((settings.dbt_target_path / "run_results.json").read_text())
    return {result["unique_id"].split(".")[0] for result in results["results"]}


def test_an_export_that_fails_in_any_way_is_filed_away_and_the_rest_land(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import spotiflow.refresh.drop_folder as drop_folder
    from spotiflow.refresh.steps import refresh_steps

    drop = settings.export_drop_dir
    drop.mkdir(parents=True)
    export = Path(__file__).parent / "fixtures" / "spotify_export" / "endsong"
    for name in ("a_broken.zip", "b_good.zip"):
        with zipfile.ZipFile(drop / name, "w") as archive:
            for path in sorted(export.rglob("*.json")):
                archive.write(path, path.relative_to(export).as_posix())
    land = drop_folder.land_export

    def flaky(settings: Settings, path: Path, owner: drop_folder.Owner | None):
        if path.name == "a_broken.zip":
            raise RuntimeError("a fault no one foresaw")
        return land(settings, path, owner)

    monkeypatch.setattr(drop_folder, "land_export", flaky)
    [step] = [s for s in refresh_steps(settings) if s.name == "spotify exports"]
    with pytest.raises(SpotiflowError, match="1 of 2 export"):
        step.run()
    reason = (drop / "failed" / "a_broken.zip.reason.txt").read_text()
    assert reason == "unexpected error (RuntimeError) while landing a_broken.zip\n"
    assert (drop / "failed" / "a_broken.zip").exists()
    assert (drop / "landed" / "b_good.zip").exists()
    assert "2 rows in, 2 landed" in capsys.readouterr().out
