"""A local stand-in for the Spotify Web API and its token endpoint, as in ``docs/spotify.md``.

One server answers both roots: the accounts base is :attr:`SpotifyEmulator.accounts_base`
(token at ``api/token``) and the API base :attr:`SpotifyEmulator.api_base` (``…/v1/``).
Like the development-mode API of 2026: playlist entries only from
``/playlists/{id}/items``, at most 50 a page (``/tracks`` answers 403); each entry has
``item`` and the deprecated ``track``; entries can be local files, podcast episodes or
null (a track removed from the catalogue); tracks carry no ``popularity`` or
``available_markets``; audio features and recommendations answer 403; search refuses
``limit`` above 10; ``snapshot_id`` changes with every edit; a rolling 30-second window
answers 429 with ``Retry-After``; private playlists need the owner's user token.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from soundcloud_sync_tests.emulators.base import BackgroundServer, RateWindow, retry_after_header

PAGE_LIMIT = 50  # entries per /items page
SEARCH_LIMIT = 10
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CLOSED = ("audio-features", "audio-analysis", "recommendations", "artists/related")


def spotify_id(seed: str) -> str:
    """A 22-character base62 id, stable for a seed (the shape of real Spotify ids)."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:17], "big")
    chars = []
    for _ in range(22):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


@dataclass
class SpotifyTrack:
    id: str
    name: str
    artists: list[str]
    duration_ms: int
    isrc: str | None = None
    album: str = "Single"
    release_date: str = "2024-05-01"

    def json(self) -> dict[str, Any]:
        album_id = spotify_id(f"album:{self.album}:{self.artists[0]}")
        return {
            "type": "track",
            "id": self.id,
            "uri": f"spotify:track:{self.id}",
            "href": f"https://api.spotify.com/v1/tracks/{self.id}",
            "name": self.name,
            "artists": [
                {"id": spotify_id(f"artist:{a}"), "name": a, "type": "artist"} for a in self.artists
            ],
            "album": {
                "id": album_id,
                "name": self.album,
                "release_date": self.release_date,
                "release_date_precision": "day",
                "images": [{"url": f"https://i.scdn.co/image/{album_id}", "width": 640}],
            },
            "duration_ms": self.duration_ms,
            "explicit": False,
            "is_local": False,
            "external_ids": {"isrc": self.isrc} if self.isrc else {},
            "external_urls": {"spotify": f"https://open.spotify.com/track/{self.id}"},
        }


@dataclass
class Entry:
    """One place in a playlist: a track, an episode, a local file or a removed track."""

    kind: str  # track | episode | local | removed
    track: SpotifyTrack | None = None
    name: str = ""
    added_at: str = "2025-01-01T00:00:00Z"

    def item(self) -> dict[str, Any] | None:
        if self.kind == "track" and self.track is not None:
            return self.track.json()
        if self.kind == "episode":
            eid = spotify_id(f"episode:{self.name}")
            return {"type": "episode", "id": eid, "name": self.name, "duration_ms": 1_800_000,
                    "uri": f"spotify:episode:{eid}",
                    "external_urls": {"spotify": f"https://open.spotify.com/episode/{eid}"}}  # fmt: skip
        if self.kind == "local":
            return {"type": "track", "id": None, "uri": f"spotify:local:::{self.name}:200",
                    "name": self.name, "artists": [{"id": None, "name": ""}],
                    "album": {"id": None, "name": ""}, "duration_ms": 200_000,
                    "is_local": True, "external_ids": {}, "external_urls": {}}  # fmt: skip
        return None  # removed from Spotify's catalogue

    def json(self, owner: str) -> dict[str, Any]:
        item = self.item()
        return {
            "added_at": self.added_at,
            "added_by": {"id": owner, "type": "user"},
            "is_local": self.kind == "local",
            "item": item,
            "track": item,  # the deprecated name, still sent during the transition
        }


@dataclass
class SpotifyPlaylist:
    id: str
    name: str
    owner_id: str
    owner_name: str
    description: str = ""
    public: bool = True
    collaborative: bool = False
    entries: list[Entry] = field(default_factory=list)
    version: int = 1

    @property
    def snapshot_id(self) -> str:
        return base64.b64encode(f"{self.version}:{self.id}".encode()).decode()

    @property
    def url(self) -> str:
        return f"https://open.spotify.com/playlist/{self.id}"

    def json(self, api_base: str) -> dict[str, Any]:
        summary = self.page(api_base, 0, PAGE_LIMIT)
        return {
            "id": self.id,
            "type": "playlist",
            "uri": f"spotify:playlist:{self.id}",
            "name": self.name,
            "description": self.description,
            "public": self.public,
            "collaborative": self.collaborative,
            "owner": {"id": self.owner_id, "display_name": self.owner_name, "type": "user"},
            "snapshot_id": self.snapshot_id,
            "images": [{"url": f"https://mosaic.scdn.co/640/{self.id}", "width": 640}],
            "external_urls": {"spotify": self.url},
            "items": summary,
            "tracks": summary,  # the deprecated name
        }

    def page(self, api_base: str, offset: int, limit: int) -> dict[str, Any]:
        href = f"{api_base}playlists/{self.id}/items"
        following = offset + limit
        return {
            "href": f"{href}?{urlencode({'offset': offset, 'limit': limit})}",
            "limit": limit,
            "offset": offset,
            "total": len(self.entries),
            "next": f"{href}?{urlencode({'offset': following, 'limit': limit})}"
            if following < len(self.entries)
            else None,
            "previous": None
            if offset == 0
            else f"{href}?{urlencode({'offset': max(0, offset - limit), 'limit': limit})}",
            "items": [e.json(self.owner_id) for e in self.entries[offset:following]],
        }


def select_fields(value: Any, spec: str) -> Any:
    """Apply a ``fields`` filter (``a,b(c,d),e.f``) the way the Web API does."""
    tree = _parse_fields(spec)
    return _apply(value, tree)


def _parse_fields(spec: str) -> dict[str, Any]:
    """``a,b(c,d),e.f`` -> ``{"a": {}, "b": {"c": {}, "d": {}}, "e": {"f": {}}}``."""
    tree: dict[str, Any] = {}
    pos = 0

    def parse(level: dict[str, Any]) -> None:
        nonlocal pos
        name = ""
        while pos < len(spec):
            char = spec[pos]
            pos += 1
            if char == "(":
                parse(_insert(level, name))
                name = ""
            elif char == ")":
                break
            elif char == ",":
                if name:
                    _insert(level, name)
                name = ""
            else:
                name += char
        if name:
            _insert(level, name)

    parse(tree)
    return tree


def _insert(level: dict[str, Any], dotted: str) -> dict[str, Any]:
    """Add ``a.b.c`` as nested keys; the innermost dict (where a ``(…)`` list goes)."""
    for part in dotted.strip().split("."):
        level = level.setdefault(part, {})
    return level


def _apply(value: Any, tree: dict[str, Any]) -> Any:
    if not tree:
        return value
    if isinstance(value, list):
        return [_apply(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: _apply(value[k], sub) for k, sub in tree.items() if k in value}


class SpotifyEmulator(BackgroundServer):
    """Threaded local Spotify; a context manager. Add playlists, then point spotipy at it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = "emulator-client-id-0123456789abcd",
        client_secret: str = "emulator-client-secret-0123456789",
        rate_limit: int = 180,
        rate_window: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user id
        self.tokens: dict[str, str | None] = {}  # access token -> user id (None: app only)
        self.playlists: dict[str, SpotifyPlaylist] = {}
        self.tracks: dict[str, SpotifyTrack] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.log: list[tuple[str, int, str]] = []  # (endpoint, status, path)
        self._rate = RateWindow(rate_limit, rate_window)
        self._lock = threading.RLock()

    # ---- lifecycle

    def start(self) -> SpotifyEmulator:
        handler = type("_Handler", (_Handler,), {"emulator": self})
        server = ThreadingHTTPServer((self.host, self.port), handler)
        self.port = server.server_address[1]
        return self._serve(server, "spotify-emulator")

    @property
    def accounts_base(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1/"

    # ---- knobs and counters

    def add_user(self, user_id: str) -> str:
        """A user who authorised the app; returns their refresh token."""
        token = f"refresh-{user_id}-{secrets.token_hex(8)}"
        with self._lock:
            self.refresh_tokens[token] = user_id
        return token

    def inject_429(self, times: int = 1, retry_after: float = 1) -> None:
        with self._lock:
            self._rate.inject(times, retry_after)

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.log.clear()

    @property
    def requests(self) -> int:
        """Every request received, token requests included."""
        with self._lock:
            return sum(self.counts.values())

    # ---- builder

    def add_track(
        self,
        name: str,
        artists: str | list[str],
        *,
        isrc: str | None = None,
        duration_ms: int = 210_000,
        album: str = "Single",
    ) -> SpotifyTrack:
        names = [artists] if isinstance(artists, str) else list(artists)
        with self._lock:
            track = SpotifyTrack(
                spotify_id(f"track:{name}:{names}:{len(self.tracks)}"),
                name,
                names,
                duration_ms,
                isrc,
                album,
            )
            self.tracks[track.id] = track
        return track

    def add_playlist(
        self,
        name: str,
        owner: str = "curator",
        entries: list[SpotifyTrack | Entry] | None = None,
        *,
        public: bool = True,
        description: str = "",
    ) -> SpotifyPlaylist:
        with self._lock:
            playlist = SpotifyPlaylist(
                spotify_id(f"playlist:{name}:{len(self.playlists)}"),
                name,
                owner,
                owner.replace("-", " ").title(),
                description,
                public,
                entries=[e if isinstance(e, Entry) else Entry("track", e) for e in entries or []],
            )
            self.playlists[playlist.id] = playlist
        return playlist

    def edit(self, playlist: SpotifyPlaylist, entries: list[SpotifyTrack | Entry]) -> None:
        """Replace the entries (a new snapshot_id)."""
        with self._lock:
            playlist.entries = [e if isinstance(e, Entry) else Entry("track", e) for e in entries]
            playlist.version += 1

    # ---- internals

    def _issue(self, user: str | None) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = user
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        if user is not None:
            answer["scope"] = "playlist-read-private playlist-read-collaborative"
        return answer


@dataclass
class _Answer:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


def _api_error(status: int, message: str) -> _Answer:
    return _Answer(status, {"error": {"status": status, "message": message}})


_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("playlist", re.compile(r"^/v1/playlists/(?P<id>[A-Za-z0-9]+)/?$")),
    ("playlist_items", re.compile(r"^/v1/playlists/(?P<id>[A-Za-z0-9]+)/items/?$")),
    ("playlist_tracks", re.compile(r"^/v1/playlists/(?P<id>[A-Za-z0-9]+)/tracks/?$")),
    ("my_playlists", re.compile(r"^/v1/me/playlists/?$")),
    ("track", re.compile(r"^/v1/tracks/(?P<id>[A-Za-z0-9]+)/?$")),
    # "Get Several Tracks" (GET /v1/tracks?ids=) was removed for development-mode apps
    # in February 2026 (Spotify's changelog): it answers like any other closed endpoint
    ("closed", re.compile(r"^/v1/tracks/?$")),
    ("search", re.compile(r"^/v1/search/?$")),
    ("closed", re.compile(r"^/v1/(?:audio-features|audio-analysis|recommendations|artists/[^/]+/related-artists)")),
]  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    emulator: SpotifyEmulator
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server_version = "SpotifyEmulator/1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._respond(self._handle("GET"))

    def do_POST(self) -> None:
        self._respond(self._handle("POST"))

    def _respond(self, answer: _Answer) -> None:
        body = json.dumps(answer.payload).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> _Answer:
        emu = self.emulator
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if method == "POST" and parts.path == "/api/token":
            endpoint, match = "token", None
        else:
            endpoint, match = next(
                ((name, m) for name, rx in _ROUTES if (m := rx.match(parts.path))),
                ("unknown", None),
            )
        with emu._lock:
            emu.counts[endpoint] += 1
            answer = self._dispatch(emu, endpoint, match, query, form)
            emu.log.append((endpoint, answer.status, parts.path))
        return answer

    def _dispatch(self, emu, endpoint, match, query, form) -> _Answer:  # type: ignore[no-untyped-def]
        if endpoint == "token":
            return self._token(emu, form)
        if endpoint == "unknown":
            return _api_error(404, "Service not found")
        wait = emu._rate.check(time.monotonic())
        if wait is not None:
            answer = _api_error(429, "API rate limit exceeded")
            answer.headers["Retry-After"] = retry_after_header(wait)
            return answer
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _api_error(401, "No token provided")
        if auth[7:] not in emu.tokens:
            return _api_error(401, "Invalid access token")
        user = emu.tokens[auth[7:]]
        return getattr(self, f"_ep_{endpoint}")(emu, match, query, user)

    def _token(self, emu: SpotifyEmulator, form: dict[str, str]) -> _Answer:
        auth = self.headers.get("Authorization", "")
        try:
            pair = base64.b64decode(auth.removeprefix("Basic ")).decode()
        except ValueError:
            pair = ""
        if pair != f"{emu.client_id}:{emu.client_secret}":
            return _Answer(400, {"error": "invalid_client", "error_description": "Invalid client"})
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return _Answer(200, emu._issue(None))
        if grant == "refresh_token":
            user = emu.refresh_tokens.get(form.get("refresh_token", ""))
            if user is None:
                return _Answer(
                    400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
                )
            return _Answer(200, emu._issue(user))
        return _Answer(
            400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant}"}
        )

    @staticmethod
    def _readable(emu: SpotifyEmulator, playlist_id: str, user: str | None) -> SpotifyPlaylist:
        playlist = emu.playlists.get(playlist_id)
        if playlist is None or not (playlist.public or user == playlist.owner_id):
            raise LookupError
        return playlist

    def _ep_playlist(self, emu, match, query, user) -> _Answer:  # type: ignore[no-untyped-def]
        try:
            playlist = self._readable(emu, match["id"], user)
        except LookupError:
            return _api_error(404, "Resource not found")
        payload = playlist.json(emu.api_base)
        return _Answer(
            200, select_fields(payload, query["fields"]) if "fields" in query else payload
        )

    def _ep_playlist_items(self, emu, match, query, user) -> _Answer:  # type: ignore[no-untyped-def]
        try:
            playlist = self._readable(emu, match["id"], user)
            limit, offset = int(query.get("limit", 20)), int(query.get("offset", 0))
        except LookupError:
            return _api_error(404, "Resource not found")
        except ValueError:
            return _api_error(400, "Invalid limit or offset")
        if not 1 <= limit <= PAGE_LIMIT or offset < 0:
            return _api_error(400, f"Invalid limit: must be between 1 and {PAGE_LIMIT}")
        payload = playlist.page(emu.api_base, offset, limit)
        return _Answer(
            200, select_fields(payload, query["fields"]) if "fields" in query else payload
        )

    def _ep_track(self, emu, match, query, user) -> _Answer:  # type: ignore[no-untyped-def]
        track = emu.tracks.get(match["id"])
        if track is None:
            return _api_error(404, "Resource not found")
        return _Answer(200, track.json())

    def _ep_playlist_tracks(self, emu, match, query, user) -> _Answer:  # type: ignore[no-untyped-def]
        return _api_error(403, "Forbidden")  # gone for development-mode apps: use /items

    def _ep_closed(self, emu, match, query, user) -> _Answer:  # type: ignore[no-untyped-def]
        return _api_error(403, "Forbidden")

    def _ep_my_playlists(self, emu, match, query, user) -> _Answer:  # type: ignore[no-untyped-def]
        if user is None:
            return _api_error(401, "This endpoint needs a user token")
        limit, offset = int(query.get("limit", 20)), int(query.get("offset", 0))
        if not 1 <= limit <= PAGE_LIMIT:
            return _api_error(400, f"Invalid limit: must be between 1 and {PAGE_LIMIT}")
        mine = [p for p in emu.playlists.values() if p.owner_id == user]
        items = [  # simplified playlists: the entry summary is `items`, `tracks` is null
            {**p.json(emu.api_base), "items": {"href": f"{emu.api_base}playlists/{p.id}/items",
                                                "total": len(p.entries)}, "tracks": None}
            for p in mine[offset : offset + limit]
        ]  # fmt: skip
        following = offset + limit
        href = f"{emu.api_base}me/playlists"
        return _Answer(200, {
            "href": href, "items": items, "total": len(mine), "limit": limit, "offset": offset,
            "next": f"{href}?{urlencode({'offset': following, 'limit': limit})}"
            if following < len(mine) else None,
            "previous": None,
        })  # fmt: skip

    def _ep_search(self, emu, match, query, user) -> _Answer:  # type: ignore[no-untyped-def]
        limit = int(query.get("limit", 5))
        if not 1 <= limit <= SEARCH_LIMIT:
            return _api_error(400, f"Invalid limit: must be between 1 and {SEARCH_LIMIT}")
        words = (query.get("q") or "").lower()
        found = [t.json() for t in emu.tracks.values() if t.name.lower() in words][:limit]
        return _Answer(200, {"tracks": {"items": found, "total": len(found), "limit": limit}})
