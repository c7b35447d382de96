"""SpotiFlow among other processes: the dashboard stops its server with itself; a build
publishes beside readers of the warehouse, never waiting for them and never cutting them off."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from spotiflow.cli import main
from spotiflow.settings import Settings
from tests.support.helpers import FIXTURES, SAMPLE_CSV, query


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but for its exit status.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_stopping_the_dashboard_stops_its_server(settings: Settings, signum: int) -> None:
    port = _free_port()
    command = subprocess.Popen(
        [sys.executable, "-m", "spotiflow.cli", "dashboard", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as answer,
            ):
                if answer.read() == b"ok":
                    break
            assert command.poll() is None, "the dashboard exited"
            assert time.monotonic() < deadline, "the dashboard did not come up in 60 s"
            time.sleep(0.3)
        (server,) = _children(command.pid)
        command.send_signal(signum)
        assert command.wait(timeout=30) == 0
        assert not _alive(server), "the server outlived the command"
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))  # nothing listens on the port any more
    finally:
        command.kill()
        command.wait()


_STUBBORN_SERVER = """
import signal, sys, time
from pathlib import Path
import spotiflow.serve.dashboard.server as dashboard
from spotiflow.settings import Settings

# A server that ignores SIGTERM (a hung Streamlit): it must be killed after the grace period.
server = [sys.executable, "-c",
          "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"]
dashboard.streamlit_command = lambda port: server
dashboard.STOP_GRACE_SECONDS = 1
sys.exit(dashboard.serve(Settings.from_env(), 8501))
"""


def test_a_server_that_ignores_the_stop_is_killed_after_the_grace_period(
    settings: Settings,
) -> None:
    command = subprocess.Popen([sys.executable, "-c", _STUBBORN_SERVER], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _children(command.pid):
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        (server,) = _children(command.pid)
        time.sleep(0.5)  # its SIGTERM handler is set
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=20) == 0
        assert not _alive(server)
    finally:
        command.kill()
        command.wait()


_READER = """
import sys, time, duckdb
path, hold = sys.argv[1], float(sys.argv[2])
print("reading", flush=True)
while True:
    try:
        connection = duckdb.connect(path, read_only=True)
    except duckdb.IOException:  # a plain dbt holds it: try again, as a dashboard would
        time.sleep(0.01)
        continue
    with connection:
        plays = connection.execute("select count(*) from marts.fct_plays").fetchone()[0]
        print("read", plays, flush=True)
        time.sleep(hold)
    time.sleep(0.05)
"""


@contextlib.contextmanager
def _reader(settings: Settings, hold_seconds: float):
    """Another process opening the published warehouse read-only, holding it a while, again and
    again; it prints the plays it counted each time."""
    process = subprocess.Popen(
        [sys.executable, "-c", _READER, str(settings.warehouse_path), str(hold_seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # read once it has stopped (it says little: a failure, if any)
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "reading"
        assert process.stdout.readline().startswith("read ")
        yield process
    finally:
        process.kill()
        process.wait()


def _plays(settings: Settings) -> int:
    return query(settings, "select count(*) from marts.fct_plays")[0][0]


def test_a_build_publishes_while_a_reader_opens_the_warehouse_in_a_loop(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["build", "--no-checks"]) == 0
    with _reader(settings, hold_seconds=0.05) as reader:
        built = main(["build"])
        time.sleep(0.5)  # a few reads of the new build
        alive = reader.poll() is None
        reader.kill()
        reader.wait()
        reads = reader.stdout.read().splitlines()
        said = reader.stderr.read()
    assert built == 0, capsys.readouterr().err
    assert _plays(settings) == 1350
    # The reader read throughout, every time the whole build.
    assert alive and len(reads) > 10, f"{len(reads)} reads; the reader said: {said}"
    assert set(reads) == {"read 1350"}


def test_a_reader_holding_the_warehouse_keeps_its_build_and_holds_no_build_up(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["build", "--no-checks"]) == 0
    extended = FIXTURES / "spotify_export" / "extended"
    with _reader(settings, hold_seconds=600) as reader:
        assert main(["ingest", "spotify-export", str(extended)]) == 0
        started = time.monotonic()
        # The first build writes the other slot; the second, the slot the reader still holds:
        # it is replaced by a copy of the published one, and no build waits.
        assert main(["build", "--no-checks"]) == 0, capsys.readouterr().err
        assert main(["build", "--no-checks"]) == 0, capsys.readouterr().err
        assert time.monotonic() - started < 120
        new_plays = _plays(settings)
        assert new_plays > 1350
        assert reader.poll() is None  # still reading the build it opened
    assert main(["build", "--no-checks"]) == 0
    assert _plays(settings) == new_plays
