"""The refresh a team runs, timed as they run it: `spotiflow build` (dbt build, the quality
checkpoint, publication) from scratch; `spotiflow refresh` (cron's command: no API configured,
nothing dropped, so it builds, checks and publishes) with nothing new, after one more hour and
after one more day landed; and the dashboard's first view in a real browser, idle and while a
build writes. Each build's own account of its time by step is kept with its row.

Each timed refresh starts from the same published warehouse (both build slots present, as after
any second build): a copy of it, the lake by hard links (loads never change).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.measure import Measurement, run_measured, tree_rss
from spotiflow.serve.dashboard.server import dashboard_environment, streamlit_command
from spotiflow.settings import Settings
from spotiflow.simulate.append_day import append

BUILD_FULL = "spotiflow build --full-refresh (dbt build, checkpoint, publish)"
BUILD_NOTHING_NEW = "spotiflow refresh, nothing new landed"
BUILD_AFTER = "spotiflow refresh after one more {part} landed ({rows:,} plays)"
PHASES = "build: time by step: "
VIEW_IDLE = "dashboard first view (real browser), no build running"
VIEW_DURING = "dashboard first view (real browser), while spotiflow build --full-refresh writes"
CHROMIUM = Path("/usr/bin/chromium")
VIEW_TIMEOUT_MS = 600_000


def _copy(published: Path, target: Path) -> None:
    """The published data dir again: the lake by hard links, the rest as it is (`cp -a` keeps
    the published file a hard link to its slot, as publication made it)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for entry in published.iterdir():
        flags = "-al" if entry.name == "lake" else "-a"
        subprocess.run(["cp", flags, str(entry), str(target / entry.name)], check=True)


def _median(runs: list[Measurement]) -> tuple[float, float]:
    return (
        statistics.median(run.seconds for run in runs),
        max(run.peak_rss_bytes for run in runs) / 1024**2,
    )


def phases(runs: list[Measurement]) -> tuple[tuple[str, float], ...]:
    """The build's time by step ("build: time by step: dbt build 12.3 s, ..."), median of runs."""
    steps: dict[str, list[float]] = {}
    for run in runs:
        # Printed by `spotiflow build`; `spotiflow refresh` logs it after a prefix of its own.
        line = next((ln for ln in run.output.splitlines() if PHASES in ln), PHASES)
        for step in filter(None, line.split(PHASES, 1)[1].strip().split(", ")):
            name, seconds = step.rsplit(" ", 2)[0], float(step.rsplit(" ", 2)[1])
            steps.setdefault(name, []).append(seconds)
    return tuple((name, statistics.median(times)) for name, times in steps.items())


def bench_refresh(plays: int, data_dir: Path, repeat: int, spotiflow: str, env) -> list:
    """Rows for the refresh (see the module's docstring); `env(data_dir)` is the bench's
    environment for a data dir."""
    from bench.run import Row, slowest_nodes  # bench.run imports this module

    def refresh_env(path: Path) -> dict[str, str]:
        return {**env(path), "SPOTIFLOW_REFRESH_API": "off"}

    def row(step: str, runs: list[Measurement]) -> Row:
        return Row(plays, step, *_median(runs), len(runs), slowest_nodes(), phases(runs))

    published = data_dir.parent / f"{data_dir.name}-published"
    shutil.rmtree(published, ignore_errors=True)
    published.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(data_dir / "lake"), str(published / "lake")], check=True)
    project = Path(__file__).resolve().parent.parent
    rows = []
    full = [run_measured([spotiflow, "build", "--full-refresh"], env(published), project)
            for _ in range(repeat)]  # fmt: skip
    rows.append(row(BUILD_FULL, full))
    nothing = [run_measured([spotiflow, "refresh"], refresh_env(published), project)
               for _ in range(repeat)]  # fmt: skip
    rows.append(row(BUILD_NOTHING_NEW, nothing))
    work = data_dir.parent / f"{data_dir.name}-refresh"
    for part in ("hour", "day"):
        runs, landed = [], 0
        for _ in range(repeat):
            _copy(published, work)
            landed = next(iter(append(work, hour=part == "hour").values()))
            runs.append(run_measured([spotiflow, "refresh"], refresh_env(work), project))
        rows.append(row(BUILD_AFTER.format(part=part, rows=landed), runs))
    shutil.rmtree(work, ignore_errors=True)
    rows += bench_first_view(plays, published, repeat, spotiflow, env)
    shutil.rmtree(published, ignore_errors=True)
    return rows


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _dashboard(data_dir: Path, project: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`spotiflow dashboard`'s own server on a free port, up (healthy) when the block starts."""
    port = _free_port()
    settings = Settings.from_env({"SPOTIFLOW_DATA_DIR": str(data_dir),
                                  "SPOTIFLOW_PROJECT_DIR": str(project)})  # fmt: skip
    server = subprocess.Popen(
        streamlit_command(port),
        env=dashboard_environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer,
            ):
                if answer.read() == b"ok":
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not come up")
            time.sleep(0.2)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def _first_view(browser, data_dir: Path, project: Path) -> Measurement:
    """A new server and a new browser context (nothing cached): from opening the page to the
    first view's figures drawn."""
    with _dashboard(data_dir, project) as (url, server):
        context = browser.new_context(viewport={"width": 1400, "height": 1600})
        page = context.new_page()
        page.set_default_timeout(VIEW_TIMEOUT_MS)
        started = time.perf_counter()
        page.goto(url)
        page.get_by_text("How people listen").wait_for()
        page.locator('[data-testid="stMetricValue"]').first.wait_for()
        page.locator('[data-testid="stSidebar"]').get_by_text("Data as of").wait_for()
        seconds = time.perf_counter() - started
        peak = tree_rss(server.pid)
        context.close()
    return Measurement(seconds, peak)


def bench_first_view(plays: int, published: Path, repeat: int, spotiflow: str, env) -> list:
    """The first view with no build running, then while a full rebuild of the same warehouse
    writes (each view during one build; a build that ends first is not waited on again)."""
    from playwright.sync_api import sync_playwright

    from bench.run import Row

    project = Path(__file__).resolve().parent.parent
    rows = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        idle = [_first_view(browser, published, project) for _ in range(repeat)]
        rows.append(Row(plays, VIEW_IDLE, *_median(idle), len(idle)))
        during = []
        for _ in range(repeat):
            build = subprocess.Popen(
                [spotiflow, "build", "--full-refresh", "--no-checks"],
                env=env(published),
                cwd=project,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                while not any((published / ".builds").glob("*/*.duckdb.wal")):
                    if build.poll() is not None:
                        raise RuntimeError("the build ended before it wrote")
                    time.sleep(0.05)
                view = _first_view(browser, published, project)
                if build.poll() is None:  # only a view drawn wholly during the build counts
                    during.append(view)
            finally:
                if build.poll() is None:
                    build.send_signal(signal.SIGINT)  # readers stay on the published build
                build.wait()
        browser.close()
    if during:
        rows.append(Row(plays, VIEW_DURING, *_median(during), len(during)))
    return rows
