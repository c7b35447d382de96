"""A fake Spotify Web API and accounts service on 127.0.0.1, with the real response shapes.

Tests control the account's listening history, the app's kind (extended quota, or Development
Mode with its 403s and missing fields) and a queue of faults per path (429 with Retry-After,
5xx, slow answers, an expired access token). Every request is logged for assertions.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-5f1b9c"
REFRESH_TOKEN = "fake-refresh-token-8d2e4a"
ACCOUNT_ID = "fixture-account-42"
SCOPE = "user-read-recently-played user-top-read"
REACHABLE = 50  # recently played reaches only the last 50 plays


@dataclass(frozen=True)
class Fault:
    """What the next request to a path gets instead of its answer."""

    status: int | None = None  # 429, 500, 502, 503, 401
    retry_after: int | None = None
    delay: float = 0.0  # seconds to sleep before answering (longer than the client's timeout)


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    query: dict[str, list[str]]
    authorized: bool


def _track_id(number: int) -> str:
    return f"{number:022d}".replace("0", "A")[:22]


def _artist_id(number: int) -> str:
    return f"{number:022d}".replace("0", "R")[:22]


@dataclass
class FakeSpotify:
    app_kind: str = "extended"  # or "development"
    plays: list[tuple[int, int]] = field(default_factory=list)  # (played_at ms, track number)
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[Logged] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- what a test controls -------------------------------------------------------------
    def listen(self, count: int, start: datetime, every_seconds: int = 200) -> list[tuple]:
        """Add `count` plays from `start` on, cycling through 12 tracks of 6 artists."""
        start_ms = int(start.replace(tzinfo=UTC).timestamp() * 1000)
        with self.lock:
            added = [
                (start_ms + n * every_seconds * 1000 + 123, (len(self.plays) + n) % 12)
                for n in range(count)
            ]
            self.plays.extend(added)
        return added

    def fail(self, path: str, *faults: Fault) -> None:
        self.faults[path].extend(faults)

    def expire_tokens(self) -> None:
        """Every access token handed out so far stops working (as after an hour)."""
        with self.lock:
            self.access_tokens.clear()

    def calls(self, path: str) -> list[Logged]:
        return [r for r in self.requests if r.path == path]

    # --- objects as Spotify shapes them ---------------------------------------------------
    def artist(self, number: int) -> dict[str, Any]:
        artist_id = _artist_id(number)
        body: dict[str, Any] = {
            "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
            "genres": [f"genre {number}", "fixture pop"],
            "href": f"{self.base_url}/v1/artists/{artist_id}",
            "id": artist_id,
            "images": [],
            "name": f"Artist {number}",
            "type": "artist",
            "uri": f"spotify:artist:{artist_id}",
        }
        if self.app_kind == "extended":
            body["popularity"] = 40 + number
            body["followers"] = {"href": None, "total": 1000 * (number + 1)}
        return body

    def _simple_artist(self, number: int) -> dict[str, Any]:
        full = self.artist(number)
        return {k: full[k] for k in ("external_urls", "href", "id", "name", "type", "uri")}

    def track(self, number: int) -> dict[str, Any]:
        track_id = _track_id(number)
        artists = [self._simple_artist(number % 6)]
        if number % 4 == 0:
            artists.append(self._simple_artist((number + 1) % 6))
        body: dict[str, Any] = {
            "album": {
                "album_type": "album",
                "artists": artists[:1],
                "href": f"{self.base_url}/v1/albums/album{number}",
                "id": f"album{number}",
                "images": [{"url": "https://i.scdn.co/image/x", "height": 640, "width": 640}],
                "name": f"Album {number // 2}",
                "release_date": "2024-01-01",
                "release_date_precision": "day",
                "total_tracks": 10,
                "type": "album",
                "uri": f"spotify:album:album{number}",
            },
            "artists": artists,
            "disc_number": 1,
            "duration_ms": 180_000 + number * 1000,
            "explicit": False,
            "external_ids": {"isrc": f"USFX0{number:07d}"},
            "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
            "href": f"{self.base_url}/v1/tracks/{track_id}",
            "id": track_id,
            "is_local": False,
            "name": f"Track {number}",
            "preview_url": None,
            "track_number": number % 10 + 1,
            "type": "track",
            "uri": f"spotify:track:{track_id}",
        }
        if self.app_kind == "extended":
            body["popularity"] = 50 + number
            body["available_markets"] = ["DE", "US"]
        return body

    def features(self, number: int) -> dict[str, Any]:
        track_id = _track_id(number)
        step = number / 12
        return {
            "acousticness": round(step, 4), "danceability": round(1 - step, 4),
            "energy": 0.5, "instrumentalness": 0.0, "liveness": 0.1, "speechiness": 0.05,
            "valence": round((number % 5) / 4, 4), "key": number % 12, "loudness": -6.5,
            "mode": number % 2, "tempo": 120.0 + number, "time_signature": 4,
            "duration_ms": 180_000 + number * 1000, "type": "audio_features", "id": track_id,
            "uri": f"spotify:track:{track_id}",
            "track_href": f"{self.base_url}/v1/tracks/{track_id}",
            "analysis_url": f"{self.base_url}/v1/audio-analysis/{track_id}",
        }  # fmt: skip

    def played_at(self, ms: int) -> str:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"

    def recently_played(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["20"])[0])
        after = int(query["after"][0]) if "after" in query else None
        before = int(query["before"][0]) if "before" in query else None
        with self.lock:
            reachable = sorted(self.plays, reverse=True)[:REACHABLE]
        matching = [
            p
            for p in reachable
            if (after is None or p[0] > after) and (before is None or p[0] < before)
        ]
        page = matching[:limit]
        href = f"{self.base_url}/v1/me/player/recently-played?limit={limit}"
        items = [
            {
                "track": self.track(number),
                "played_at": self.played_at(ms),
                "context": None
                if number % 3
                else {
                    "type": "playlist",
                    "href": f"{self.base_url}/v1/playlists/pl1",
                    "external_urls": {"spotify": "https://open.spotify.com/playlist/pl1"},
                    "uri": "spotify:playlist:pl1",
                },
            }
            for ms, number in page
        ]
        more = len(matching) > len(page)
        return {
            "items": items,
            "next": f"{href}&before={page[-1][0]}" if page and more else None,
            "cursors": {"after": str(page[0][0]), "before": str(page[-1][0])} if page else None,
            "limit": limit,
            "href": href,
        }

    # --- the server -----------------------------------------------------------------------
    def new_access_token(self) -> str:
        token = f"fake-access-token-{next(self._counter)}"
        with self.lock:
            self.access_tokens.add(token)
            self.issued.append(token)
        return token


def _error(status: int, message: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {"status": status}
    if message is not None:
        error["message"] = message
    return {"error": error}


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict | None, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _fault(self, path: str) -> bool:
        fake = self.server.fake
        with fake.lock:
            queue = fake.faults.get(path)
            fault = queue.popleft() if queue else None
        if fault is None:
            return False
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status == 401:
            fake.expire_tokens()
            self._send(401, _error(401, "The access token expired"))
        elif fault.status == 429:
            self._send(429, _error(429, "API rate limit exceeded"),
                       {"Retry-After": str(fault.retry_after or 1)})  # fmt: skip
        elif fault.status:
            self._send(fault.status, _error(fault.status, None))
        else:
            return False  # a slow but otherwise normal answer
        return True

    def do_POST(self) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        fake.requests.append(Logged("POST", path, {}, "Authorization" in self.headers))
        if path != "/api/token":
            self._send(404, _error(404, "Service not found"))
            return
        if self._fault(path):
            return
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self._send(400, {"error": "invalid_client", "error_description": "Invalid client"})
            return
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if form.get("refresh_token") in fake.revoked or not form.get("refresh_token"):
                self._send(400, {"error": "invalid_grant",
                                 "error_description": "Refresh token revoked"})  # fmt: skip
                return
            # Spotify often answers a refresh without a new refresh token: keep the old one.
            self._send(200, {"access_token": fake.new_access_token(), "token_type": "Bearer",
                             "expires_in": 3600, "scope": SCOPE})  # fmt: skip
        elif grant == "authorization_code" and form.get("code") == "fake-auth-code":
            self._send(200, {"access_token": fake.new_access_token(), "token_type": "Bearer",
                             "expires_in": 3600, "scope": SCOPE,
                             "refresh_token": REFRESH_TOKEN})  # fmt: skip
        else:
            self._send(400, {"error": "invalid_grant", "error_description": "Invalid code"})

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")  # spotipy asks for some paths with a trailing slash
        query = parse_qs(parts.query)
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        authorized = token in fake.access_tokens
        fake.requests.append(Logged("GET", path, query, authorized))
        if self._fault(path):
            return
        if not authorized:
            self._send(401, _error(401, "The access token expired"))
            return
        development = fake.app_kind == "development"
        ids = query.get("ids", [""])[0].split(",") if "ids" in query else []
        if path == "/v1/me":
            body: dict[str, Any] = {
                "display_name": "Fixture Listener", "id": ACCOUNT_ID, "type": "user",
                "uri": f"spotify:user:{ACCOUNT_ID}", "href": f"{fake.base_url}/v1/users/x",
                "external_urls": {}, "images": [],
            }  # fmt: skip
            if not development:
                body.update(email="fixture.listener@example.com", country="DE", product="premium")
            self._send(200, body)
        elif path == "/v1/me/player/recently-played":
            self._send(200, fake.recently_played(query))
        elif path == "/v1/artists" and development:
            self._send(403, _error(403, "Forbidden"))
        elif path == "/v1/artists":
            numbers = [_number(i, _artist_id) for i in ids]
            self._send(200, {"artists": [fake.artist(n) if n is not None else None
                                         for n in numbers]})  # fmt: skip
        elif path.startswith("/v1/artists/"):
            number = _number(path.rsplit("/", 1)[1], _artist_id)
            if number is None:
                self._send(404, _error(404, "Resource not found"))
            else:
                self._send(200, fake.artist(number))
        elif path == "/v1/audio-features" and development:
            # Apps registered after 2024-11-27: 403 without a message.
            self._send(403, _error(403, None))
        elif path == "/v1/audio-features":
            numbers = [_number(i, _track_id) for i in ids]
            self._send(200, {"audio_features": [fake.features(n) if n is not None else None
                                                for n in numbers]})  # fmt: skip
        elif path == "/v1/tracks" and development:
            self._send(403, _error(403, "Forbidden"))
        else:
            self._send(404, _error(404, "Service not found"))


def _number(spotify_id: str, make_id) -> int | None:
    for number in range(64):
        if make_id(number) == spotify_id:
            return number
    return None


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSpotify) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake
        fake.base_url = f"http://127.0.0.1:{self.server_address[1]}"


def start(fake: FakeSpotify) -> tuple[FakeServer, threading.Thread]:
    server = FakeServer(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
