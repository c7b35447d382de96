"""`spotiflow ingest spotify-api` against a fake Spotify on 127.0.0.1: once each, faults, gaps."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.identity import user_id_for
from ingest.lake.landing import SCHEMA_FILE, Lake
from ingest.sources.spotify_api.auth import build_auth_manager
from ingest.sources.spotify_api.client import SpotifyClient
from ingest.sources.spotify_api.poll import FEATURES_REFUSED, PollState, poll_once, single_poller
from ingest.sources.spotify_api.settings import SpotifySettings
from spotiflow.cli import main
from spotiflow.errors import SpotiflowError
from spotiflow.settings import Settings
from tests.support import fake_spotify
from tests.support.fake_spotify import (
    ACCOUNT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeSpotify,
    Fault,
)
from tests.support.helpers import PROJECT_DIR, query

RECENT = "/v1/me/player/recently-played"
START = datetime(2026, 11, 20, 8, 0)


@pytest.fixture
def fake(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeSpotify]:
    fake = FakeSpotify()
    server, thread = fake_spotify.start(fake)
    environment = {
        "SPOTIPY_CLIENT_ID": fake_spotify.CLIENT_ID,
        "SPOTIPY_CLIENT_SECRET": CLIENT_SECRET,
        "SPOTIPY_REDIRECT_URI": "http://127.0.0.1:8888/callback",
        "SPOTIFLOW_SPOTIFY_API_URL": f"{fake.base_url}/v1/",
        "SPOTIFLOW_SPOTIFY_TOKEN_URL": f"{fake.base_url}/api/token",
        "SPOTIFLOW_SPOTIFY_REFRESH_TOKEN": REFRESH_TOKEN,
        "SPOTIFLOW_SPOTIFY_TIMEOUT": "0.5",
        "SPOTIFLOW_SPOTIFY_MAX_RETRY_AFTER": "2",
        "SPOTIFLOW_SPOTIFY_BACKOFF": "0",
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def poll(settings: Settings, sleeps: list[float] | None = None):
    """One poll in-process, with waits recorded instead of slept."""
    api = SpotifySettings.from_env(PROJECT_DIR)
    recorded = sleeps if sleeps is not None else []
    client = SpotifyClient(api, build_auth_manager(api), sleep=recorded.append)
    return poll_once(settings, client, None)


def lake_rows(settings: Settings, entity: str) -> list[dict]:
    lake = Lake(settings.lake_dir)
    committed = lake.committed_load_ids()
    files = sorted(p for p in lake.entity_dir(entity).glob("*.parquet") if p.name != SCHEMA_FILE)
    return [r for p in files if p.stem in committed for r in pq.read_table(p).to_pylist()]


def landed_plays(settings: Settings) -> set[tuple[str, datetime]]:
    """(track, played_at) of every landed play, asserting none landed twice."""
    rows = lake_rows(settings, "plays")
    keys = [(r["track_id"], r["played_at"]) for r in rows]
    assert len(keys) == len(set(keys)), "a play landed twice"
    return set(keys)


def served(fake: FakeSpotify) -> set[tuple[str, datetime]]:
    return {
        (fake.track(number)["id"], datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None))
        for ms, number in fake.plays
    }


def cursor(settings: Settings) -> int | None:
    return PollState(settings, user_id_for(ACCOUNT_ID, settings)).cursor()


def test_the_first_poll_lands_what_is_reachable_with_tracks_artists_features(
    settings: Settings, fake: FakeSpotify, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.listen(30, START)
    assert main(["ingest", "spotify-api"]) == 0
    assert "spotify-api: 30 new play(s)" in capsys.readouterr().out
    assert landed_plays(settings) == served(fake)
    plays = lake_rows(settings, "plays")
    assert {p["user_id"] for p in plays} == {user_id_for(ACCOUNT_ID, settings)}
    assert {p["played_at_precision"] for p in plays} == {"second"}
    assert cursor(settings) == max(ms for ms, _ in fake.plays)
    tracks = {t["track_id"]: t for t in lake_rows(settings, "tracks")}
    assert len(tracks) == 12
    first = tracks[fake.track(0)["id"]]
    assert (first["duration_ms"], first["popularity"]) == (180_000, 50)
    artists = {a["artist_id"]: a for a in lake_rows(settings, "artists")}
    assert len(artists) == 6
    assert artists[fake.artist(2)["id"]]["genres"] == "genre 2, fixture pop"
    assert artists[fake.artist(2)["id"]]["followers"] == 3000
    assert len(lake_rows(settings, "audio_features")) == 12
    # The capture is gone once landed; state lives outside the lake.
    assert not list((settings.data_dir / "captures").rglob("*.json"))


def test_repeated_and_overlapping_polls_land_each_play_once(
    settings: Settings, fake: FakeSpotify
) -> None:
    moment = START
    for count in (5, 0, 12, 49, 3, 0, 1):
        if count:
            added = fake.listen(count, moment)
            moment = datetime.fromtimestamp(added[-1][0] / 1000 + 300, UTC).replace(tzinfo=None)
        outcome = poll(settings)
        assert outcome.gap is None
        assert outcome.new_plays == count
        assert landed_plays(settings) == served(fake)
    # Overlap on purpose: forget the cursor, so the next poll sees 50 plays it already has.
    PollState(settings, user_id_for(ACCOUNT_ID, settings)).cursor_file.unlink()
    poll(settings)
    rows = lake_rows(settings, "plays")
    assert len({r["play_id"] for r in rows}) == len(served(fake)) == 70
    assert main(["build", "--no-checks"]) == 0
    assert query(settings, "select count(*), count(distinct play_id) from marts.fct_plays") == [
        (70, 70)
    ]


def test_a_poll_that_comes_too_late_records_the_gap(
    settings: Settings, fake: FakeSpotify, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.listen(10, START)
    assert main(["ingest", "spotify-api"]) == 0
    last_seen = cursor(settings)
    later = fake.listen(70, datetime(2026, 11, 21, 8, 0))
    assert main(["ingest", "spotify-api"]) == 0
    out = capsys.readouterr().out
    assert "may be missing" in out and "marts.fct_coverage_gaps" in out
    (gap,) = lake_rows(settings, "coverage_gaps")
    assert gap["gap_from"] == datetime.fromtimestamp(last_seen / 1000, UTC).replace(tzinfo=None)
    oldest_reachable = sorted(later)[-50][0]
    assert gap["gap_to"] == datetime.fromtimestamp(oldest_reachable / 1000, UTC).replace(
        tzinfo=None
    )
    # 20 plays were never reachable; the 60 that were landed, once.
    assert len(landed_plays(settings)) == 60
    fake.listen(5, datetime(2026, 11, 22, 8, 0))
    assert main(["ingest", "spotify-api"]) == 0
    assert len(lake_rows(settings, "coverage_gaps")) == 1
    assert len(landed_plays(settings)) == 65


def test_rate_limits_within_the_bound_are_waited_for(settings: Settings, fake: FakeSpotify) -> None:
    fake.listen(8, START)
    fake.fail(RECENT, Fault(status=429, retry_after=1), Fault(status=429, retry_after=2))
    sleeps: list[float] = []
    outcome = poll(settings, sleeps)
    assert sleeps == [1.0, 2.0]
    assert outcome.new_plays == 8 and landed_plays(settings) == served(fake)


def test_a_long_retry_after_stops_cleanly_and_changes_nothing(
    settings: Settings, fake: FakeSpotify, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.listen(8, START)
    assert main(["ingest", "spotify-api"]) == 0
    before = cursor(settings)
    fake.listen(4, datetime(2026, 11, 21, 8, 0))
    fake.fail(RECENT, Fault(status=429, retry_after=3600))
    started = time.monotonic()
    assert main(["ingest", "spotify-api"]) == 2
    assert time.monotonic() - started < 10  # not an hour
    err = capsys.readouterr().err
    assert "asks to wait 3600 s, more than the 2 s allowed" in err and "Traceback" not in err
    assert cursor(settings) == before and len(landed_plays(settings)) == 8
    # The next run picks up where the last good one ended.
    assert main(["ingest", "spotify-api"]) == 0
    assert landed_plays(settings) == served(fake)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(settings: Settings, fake: FakeSpotify, status: int) -> None:
    fake.listen(6, START)
    fake.fail(RECENT, Fault(status=status), Fault(status=status))
    fake.fail("/v1/artists", Fault(status=status))
    sleeps: list[float] = []
    assert poll(settings, sleeps).new_plays == 6
    assert len(sleeps) == 3 and landed_plays(settings) == served(fake)


def test_persistent_server_errors_stop_cleanly(
    settings: Settings, fake: FakeSpotify, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.listen(6, START)
    fake.fail(RECENT, *[Fault(status=503)] * 4)
    assert main(["ingest", "spotify-api"]) == 2
    assert "did not answer properly after 4 attempts (HTTP 503)" in capsys.readouterr().err
    assert cursor(settings) is None and not lake_rows(settings, "plays")


def test_a_slow_answer_times_out_and_is_retried(settings: Settings, fake: FakeSpotify) -> None:
    fake.listen(6, START)
    fake.fail(RECENT, Fault(delay=1.0))
    sleeps: list[float] = []
    assert poll(settings, sleeps).new_plays == 6
    assert len(sleeps) == 1 and landed_plays(settings) == served(fake)


def test_an_expired_access_token_is_refreshed_once(settings: Settings, fake: FakeSpotify) -> None:
    fake.listen(6, START)
    fake.fail(RECENT, Fault(status=401))
    assert poll(settings).new_plays == 6
    assert len(fake.calls("/api/token")) == 2  # the first token, then one refresh
    assert landed_plays(settings) == served(fake)


def test_a_revoked_refresh_token_asks_for_a_new_login(
    settings: Settings, fake: FakeSpotify, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.listen(6, START)
    assert main(["ingest", "spotify-api"]) == 0
    before = cursor(settings)
    fake.revoked.add(REFRESH_TOKEN)
    fake.listen(3, datetime(2026, 11, 21, 8, 0))
    assert main(["ingest", "spotify-api"]) == 2
    err = capsys.readouterr().err
    assert "refused the refresh token" in err and "run `spotiflow auth` again" in err
    assert cursor(settings) == before and len(landed_plays(settings)) == 6


def test_without_an_app_the_message_says_what_to_set(
    settings: Settings, fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.delenv("SPOTIPY_CLIENT_ID")
    monkeypatch.delenv("SPOTIPY_CLIENT_SECRET")
    assert main(["ingest", "spotify-api"]) == 2
    err = capsys.readouterr().err
    assert "set SPOTIPY_CLIENT_ID, SPOTIPY_CLIENT_SECRET" in err and "Traceback" not in err


def test_without_a_login_an_unattended_run_never_prompts(
    settings: Settings, fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.delenv("SPOTIFLOW_SPOTIFY_REFRESH_TOKEN")
    assert main(["ingest", "spotify-api"]) == 2
    assert "run `spotiflow auth` once" in capsys.readouterr().err
    assert not fake.calls(RECENT)


def test_development_mode_falls_back_and_says_so_once(
    settings: Settings, fake: FakeSpotify, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.app_kind = "development"
    fake.listen(20, START)
    assert main(["ingest", "spotify-api"]) == 0
    out = capsys.readouterr().out
    assert out.count(FEATURES_REFUSED) == 1
    assert out.count("refuses batch lookups to this app (Development Mode)") == 1
    assert landed_plays(settings) == served(fake)
    assert {t["popularity"] for t in lake_rows(settings, "tracks")} == {None}
    artists = lake_rows(settings, "artists")
    assert len(artists) == 6 and {a["followers"] for a in artists} == {None}
    assert len(fake.calls("/v1/artists")) == 1  # the batch, refused once
    assert not lake_rows(settings, "audio_features")


def test_enrichment_asks_only_for_ids_the_lake_lacks(settings: Settings, fake: FakeSpotify) -> None:
    fake.listen(12, START)
    poll(settings)
    artist_calls, feature_calls = (
        len(fake.calls("/v1/artists")),
        len(fake.calls("/v1/audio-features")),
    )
    fake.listen(12, datetime(2026, 11, 21, 8, 0))  # the same 12 tracks again
    assert poll(settings).new_plays == 12
    assert len(fake.calls("/v1/artists")) == artist_calls
    assert len(fake.calls("/v1/audio-features")) == feature_calls


def test_a_crash_between_capture_and_landing_is_finished_by_the_next_run(
    settings: Settings, fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.listen(15, START)
    land = Lake.land

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # as if killed after the capture was written, while landing

    monkeypatch.setattr(Lake, "land", die)
    with pytest.raises(KeyboardInterrupt):
        poll(settings)
    state = PollState(settings, user_id_for(ACCOUNT_ID, settings))
    assert len(state.pending()) == 1 and state.cursor() is None
    monkeypatch.setattr(Lake, "land", land)
    fake.listen(4, datetime(2026, 11, 21, 8, 0))
    poll(settings)
    assert landed_plays(settings) == served(fake) and not state.pending()


def test_kill_9_during_a_poll_then_the_next_run_completes(
    settings: Settings, fake: FakeSpotify
) -> None:
    fake.listen(25, START)
    # Kill the poll while it waits on each of its calls in turn (the fake holds the answer).
    for path in (RECENT, "/v1/artists", "/v1/audio-features"):
        fake.fail(path, Fault(delay=30))
        calls_before = len(fake.calls(path))
        process = subprocess.Popen(
            [sys.executable, "-m", "spotiflow.cli", "ingest", "spotify-api"],
            env={**os.environ, "SPOTIFLOW_SPOTIFY_TIMEOUT": "60"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(fake.calls(path)) == calls_before:
            assert time.monotonic() < deadline, f"the poll never reached {path}"
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        fake.faults[path].clear()
        # Nothing of the killed poll is visible: no play landed, the cursor did not move.
        assert not lake_rows(settings, "plays") and cursor(settings) is None
    assert main(["ingest", "spotify-api"]) == 0
    assert landed_plays(settings) == served(fake)
    assert main(["ingest", "spotify-api"]) == 0
    assert landed_plays(settings) == served(fake)


def test_a_second_poll_at_once_exits_clearly(
    settings: Settings, fake: FakeSpotify, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.listen(5, START)
    with single_poller(settings):
        assert main(["ingest", "spotify-api"]) == 2
    assert "another `spotiflow ingest spotify-api` is running" in capsys.readouterr().err
    assert main(["ingest", "spotify-api"]) == 0


def test_no_secret_reaches_output_logs_or_files(
    settings: Settings, fake: FakeSpotify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # A token cache as `spotiflow auth` leaves it, instead of the environment's token.
    monkeypatch.delenv("SPOTIFLOW_SPOTIFY_REFRESH_TOKEN")
    cache = tmp_path / "home" / ".config" / "spotiflow" / "spotify-token.json"
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"access_token": "stale", "token_type": "Bearer",
                                 "expires_at": 0, "refresh_token": REFRESH_TOKEN,
                                 "scope": fake_spotify.SCOPE}))  # fmt: skip
    # A temporary file an interrupted save left, readable by everyone.
    leftover = cache.with_name(f".{cache.name}.tmp")
    leftover.write_text("{}")
    leftover.chmod(0o644)
    caplog.set_level(logging.DEBUG)
    fake.listen(10, START)
    fake.fail(RECENT, Fault(status=401), Fault(status=500))
    assert main(["ingest", "spotify-api"]) == 0
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["refresh_token"] == REFRESH_TOKEN  # kept
    secrets = [REFRESH_TOKEN, CLIENT_SECRET, *fake.issued, ACCOUNT_ID]
    assert len(fake.issued) == 2
    captured = capsys.readouterr()
    seen = captured.out + captured.err + caplog.text
    for path in settings.data_dir.rglob("*"):
        if path.is_file():
            seen += path.read_bytes().decode("utf-8", errors="replace")
    for secret in secrets:
        assert secret not in seen, secret


def test_a_rate_limit_that_never_ends_stops_within_the_waiting_budget(
    settings: Settings, fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPOTIFLOW_SPOTIFY_MAX_WAIT", "5")
    fake.listen(8, START)
    fake.fail(RECENT, *[Fault(status=429, retry_after=1)] * 1000)
    sleeps: list[float] = []
    with pytest.raises(SpotiflowError, match="more than 5 s in all"):
        poll(settings, sleeps)
    assert sleeps == [1.0] * 5
    assert landed_plays(settings) == set()


def test_a_token_endpoint_failing_with_a_json_body_is_backed_off(
    settings: Settings, fake: FakeSpotify
) -> None:
    fake.listen(8, START)
    fake.fail("/api/token", Fault(status=503))
    outcome = poll(settings)
    assert outcome.new_plays == 8
