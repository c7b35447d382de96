"""`spotiflow dashboard`: Streamlit serving dashboard/app.py on 127.0.0.1, in the foreground."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingest.errors import SpotiflowError
from ingest.settings import Settings

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


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
    ]  # fmt: skip


def dashboard_environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SPOTIFLOW_PROJECT_DIR": str(settings.project_dir),
        "SPOTIFLOW_DATA_DIR": str(settings.data_dir),
    }


def serve(settings: Settings, port: int) -> int:
    if not 0 < port < 65536:
        raise SpotiflowError(f"--port {port}: expected 1..65535")
    if not APP.exists():
        raise SpotiflowError(f"the dashboard app is missing ({APP}): reinstall SpotiFlow")
    print(f"dashboard: http://127.0.0.1:{port} (reading {settings.warehouse_path}; Ctrl+C stops)")
    try:
        return subprocess.run(
            streamlit_command(port), env=dashboard_environment(settings)
        ).returncode
    except KeyboardInterrupt:
        return 0
