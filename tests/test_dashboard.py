"""The dashboard in a real browser: Debian's Chromium driven by Playwright against
`spotiflow dashboard` on 127.0.0.1, serving the demo warehouse. Every number read off the screen
is compared with the mart it comes from; each test saves a screenshot to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import csv
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from spotiflow.cli import main
from spotiflow.serve.dashboard.server import dashboard_environment, streamlit_command
from spotiflow.serve.dashboard.views import number
from spotiflow.settings import Settings
from tests.support.helpers import (
    FIXTURES,
    PROJECT_DIR,
    SAMPLE_CSV,
    demo_artifacts,
    make_settings,
    paused_build,
    sample_user_id,
)

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_DIR / "test-artifacts" / "screenshots"
TIMEOUT_MS = 30_000
# The dashboard's order of an arm's metrics: the primary, the guardrails, the rest.
EXPERIMENT_ORDER = (
    "experiment_id, variant, case role when 'primary' then 0 when 'guardrail' then 1 else 2 end, "
    "metric"
)
expect.set_options(timeout=TIMEOUT_MS)


def _ensure_chromium() -> Path:
    """Playwright cannot download a browser here: Debian's chromium, installed when missing."""
    if not CHROMIUM.exists():
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=True)
            subprocess.run(install, capture_output=True, check=True)
    assert CHROMIUM.exists(), "chromium could not be installed with apt"
    return CHROMIUM


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """Read-only, so the dashboard (another process) can read the warehouse at the same time."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """`spotiflow dashboard`'s own command on a free port, until the block ends."""
    port = _free_port()
    server = subprocess.Popen(
        streamlit_command(port),
        env=dashboard_environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer,
            ):
                if answer.read() == b"ok":
                    break
            assert server.poll() is None, "the dashboard exited"
            assert time.monotonic() < deadline, "the dashboard did not come up in 60 s"
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _ensure_chromium()
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=str(executable), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def demo_url(demo_settings: Settings) -> Iterator[str]:
    with serving(demo_settings) as url:
        yield url


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def metric(page: Page, label: str) -> str:
    card = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    return card.locator('[data-testid="stMetricValue"]').inner_text().strip()


# st.dataframe draws on a canvas and keeps the cells in view in an accessible table inside it
# (rows by aria-rowindex, the header row 1; columns by aria-colindex): what a screen reader reads.
_GRID_CELLS = """frame => {
    const grid = frame.querySelector('table[role="grid"]');
    if (!grid) return null;
    return {
        columns: Number(grid.getAttribute('aria-colcount')),
        drawn: [...grid.querySelectorAll('th')].map(th => th.getAttribute('aria-colindex')).join(),
        cells: [...grid.querySelectorAll('th, td')].map(cell => [
            Number(cell.closest('tr').getAttribute('aria-rowindex')),
            Number(cell.getAttribute('aria-colindex')),
            cell.innerText,
        ]),
    };
}"""
_SCROLL_RIGHT = """scroller => {
    const before = scroller.scrollLeft;
    scroller.scrollLeft += scroller.clientWidth / 2;
    return scroller.scrollLeft > before;
}"""


def _grid(frame: Locator) -> list[list[str]] | None:
    """Every cell of one st.dataframe, its header row first: a wide table is scrolled across
    (its cells beyond the view are not in the page until then)."""
    scroller = frame.locator(".dvn-scroller")
    scroller.evaluate("scroller => { scroller.scrollLeft = 0; }")
    seen: dict[tuple[int, int], str] = {}
    shown = frame.evaluate(_GRID_CELLS)
    while shown is not None:
        seen.update({(row, column): text.strip() for row, column, text in shown["cells"]})
        if len({column for _, column in seen}) >= shown["columns"]:
            break
        if not scroller.evaluate(_SCROLL_RIGHT):
            return None  # at the right edge and still columns missing: not drawn yet
        deadline, drawn = time.monotonic() + 5, shown["drawn"]
        while shown is not None and shown["drawn"] == drawn and time.monotonic() < deadline:
            frame.page.wait_for_timeout(50)  # the grid redraws after a scroll
            shown = frame.evaluate(_GRID_CELLS)
    scroller.evaluate("scroller => { scroller.scrollLeft = 0; }")  # as a person first sees it
    if shown is None:
        return None
    rows = sorted({row for row, _ in seen})
    columns = sorted({column for _, column in seen})
    return [[seen.get((row, column), "") for column in columns] for row in rows]


def table_rows(page: Page, header: str) -> list[list[str]]:
    """The rows (cell texts) of the one table that has a column `header`."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        grids = [_grid(frame) for frame in page.locator('[data-testid="stDataFrame"]').all()]
        found = [grid for grid in grids if grid and header in grid[0]]
        if len(found) == 1 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    assert len(found) == 1, f"{len(found)} tables with a column {header!r}"
    return found[0][1:]


def expect_rows(page: Page, header: str, columns: list[int], expected: list[tuple]) -> None:
    """Wait until the table with column `header` shows `expected` in `columns` (Streamlit
    redraws a page element by element after each click)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        shown = [tuple(cells[i] for i in columns) for cells in table_rows(page, header)]
        if shown == expected or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    assert shown == expected


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`: typed, as the list is virtualised."""
    page.get_by_label(label, exact=True).first.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).first.click()


def expect_metric(page: Page, label: str, value: str) -> None:
    card = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    expect(card.locator('[data-testid="stMetricValue"]')).to_have_text(value)


def test_first_view_shows_all_listeners_latest_day(
    page: Page, demo_url: str, demo_settings: Settings
) -> None:
    started = time.monotonic()
    page.goto(demo_url)
    expect(page.get_by_text("How people listen")).to_be_visible()
    expect(page.locator('[data-testid="stMetric"]').first).to_be_visible()
    print(f"first view rendered in {time.monotonic() - started:.2f} s")
    [row] = query(
        demo_settings,
        "select listen_date, energy_score, musicality_score, positivity_score, listening_vibe, "
        "minutes_listened from marts.fct_population_daily_listening "
        "order by listen_date desc limit 1",
    )
    expect_metric(page, "Energy score", number(row[1]))
    expect_metric(page, "Musicality score", number(row[2]))
    expect_metric(page, "Positivity score", number(row[3]))
    expect_metric(page, "Listening vibe", row[4])
    expect_metric(page, "Minutes listened", number(row[5], 1))
    week = row[0] - timedelta(days=row[0].weekday())
    songs = query(
        demo_settings,
        "select track_name, plays from marts.fct_population_weekly_top_songs "
        "where week_start = ? and song_rank <= 5 order by song_rank",
        [week],
    )
    expect_rows(
        page,
        "positivity_score",
        [0, 1, 3],
        [(str(rank), n, number(p, 0)) for rank, (n, p) in enumerate(songs, start=1)],
    )


def test_a_listener_and_a_date(page: Page, demo_url: str, demo_settings: Settings) -> None:
    user = sample_user_id(demo_settings)
    page.goto(demo_url)
    choose(page, "Listener", user)
    days = query(
        demo_settings,
        "select listen_date, energy_score, positivity_score, listening_vibe from "
        "marts.fct_daily_listening where user_id = ? order by listen_date",
        [user],
    )
    expect_metric(page, "Energy score", number(days[-1][1]))
    picked = days[0]
    choose(page, "Date", picked[0].isoformat())
    expect_metric(page, "Energy score", number(picked[1]))
    expect_metric(page, "Positivity score", number(picked[2]))
    expect_metric(page, "Listening vibe", picked[3])
    week = picked[0] - timedelta(days=picked[0].weekday())
    songs = query(
        demo_settings,
        "select song_rank, track_name, plays, positivity_score from marts.fct_weekly_top_songs "
        "where user_id = ? and week_start = ? and song_rank <= 5 order by song_rank",
        [user, week],
    )
    # The week's table redraws after the metrics: wait for it, as for every table.
    expect_rows(
        page,
        "positivity_score",
        [0, 1, 3, 5],
        [
            (str(rank), name, number(plays, 0), number(positivity))
            for rank, name, plays, positivity in songs
        ],
    )


def test_search_by_artist(page: Page, demo_url: str, demo_settings: Settings) -> None:
    user = sample_user_id(demo_settings)
    page.goto(demo_url)
    choose(page, "Listener", user)
    box = page.get_by_label("Artist or track name")
    box.fill("lil peep")
    box.press("Enter")
    expected = query(
        demo_settings,
        "select track_name, artist_name, plays from marts.fct_weekly_top_songs "
        "where user_id = ? and (lower(track_name) like '%lil peep%' "
        "or lower(artist_name) like '%lil peep%') order by week_start, song_rank",
        [user],
    )
    assert expected
    expect_rows(page, "week_start", [2, 3, 4], [(t, a, number(p, 0)) for t, a, p in expected])


def test_top_song_number_drill_down(page: Page, demo_url: str, demo_settings: Settings) -> None:
    user = sample_user_id(demo_settings)
    page.goto(demo_url)
    choose(page, "Listener", user)
    [(week, model)] = query(
        demo_settings,
        "select week_start, model_key from marts.fct_prediction_similarity as s "
        "inner join marts.fct_model_performance as m on s.model_name = m.model_name "
        "and s.model_version = m.model_version where s.user_id = ? "
        "order by week_start desc limit 1",
        [user],
    )
    choose(page, "Top Song #", "2")
    [(similarity, cosine)] = query(
        demo_settings,
        "select similarity, cosine_similarity from marts.fct_prediction_similarity "
        "where user_id = ? and week_start = ? and top_song_index = 2",
        [user, week],
    )
    # Both wait for the re-render: songs 1 and 2 may share a similarity but not a cosine.
    expect_metric(page, "Similarity (1 - mean |diff|)", number(similarity))
    expect_metric(page, "Cosine similarity", number(cosine))
    features = query(
        demo_settings,
        "select feature_label, predicted_value, actual_value from marts.fct_predicted_vs_actual "
        "where user_id = ? and week_start = ? and top_song_index = 2 order by audio_feature",
        [user, week],
    )
    expect_rows(
        page, "predicted_value", [0, 1, 2], [(f, number(p), number(a)) for f, p, a in features]
    )
    assert model.startswith("baseline-knn")


def test_model_diagnostics(page: Page, demo_url: str, demo_settings: Settings) -> None:
    page.goto(demo_url)
    page.get_by_text("Model diagnostics", exact=True).click()
    expect(page.get_by_text("How well the models predict")).to_be_visible()
    models = query(
        demo_settings,
        "select model_key, hit_rate, mean_ndcg_at_k from marts.fct_model_performance "
        "order by model_key",
    )
    expect_rows(
        page, "mean_ndcg_at_k", [0, 3, 6], [(k, number(h), number(n)) for k, h, n in models]
    )
    # The first two models, paired on their shared listeners, with intervals drawn as bars.
    reference, candidate = models[0][0], models[1][0]
    compared = query(
        demo_settings,
        "select metric, mean_paired_difference, verdict, shared_listeners "
        "from marts.fct_model_comparison "
        "where reference_model_key = ? and candidate_model_key = ? order by metric_order",
        [reference, candidate],
    )
    shared = max(row[3] for row in compared)
    assert shared > 0 and {row[2] for row in compared} >= {"better", "not tested"}
    expect(page.get_by_text(f"Paired on the {shared} listeners both models served")).to_be_visible()
    expect_rows(page, "p_value_holm", [0, 8], [(m, v) for m, _, v, _ in compared])
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    # The experiment: its decision, no warning, and every metric plain and CUPED-adjusted.
    [(decision, srm_p)] = query(
        demo_settings, "select decision, srm_p_value from marts.fct_experiment_decisions"
    )
    assert srm_p > 0.001
    expect_metric(page, "Decision", decision)
    expect(page.get_by_text("Sample ratio mismatch")).to_have_count(0)
    results = query(
        demo_settings,
        "select metric, p_value, cuped_p_value, coalesce(verdict, 'not in plan') "
        f"from marts.fct_experiment_results order by {EXPERIMENT_ORDER}",
    )
    expect_rows(
        page,
        "cuped_p_value",
        [0, 9, 13, 15],
        [(m, number(p, 4), number(c, 4), v) for m, p, c, v in results],
    )
    choose(page, "Audio feature", "Danceability")
    buckets = query(
        demo_settings,
        "select feature_bucket, skip_rate from marts.fct_feature_engagement "
        "where audio_feature = 'danceability' order by feature_bucket",
    )
    expect_rows(page, "skip_rate", [0, 7], [(str(b), number(s)) for b, s in buckets])


def test_a_sample_ratio_mismatch_is_shown(page: Page, skewed_settings: Settings) -> None:
    """A population split 65/35 against a 50/50 plan: the page warns and the decision is
    invalid, with the chi-square and p-value of the mart."""
    [(chi_square, srm_p)] = query(
        skewed_settings, "select srm_chi_square, srm_p_value from marts.fct_experiment_decisions"
    )
    with serving(skewed_settings) as url:
        page.goto(url)
        page.get_by_text("Model diagnostics", exact=True).click()
        expect(page.get_by_text("Sample ratio mismatch")).to_be_visible()
        expect(page.get_by_text(f"chi-square {number(chi_square, 2)}")).to_be_visible()
        expect(page.get_by_text(f"p = {number(srm_p, 6)}")).to_be_visible()
        expect_metric(page, "Decision", "invalid")


def test_the_first_view_during_a_build_is_the_published_build(
    page: Page, settings: Settings
) -> None:
    assert main(["ingest", "legacy-csv", str(SAMPLE_CSV)]) == 0
    assert main(["build", "--no-checks"]) == 0
    [(minutes,)] = query(
        settings,
        "select minutes_listened from marts.fct_population_daily_listening "
        "order by listen_date desc limit 1",
    )
    # More plays landed: the build under way would change the figures once published.
    assert main(["ingest", "spotify-export", str(FIXTURES / "spotify_export" / "extended")]) == 0
    with serving(settings) as url, paused_build(settings) as build:
        started = time.monotonic()
        page.goto(url)
        expect(page.get_by_text("How people listen")).to_be_visible()
        expect_metric(page, "Minutes listened", number(minutes, 1))
        print(f"first view during a build rendered in {time.monotonic() - started:.2f} s")
        expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Data as of")
        assert build.poll() is None
    assert build.returncode == 0


@contextlib.contextmanager
def pixel_server() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1 that notes every path asked of it: its port and the paths."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()


def _history_with_names(target: Path, names: list[str]) -> None:
    """The bundled sample's first plays of len(names) + 1 tracks, the first ones renamed."""
    with SAMPLE_CSV.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, plays = list(reader.fieldnames or []), list(reader)
    picked: dict[str, dict[str, str]] = {}
    for play in plays:
        picked.setdefault(play["Track ID"], play)
        if len(picked) == len(names) + 1:
            break
    for play, name in zip(picked.values(), names, strict=False):
        play["Track Name"] = name
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(picked.values())


def _no_markup_from_names(page: Page, port: int, asked: list[str]) -> None:
    expect(page.locator(f'img[src*="127.0.0.1:{port}"]')).to_have_count(0)
    expect(page.locator(f'a[href*="127.0.0.1:{port}"]')).to_have_count(0)
    expect(page.locator('a[href*="example.invalid"]')).to_have_count(0)
    assert asked == [], f"the browser fetched {asked} from a track's name"


def test_names_are_text_never_markdown(page: Page, settings: Settings, tmp_path: Path) -> None:
    """Track names are a third party's: one that is a Markdown image must not make the
    browser fetch it, one that is a link must not be a link; both read as they are."""
    link = "[Click here](http://example.invalid)"
    with pixel_server() as (port, asked):
        pixel = f"![x](http://127.0.0.1:{port}/pixel.png)"
        history = tmp_path / "listening_history.csv"
        _history_with_names(history, [pixel, link])
        assert main(["ingest", "legacy-csv", str(history)]) == 0
        assert main(["build", "--no-checks"]) == 0
        with serving(settings) as url:
            page.goto(url)
            # The search box comes after the week's top songs: the table has been drawn.
            expect(page.get_by_label("Artist or track name")).to_be_visible()
            page.wait_for_timeout(1000)  # time for an image to be fetched, were there one
            _no_markup_from_names(page, port, asked)
            shown = {row[1] for row in table_rows(page, "positivity_score")}
            assert {pixel, link} <= shown
            # Nor a CSV of them from the grid, which would hold formulas as they are.
            expect(page.locator('button[aria-label="Download as CSV"]')).to_have_count(0)

            box = page.get_by_label("Artist or track name")
            box.fill("click here")
            box.press("Enter")
            expect_rows(page, "week_start", [2], [(link,)])
            box.fill("pixel.png")
            box.press("Enter")
            expect_rows(page, "week_start", [2], [(pixel,)])
            # The search text is echoed as typed, not as Markdown.
            missing = "[Nobody](http://example.invalid/nobody)"
            box.fill(missing)
            box.press("Enter")
            echo = f"No top song in the range matches “{missing}”."
            expect(page.get_by_text(echo, exact=True)).to_be_visible()
            _no_markup_from_names(page, port, asked)


def test_an_empty_warehouse_gets_a_message(browser: Browser, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "empty")
    with serving(settings) as url:
        context = browser.new_context()
        empty = context.new_page()
        empty.set_default_timeout(TIMEOUT_MS)
        empty.goto(url)
        alert = empty.locator('[data-testid="stAlert"]')
        expect(alert).to_contain_text("No warehouse at")
        expect(alert).to_contain_text("spotiflow build")
        assert "Traceback" not in empty.content()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        empty.screenshot(path=str(SCREENSHOTS / "test_an_empty_warehouse_gets_a_message.png"))
        context.close()


def test_the_dashboard_reads_marts_only_and_its_exposure_says_which(demo_settings: Settings):
    import json
    import re

    from spotiflow.serve.dashboard.marts import REQUIRED_MARTS

    code = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (PROJECT_DIR / "spotiflow" / "serve" / "dashboard").glob("*.py")
    )
    read = set(re.findall(r"\bmarts\.((?:fct|dim)_[a-z_]+)", code))
    assert read == set(REQUIRED_MARTS)
    for layer in ("staging.", "intermediate.", "reference.", "read_parquet", "lake"):
        assert layer not in code, layer
    manifest = json.loads((demo_artifacts(demo_settings) / "manifest.json").read_text("utf-8"))
    exposure = manifest["exposures"]["exposure.spotiflow.spotiflow_dashboard"]
    assert {node.split(".")[-1] for node in exposure["depends_on"]["nodes"]} == read


def test_the_command_refuses_a_bad_port(settings: Settings, capsys) -> None:
    from spotiflow.cli import main

    assert main(["dashboard", "--port", "70000"]) != 0
    assert "--port 70000: expected 1..65535" in capsys.readouterr().err
