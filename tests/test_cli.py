"""The CLI: one readable line and a non-zero exit for bad input, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.identity import user_id_for
from spotiflow.cli import main
from spotiflow.settings import Settings
from tests.support.helpers import FIXTURES, SAMPLE_CSV


def test_ingest_prints_counts_then_nothing_new(settings: Settings, capsys) -> None:
    assert main(["ingest", "legacy-csv", str(FIXTURES / "legacy_bad_rows.csv")]) == 0
    out = capsys.readouterr().out
    assert "8 rows in, 3 landed, 5 rejected" in out
    assert main(["ingest", "legacy-csv", str(FIXTURES / "legacy_bad_rows.csv")]) == 0
    assert "already landed" in capsys.readouterr().out


def test_malformed_file_exits_2_naming_file_and_line(settings: Settings, tmp_path: Path, capsys):
    broken = tmp_path / "broken.csv"
    broken.write_text("Track Name,Artist Name\nx,y\n", encoding="utf-8")
    assert main(["ingest", "legacy-csv", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"spotiflow: error: {broken}, line 1: is missing required column(s)")
    assert "Traceback" not in err
    assert not list((settings.lake_dir / "plays").glob("*.parquet"))  # nothing landed


def test_commands_that_need_a_warehouse_say_build_first(settings: Settings, capsys) -> None:
    assert main(["summary"]) == 2
    assert "run `spotiflow build` first" in capsys.readouterr().err
    assert main(["recommend"]) == 2


def test_bad_arguments_are_refused_by_the_parser(settings: Settings, capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["ingest", "legacy-csv", "/no/such/file.csv"])
    assert raised.value.code == 2
    assert "/no/such/file.csv: no such file" in capsys.readouterr().err


def test_console_script_shows_no_traceback_on_bad_input(settings: Settings, tmp_path: Path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02\x03")
    script = Path(sys.executable).with_name("spotiflow")
    result = subprocess.run(
        [str(script), "ingest", "catalog", str(binary)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"spotiflow: error: {binary}: is not a text file (it holds NUL bytes)"
    )


def test_user_names_never_reach_the_lake(settings: Settings) -> None:
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "jane.doe@example.com"]) == 0
    files = list(settings.lake_dir.rglob("*.parquet"))
    assert len(files) > 5
    for path in files:
        # Read the values (the files are compressed, so their bytes would prove nothing).
        assert "jane.doe" not in repr(pq.read_table(path).to_pylist())
    plays = pq.read_table(next((settings.lake_dir / "plays").glob("2*.parquet")))
    assert set(plays.column("user_id").to_pylist()) == {
        user_id_for("jane.doe@example.com", settings)
    }


def test_a_time_zone_for_a_listener_never_landed_is_refused(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV), "--user", "alice"]) == 0
    assert main(["user", "alicee", "--time-zone", "Europe/Berlin"]) == 2
    err = capsys.readouterr().err
    assert "no plays were landed for 'alicee'" in err and "--create" in err
    assert err.count("\n") == 1
    assert main(["user", "alice", "--time-zone", "Europe/Berlin"]) == 0
    assert main(["user", "bob", "--time-zone", "Europe/Berlin", "--create"]) == 0
    # Once set, the listener is known even before their plays arrive.
    assert main(["user", "bob", "--time-zone", "America/New_York"]) == 0


def test_what_spotiflow_writes_is_the_users_alone(settings: Settings) -> None:
    import stat

    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    written = [settings.data_dir, *settings.data_dir.rglob("*")]
    assert any(path.suffix == ".parquet" for path in written)
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))
