"""The drop folder says whose an export is: a folder per listener, or an owner file beside it.

An export that names no listener (every one Spotify mails since late 2024) and has no owner is
filed to failed/ with what to do, never landed for SPOTIFLOW_SAMPLE_USER; one that names its own
listener still lands from the top of the drop folder. No listener name reaches a log line or a
reason file. The build step is left out: what lands is read from the lake.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from ingest.identity import user_id_for
from ingest.lake.landing import Lake
from spotiflow.refresh.drop_folder import drop_items, is_export_folder
from spotiflow.refresh.job import run_refresh
from spotiflow.refresh.steps import refresh_steps
from spotiflow.settings import Settings
from tests.support.helpers import FIXTURES, zip_folder

VINTAGES = FIXTURES / "spotify_export" / "vintages"
UNNAMED = VINTAGES / "extended_2026"  # extended history since late 2024: no username
NAMED = VINTAGES / "extended_2021"  # its records name fixture-user-7781
EXTENDED = "spotify_export__extended_plays"
# Listener names no other text in a log line could hold by chance.
ALICE, BOB = "listener-alice-5150", "listener-bob-6160"


def _refresh_exports(settings: Settings) -> tuple[int, str]:
    """The refresh's exit code and log with only the exports step (no API poll, no build)."""
    [step] = [s for s in refresh_steps(settings) if s.name == "spotify exports"]
    log = io.StringIO()
    return run_refresh(settings, [step], log), log.getvalue()


def _listeners(settings: Settings) -> set[str]:
    return Lake(settings.lake_dir).known_values(EXTENDED, "user_id")


def test_an_export_that_names_no_one_is_failed_not_landed_for_the_sample_user(
    settings: Settings,
) -> None:
    drop = settings.export_drop_dir
    drop.mkdir(parents=True)
    zip_folder(UNNAMED, drop / "my_spotify_data.zip")

    code, log = _refresh_exports(settings)

    assert code == 1 and "spotify exports: failed" in log
    assert "1 of 1 export(s) could not be landed" in log
    assert (drop / "failed" / "my_spotify_data.zip").exists()
    reason = (drop / "failed" / "my_spotify_data.zip.reason.txt").read_text()
    assert "name no account" in reason and "not landed for SPOTIFLOW_SAMPLE_USER" in reason
    assert "drop/<listener>/" in reason and "my_spotify_data.zip.owner" in reason
    assert Lake(settings.lake_dir).committed_load_ids() == set()


def test_an_export_in_a_listener_folder_lands_for_that_listener(settings: Settings) -> None:
    drop = settings.export_drop_dir
    (drop / ALICE).mkdir(parents=True)
    (drop / BOB).mkdir()
    zip_folder(UNNAMED, drop / ALICE / "my_spotify_data.zip")
    shutil.copytree(UNNAMED, drop / BOB / "unpacked")
    # The folder names the listener even over the export's own username, as --user does.
    zip_folder(NAMED, drop / BOB / "old_export.zip")

    code, log = _refresh_exports(settings)

    assert code == 0 and "3 export(s) landed" in log
    assert _listeners(settings) == {user_id_for(ALICE, settings), user_id_for(BOB, settings)}
    assert (drop / ALICE / "landed" / "my_spotify_data.zip").exists()
    assert (drop / BOB / "landed" / "unpacked").is_dir()
    assert (drop / BOB / "landed" / "old_export.zip").exists()
    assert "its listener folder in the drop folder" in log
    # Logged as the listener's user id, never by name.
    assert ALICE not in log and BOB not in log
    assert f"<listener {user_id_for(ALICE, settings)}>/landed/my_spotify_data.zip" in log
    assert drop_items(drop) == []


def test_an_owner_file_names_the_listener_and_moves_with_the_export(settings: Settings) -> None:
    drop = settings.export_drop_dir
    drop.mkdir(parents=True)
    zip_folder(UNNAMED, drop / "my_spotify_data.zip")
    (drop / "my_spotify_data.zip.owner").write_text(f"{ALICE}\n")
    shutil.copytree(UNNAMED, drop / "unpacked")
    (drop / "unpacked.owner").write_text(f"  {BOB}  \n\n")

    code, log = _refresh_exports(settings)

    assert code == 0 and "2 export(s) landed" in log
    assert _listeners(settings) == {user_id_for(ALICE, settings), user_id_for(BOB, settings)}
    assert "its .owner file in the drop folder" in log
    # A stale owner file must not claim the next export of the same name.
    assert (drop / "landed" / "my_spotify_data.zip.owner").read_text() == f"{ALICE}\n"
    assert (drop / "landed" / "unpacked.owner").exists()
    assert not (drop / "my_spotify_data.zip.owner").exists()
    assert ALICE not in log and BOB not in log


def test_an_export_naming_its_listener_still_lands_from_the_top(settings: Settings) -> None:
    drop = settings.export_drop_dir
    drop.mkdir(parents=True)
    zip_folder(NAMED, drop / "a_named.zip")
    zip_folder(UNNAMED, drop / "b_unnamed.zip")
    shutil.copytree(VINTAGES / "account_2026", drop / "c_account")  # names it in Userdata.json

    code, log = _refresh_exports(settings)

    assert code == 1 and "1 of 3 export(s) could not be landed" in log
    assert _listeners(settings) == {user_id_for("fixture-user-7781", settings)}
    assert (drop / "landed" / "a_named.zip").exists()
    assert (drop / "landed" / "c_account").is_dir()
    assert (drop / "failed" / "b_unnamed.zip").exists()
    account = Lake(settings.lake_dir).known_values("spotify_export__account_plays", "user_id")
    assert account == {user_id_for("fixture-user-7781", settings)}


def test_an_owner_file_that_cannot_say_whose_fails_without_naming_anyone(
    settings: Settings,
) -> None:
    drop = settings.export_drop_dir
    (drop / ALICE).mkdir(parents=True)
    zip_folder(NAMED, drop / ALICE / "export.zip")
    (drop / ALICE / "export.zip.owner").write_text(f"{BOB}\n")
    zip_folder(NAMED, drop / "two.zip")
    (drop / "two.zip.owner").write_text(f"{ALICE}\n{BOB}\n")

    code, log = _refresh_exports(settings)

    assert code == 1 and "2 of 2 export(s) could not be landed" in log
    conflict = (drop / ALICE / "failed" / "export.zip.reason.txt").read_text()
    assert "names another listener than the folder it lies in" in conflict
    assert "holds 2 lines" in (drop / "failed" / "two.zip.reason.txt").read_text()
    assert (drop / "failed" / "two.zip.owner").exists()
    reasons = conflict + (drop / "failed" / "two.zip.reason.txt").read_text()
    assert ALICE not in log + reasons and BOB not in log + reasons
    assert Lake(settings.lake_dir).committed_load_ids() == set()


def test_an_unpacked_export_is_told_from_a_listener_folder(tmp_path: Path) -> None:
    assert is_export_folder(UNNAMED)  # holds "Spotify Extended Streaming History"
    assert is_export_folder(UNNAMED / "Spotify Extended Streaming History")  # holds its files
    assert is_export_folder(NAMED)  # holds "MyData"
    listener = tmp_path / "drop" / ALICE
    listener.mkdir(parents=True)
    assert not is_export_folder(listener)
    zip_folder(UNNAMED, listener / "my_spotify_data.zip")
    shutil.copytree(UNNAMED, listener / "my_spotify_data")
    assert not is_export_folder(listener)
    assert [item.path.name for item in drop_items(tmp_path / "drop")] == [
        "my_spotify_data",
        "my_spotify_data.zip",
    ]
