"""`spotiflow dashboard`: Streamlit serving app.py (beside this module) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings

APP = Path(__file__).resolve().with_name("app.py")


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.showErrorDetails", "false",
        "--client.toolbarMode", "minimal",
        # No CSV download from the grids: it writes third-party names as they are, formulas
        # and all (`spotiflow export` writes them formula-safe).
        "--client.disableDataExport", "true",
    ]  # fmt: skip


def dashboard_environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SPOTIFLOW_PROJECT_DIR": str(settings.project_dir),
        "SPOTIFLOW_DATA_DIR": str(settings.data_dir),
    }


FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE_SECONDS = 10


def serve(settings: Settings, port: int) -> int:
    """Run the server in the foreground until it exits or this process is told to stop.

    The server runs in a session of its own, so only this process signals it: SIGTERM, SIGINT
    and SIGHUP are passed on, then the server is waited for (killed after a grace period), so
    no orphan keeps the port and the warehouse.
    """
    if not 0 < port < 65536:
        raise SpotiflowError(f"--port {port}: expected 1..65535")
    if not APP.exists():
        raise SpotiflowError(f"the dashboard app is missing ({APP}): reinstall SpotiFlow")
    print(f"dashboard: http://127.0.0.1:{port} (reading {settings.warehouse_path}; Ctrl+C stops)")
    received: list[int] = []
    server: subprocess.Popen | None = None

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        if server is not None:
            with contextlib.suppress(ProcessLookupError):
                server.send_signal(signum)

    # Handlers first: a signal arriving while the server starts is passed on once it has.
    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        server = subprocess.Popen(
            streamlit_command(port), env=dashboard_environment(settings), start_new_session=True
        )
        if received:
            server.send_signal(received[0])
        stop_by: float | None = None
        while True:
            # Polled, not one blocking wait: a handler's return does not end a wait.
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = server.wait(timeout=0.2)
                break
            if received and stop_by is None:
                stop_by = time.monotonic() + STOP_GRACE_SECONDS
            if stop_by is not None and time.monotonic() > stop_by:
                server.kill()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # Stopped on request: a clean stop, whatever the server's own exit code.
    return 0 if received else code
