"""A local stand-in for SoundCloud api-v2, its media CDN and its web page.

Faithful to ``shared/docs/external-apis.md``: ``/resolve`` answers a set with only the
first five tracks as full objects and the rest as stubs; ``/tracks?ids=`` refuses
more than 50 ids and silently leaves out deleted (or unreadable private) tracks; a
track its uploader deletes (``delete_track``) vanishes from its sets' listings while
their ``track_count`` still counts it, and one the owner removes lowers the count;
every api call needs the current ``client_id`` (401 otherwise, and the id can be
rotated to make a cached one stale); private sets need their secret token; Go+
tracks are 30-second previews unless an OAuth token is sent; ``policy: BLOCK`` and
DRM-only tracks exist; a user's likes (``/users/<id>/likes``: ``{created_at, kind,
track | playlist}`` newest first) and uploads (``/users/<id>/tracks``) come in pages
of ``limit`` (at most 200) with a ``next_href`` to follow (``linked_partitioning=1``);
429 with ``Retry-After`` can be injected and a real sliding
window limit (600 requests / 10 min by default) applies to the api.

Audio is real: every stream is an MP3 of synthesized music with a known tempo and
key (``soundcloud_sync_tests.synth``), served progressively and as HLS (an m3u8 of
MP3 segments). Encoded bytes are cached per (bpm, key, seconds), so a 500-track set
shares a handful of audio files and costs nothing until something is streamed.

Two ways in:

* plain base URL: point the api base at :attr:`SoundCloudEmulator.base_url`; every
  URL the emulator hands out (transcodings, streams, artwork) then points back at it;
* HTTP proxy: set the api base to ``http://api-v2.soundcloud.com/`` and the proxy to
  :attr:`SoundCloudEmulator.proxy_url`. Requests arrive as absolute URIs and URLs
  keep SoundCloud's real shape, so unmodified yt-dlp follows set stubs
  (``…/tracks/<id>``) with its own SoundCloud extractor (see the "Trap" paragraph
  of external-apis.md). Only plain ``http://`` is served: no CONNECT tunnel.

Run standalone for the offline demo::

    python -m soundcloud_sync_tests.emulators.soundcloud --port 8765 --demo
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import io
import itertools
import json
import math
import random
import re
import signal
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from soundcloud_sync_tests.emulators.base import (
    BackgroundServer,
    Meeting,
    RateWindow,
    retry_after_header,
)

DEFAULT_CLIENT_ID = "EmUlAtOr0ClientId0123456789abcde"  # 32 chars, like the real ones
PROXY_API_BASE = "http://api-v2.soundcloud.com/"
_PROXY_HOSTS = {
    "api": "http://api-v2.soundcloud.com/",
    "web": "http://soundcloud.com/",
    "assets": "http://a-v2.sndcdn.com/",
    "stream": "http://cf-media.sndcdn.com/",
    "hls": "http://cf-hls-media.sndcdn.com/",
    "images": "http://i1.sndcdn.com/",
}
_KNOWN_HOSTS = {urlsplit(u).hostname for u in _PROXY_HOSTS.values()} | {
    "api.soundcloud.com",
    "www.soundcloud.com",
    "m.soundcloud.com",
}
KINDS = ("ok", "preview", "blocked", "drm", "gone")
PREVIEW_SECONDS = 30.0
API_ENDPOINTS = frozenset(
    {"resolve", "tracks_batch", "track", "track_download", "playlist", "format_info", "comments",
     "user", "search", "user_likes", "user_tracks"}
)  # fmt: skip
MEDIA_ENDPOINTS = frozenset({"stream", "hls_playlist", "hls_segment", "original"})

# Genres with a typical tempo and key: a small palette so many tracks share audio.
_PALETTE: tuple[tuple[str, float, str], ...] = (
    ("House", 124.0, "A minor"),
    ("Tech House", 127.0, "F minor"),
    ("Techno", 132.0, "D minor"),
    ("Drum & Bass", 174.0, "E minor"),
    ("Hip-hop & Rap", 90.0, "G minor"),
    ("Disco", 118.0, "C major"),
    ("Deep House", 122.0, "D major"),
    ("Ambient", 100.0, "F major"),
)
_WORDS = (
    "midnight", "velvet", "signal", "echo", "summer", "neon", "drift", "pulse", "ocean",
    "static", "golden", "shadow", "motion", "paper", "electric", "garden", "tide", "orbit",
    "fever", "satellite", "crystal", "horizon", "low", "city", "dream", "river", "ember",
)  # fmt: skip
_NAMES = (
    "Kaia Moreno", "Ostrava Sound", "DJ Lumen", "Mira Vale", "The Night Shift", "Oberon",
    "Sable & Finch", "Jonas Arden", "Polyhue", "Rin Takeda", "Marlowe", "Cassia Bloom",
)  # fmt: skip
_LABELS = ("Dusk Records", "Lowlight Audio", "Parallel Press", None)
_TAGS = ("deep house", "late night", "vinyl", "club", "summer", "chill", "dj mix", "warmup",
         "melodic", "underground")  # fmt: skip


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "untitled"


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- audio

_AUDIO_CACHE: dict[tuple[float, str, float], bytes] = {}
_AUDIO_LOCK = threading.Lock()
_IMAGE_CACHE: dict[str, bytes] = {}


def audio_bytes(bpm: float, key: str, seconds: float) -> bytes:
    """MP3 bytes of the synthesized track, encoded once per process per (bpm, key, seconds)."""
    spec = (float(bpm), key, float(seconds))
    with _AUDIO_LOCK:
        if spec not in _AUDIO_CACHE:
            from soundcloud_sync_tests.synth import encode_mp3_bytes, render_track

            samples = render_track(bpm, key, seconds, sr=44100)
            _AUDIO_CACHE[spec] = encode_mp3_bytes(samples, 44100, "128k")
        return _AUDIO_CACHE[spec]


def _mp3_segments(data: bytes, count: int) -> list[bytes]:
    """Split an MP3 into ``count`` pieces at frame-sync boundaries; joined they are the file."""
    cuts = [0]
    for i in range(1, count):
        pos = data.find(b"\xff", len(data) * i // count)
        while pos != -1 and pos + 1 < len(data) and (data[pos + 1] & 0xE0) != 0xE0:
            pos = data.find(b"\xff", pos + 1)
        if pos == -1 or pos <= cuts[-1]:
            continue
        cuts.append(pos)
    cuts.append(len(data))
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


def _jpeg(name: str, size: int) -> bytes:
    """A solid-colour JPEG (colour from the name): real image bytes for taggers to embed."""
    cache_key = f"{name}@{size}"
    if cache_key not in _IMAGE_CACHE:
        from PIL import Image

        digest = hashlib.sha1(name.encode()).digest()
        out = io.BytesIO()
        Image.new("RGB", (size, size), tuple(digest[:3])).save(out, "JPEG", quality=80)
        _IMAGE_CACHE[cache_key] = out.getvalue()
    return _IMAGE_CACHE[cache_key]


# --------------------------------------------------------------------------- model


@dataclass
class EmuUser:
    id: int
    permalink: str
    username: str
    # (kind "track" | "playlist", id, when), oldest first; the api lists them newest first
    likes: list[tuple[str, int, str]] = field(default_factory=list)

    def json(self, urls: _Urls) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "user",
            "permalink": self.permalink,
            "permalink_url": f"https://soundcloud.com/{self.permalink}",
            "username": self.username,
            "full_name": self.username,
            "avatar_url": urls.image(f"avatars-{self.id:012d}-emu", "large"),
            "uri": f"https://api.soundcloud.com/users/{self.id}",
            "urn": f"soundcloud:users:{self.id}",
            "verified": False,
            "city": None,
            "country_code": None,
            "followers_count": 100 + self.id % 9000,
            "likes_count": sum(1 for kind, _, _ in self.likes if kind == "track"),
            "playlist_likes_count": sum(1 for kind, _, _ in self.likes if kind == "playlist"),
            "last_modified": "2024-01-01T00:00:00Z",
        }


@dataclass
class EmuTrack:
    id: int
    user: EmuUser
    permalink: str
    title: str
    bpm: float
    key: str
    seconds: float = 24.0  # length of the served audio
    kind: str = "ok"  # ok | preview | blocked | drm | gone
    genre: str | None = None
    tags: list[str] = field(default_factory=list)
    publisher_artist: str | None = None
    isrc: str | None = None
    album_title: str | None = None
    label_name: str | None = None
    duration_ms: int | None = None  # full duration claimed; defaults to the audio length
    created_at: str = "2024-01-01T00:00:00Z"
    last_modified: str = "2024-01-01T00:00:00Z"
    has_artwork: bool = True
    private: bool = False
    secret_token: str | None = None
    downloadable: bool = False
    protocols: tuple[str, ...] = ("hls", "progressive")  # the clear transcodings offered

    @property
    def permalink_url(self) -> str:
        url = f"https://soundcloud.com/{self.user.permalink}/{self.permalink}"
        return f"{url}/{self.secret_token}" if self.private and self.secret_token else url

    @property
    def deleted(self) -> bool:
        return self.kind == "gone"

    @property
    def full_duration_ms(self) -> int:
        return self.duration_ms or round(self.seconds * 1000)

    def policy(self, authorized: bool) -> str:
        if self.kind == "blocked":
            return "BLOCK"
        if self.kind == "preview":
            return "MONETIZE" if authorized else "SNIP"
        return "ALLOW"

    def monetization_model(self) -> str:
        return "SUB_HIGH_TIER" if self.kind == "preview" else "NOT_APPLICABLE"

    def stub(self, authorized: bool = False) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "track",
            "monetization_model": self.monetization_model(),
            "policy": self.policy(authorized),
        }

    def snipped(self, authorized: bool) -> bool:
        return self.kind == "preview" and not authorized

    def json(self, urls: _Urls, authorized: bool = False) -> dict[str, Any]:
        snipped = self.snipped(authorized)
        artwork = (
            urls.image(f"artworks-{self.id:012d}-{self.user.id % 997:03d}", "large")
            if self.has_artwork
            else None
        )
        publisher = None
        if self.publisher_artist or self.isrc or self.album_title:
            publisher = {
                "id": self.id,
                "urn": f"soundcloud:tracks:{self.id}",
                "artist": self.publisher_artist,
                "album_title": self.album_title,
                "contains_music": True,
                "isrc": self.isrc,
                "explicit": False,
                "writer_composer": self.publisher_artist,
                "release_title": self.album_title,
                "p_line": f"℗ {self.label_name}" if self.label_name else None,
            }
            publisher = {k: v for k, v in publisher.items() if v is not None}
        return {
            "id": self.id,
            "kind": "track",
            "urn": f"soundcloud:tracks:{self.id}",
            "uri": f"https://api.soundcloud.com/tracks/{self.id}",
            "title": self.title,
            "permalink": self.permalink,
            "permalink_url": self.permalink_url,
            "user_id": self.user.id,
            "user": self.user.json(urls),
            "artwork_url": artwork,
            "waveform_url": f"https://wave.sndcdn.com/emu{self.id}_m.json",
            "description": f"{self.title} by {self.publisher_artist or self.user.username}.",
            "caption": None,
            "created_at": self.created_at,
            "display_date": self.created_at,
            "release_date": self.created_at if self.publisher_artist else None,
            "last_modified": self.last_modified,
            "duration": round(PREVIEW_SECONDS * 1000) if snipped else self.full_duration_ms,
            "full_duration": self.full_duration_ms,
            "genre": self.genre or "",
            "tag_list": " ".join(f'"{t}"' if " " in t else t for t in self.tags),
            "label_name": self.label_name,
            "license": "all-rights-reserved",
            "publisher_metadata": publisher,
            "policy": self.policy(authorized),
            "monetization_model": self.monetization_model(),
            "downloadable": self.downloadable,
            "has_downloads_left": self.downloadable,
            "download_count": 0,
            "streamable": True,
            "public": not self.private,
            "sharing": "private" if self.private else "public",
            "secret_token": self.secret_token if self.private else None,
            "state": "finished",
            "playback_count": 1000 + self.id % 50000,
            "likes_count": self.id % 700,
            "reposts_count": self.id % 90,
            "comment_count": self.id % 40,
            "commentable": True,
            "embeddable_by": "all",
            "media": {"transcodings": self.transcodings(urls, snipped)},
            "track_authorization": hashlib.sha1(str(self.id).encode()).hexdigest(),
            "station_urn": f"soundcloud:system-playlists:track-stations:{self.id}",
        }

    def transcodings(self, urls: _Urls, snipped: bool) -> list[dict[str, Any]]:
        if self.kind == "blocked":
            return []
        uuid = hashlib.md5(str(self.id).encode()).hexdigest()
        base = f"{urls.api}media/soundcloud:tracks:{self.id}/{uuid}"
        if self.kind == "drm":
            return [
                {
                    "url": f"{base}/stream/{proto}",
                    "preset": "aac_160k",
                    "duration": self.full_duration_ms,
                    "snipped": False,
                    "quality": "sq",
                    "format": {"protocol": proto, "mime_type": 'audio/mp4; codecs="mp4a.40.2"'},
                }
                for proto in ("ctr-encrypted-hls", "cbc-encrypted-hls")
            ]
        kind = "preview" if snipped else "stream"
        duration = round(PREVIEW_SECONDS * 1000) if snipped else self.full_duration_ms
        return [
            {
                "url": f"{base}/{kind}/{proto}",
                "preset": "mp3_0_0",
                "duration": duration,
                "snipped": snipped,
                "quality": "sq",
                "format": {"protocol": proto, "mime_type": "audio/mpeg"},
            }
            for proto in self.protocols
        ]


@dataclass
class EmuPlaylist:
    id: int
    user: EmuUser
    permalink: str
    title: str
    track_ids: list[int]
    description: str = ""
    private: bool = False
    secret_token: str | None = None
    hidden: int = 0  # tracks counted in track_count but not listed
    vanished_ids: list[int] = field(default_factory=list)  # deleted/private: counted, not listed
    set_type: str = ""
    created_at: str = "2024-01-01T00:00:00Z"
    last_modified: str = "2024-01-01T00:00:00Z"

    @property
    def permalink_url(self) -> str:
        return f"https://soundcloud.com/{self.user.permalink}/sets/{self.permalink}"

    @property
    def url(self) -> str:
        """The URL a user would paste (with the secret token for a private set)."""
        if self.private and self.secret_token:
            return f"{self.permalink_url}/{self.secret_token}"
        return self.permalink_url

    @property
    def key(self) -> str:
        return f"{self.user.permalink}/sets/{self.permalink}".lower()


class _Urls:
    """Where the URLs the emulator hands out point: back at itself, or at real host names."""

    def __init__(self, base: str | None) -> None:
        self.proxy = base is None
        if base is None:
            self.api, self.web, self.assets = (
                _PROXY_HOSTS["api"],
                _PROXY_HOSTS["web"],
                _PROXY_HOSTS["assets"],
            )
            self.stream, self.hls, self.images = _PROXY_HOSTS["stream"], _PROXY_HOSTS["hls"], _PROXY_HOSTS["images"]  # fmt: skip
        else:
            self.api = self.web = self.assets = self.stream = self.hls = base
            self.images = f"{base}images/"

    def image(self, stem: str, size: str) -> str:
        return f"{self.images}{stem}-{size}.jpg"


# --------------------------------------------------------------------------- emulator


class SoundCloudEmulator(BackgroundServer):
    """Threaded local SoundCloud; a context manager. Build content, then point clients at it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = DEFAULT_CLIENT_ID,
        oauth_tokens: Iterable[str] = (),
        rate_limit: int = 600,
        rate_window: float = 600.0,
        full_tracks_in_set: int = 5,
        batch_cap: int = 50,
        private_status: int = 404,
        seed: int = 0,
        audio_seconds: float = 24.0,
        latency: float = 0.0,
    ) -> None:
        self.host, self.port = host, port
        self.client_id = client_id
        self.oauth_tokens = set(oauth_tokens)
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.full_tracks_in_set = full_tracks_in_set
        self.batch_cap = batch_cap
        self.private_status = private_status  # what resolve answers for a private set without token
        self.audio_seconds = audio_seconds
        self.latency = latency  # seconds added to every answer, like a real round trip
        self.rng = random.Random(seed)
        self.users: dict[str, EmuUser] = {}
        self.tracks: dict[int, EmuTrack] = {}
        self.playlists: dict[int, EmuPlaylist] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.log: list[tuple[str, int, str]] = []  # (endpoint, status, path without query)
        self.times: list[float] = []  # when each request of `log` arrived (time.time())
        self._rate = RateWindow(rate_limit, rate_window)
        self._inject_errors: list[int] = []  # statuses (5xx) for the next api requests
        self.meetings: dict[str, Meeting] = {}  # requests a test holds (hold_until_met)
        self._lock = threading.RLock()
        self._clock = time.monotonic
        self._created = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

    # ---- lifecycle

    def start(self) -> SoundCloudEmulator:
        handler = type("_Handler", (_Handler,), {"emulator": self})
        server = ThreadingHTTPServer((self.host, self.port), handler)
        self.port = server.server_address[1]
        return self._serve(server, "soundcloud-emulator")

    @property
    def base_url(self) -> str:
        """Api base for plain mode: ``http://127.0.0.1:PORT/``."""
        return f"http://{self.host}:{self.port}/"

    @property
    def proxy_url(self) -> str:
        """HTTP proxy for proxy mode (use with api base ``http://api-v2.soundcloud.com/``)."""
        return f"http://{self.host}:{self.port}"

    # ---- behaviour knobs

    def rotate_client_id(self) -> str:
        """Make the current client id stale (401 from now on) and publish a new one."""
        with self._lock:
            alphabet = string.ascii_letters + string.digits
            self.client_id = "".join(self.rng.choice(alphabet) for _ in range(32))
            return self.client_id

    def inject_429(self, times: int = 1, retry_after: float = 1) -> None:
        """Answer the next ``times`` api requests with 429 and this ``Retry-After``."""
        with self._lock:
            self._rate.inject(times, retry_after)

    def inject_error(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` api requests with ``status`` (a 5xx from the edge)."""
        with self._lock:
            self._inject_errors.extend([status] * times)

    def hold_until_met(
        self,
        endpoint: str,
        count: int,
        within_s: float,
        key: Callable[[str], str | None] | None = None,
    ) -> Meeting:
        """Hold requests to ``endpoint`` as `Meeting` says; ``key`` names the client of a
        request from its path (None: not held)."""
        meeting = self.meetings[endpoint] = Meeting(count, within_s, key)
        return meeting

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.statuses.clear()
            self.log.clear()
            self.times.clear()

    @property
    def api_requests(self) -> int:
        """api-v2 requests received (media, web and artwork excluded)."""
        with self._lock:
            return sum(n for kind, n in self.counts.items() if kind in API_ENDPOINTS)

    def seed_client_id_cache(self, cache_dir: str | Path, client_id: str | None = None) -> Path:
        """Write yt-dlp's ``soundcloud/client_id`` cache entry so it never scrapes soundcloud.com."""
        return seed_client_id_cache(cache_dir, client_id or self.client_id)

    # ---- builder

    def _new_id(self, taken: Mapping[int, object]) -> int:
        while True:
            candidate = self.rng.randint(100_000_000, 1_999_999_999)
            if candidate not in taken:
                return candidate

    def add_user(self, permalink: str, username: str | None = None) -> EmuUser:
        with self._lock:
            key = permalink.lower()
            if key not in self.users:
                uid = self._new_id({u.id: u for u in self.users.values()})
                self.users[key] = EmuUser(uid, key, username or permalink.replace("-", " ").title())
            return self.users[key]

    def _user(self, user: EmuUser | str) -> EmuUser:
        return user if isinstance(user, EmuUser) else self.add_user(user)

    def add_track(
        self,
        user: EmuUser | str,
        title: str | None = None,
        *,
        kind: str = "ok",
        bpm: float | None = None,
        key: str | None = None,
        genre: str | None = None,
        seconds: float | None = None,
        **fields: Any,
    ) -> EmuTrack:
        """Add one track with plausible metadata; ``kind`` is ok/preview/blocked/drm/gone."""
        if kind not in KINDS:
            raise ValueError(f"track kind {kind!r}: choose one of {KINDS}")
        with self._lock:
            owner = self._user(user)
            tid = self._new_id(self.tracks)
            rng = random.Random(tid)
            pal_genre, pal_bpm, pal_key = rng.choice(_PALETTE)
            title = title or " ".join(rng.sample(_WORDS, rng.randint(1, 3))).title()
            is_label = rng.random() < 0.6
            artist = rng.choice(_NAMES) if is_label else None
            created = self._created + timedelta(
                days=rng.randint(0, 700), seconds=rng.randint(0, 86399)
            )
            # A Go+ track is longer than its 30 s preview; subscribers get all of it.
            full_len = max(self.audio_seconds * 2, PREVIEW_SECONDS + 10)
            audio_len = seconds or (full_len if kind == "preview" else self.audio_seconds)
            values: dict[str, Any] = {
                "id": tid,
                "user": owner,
                "permalink": f"{_slugify(title)}-{tid % 10000}",
                "title": title,
                "bpm": bpm or pal_bpm,
                "key": key or pal_key,
                "seconds": audio_len,
                "kind": kind,
                "genre": genre if genre is not None else pal_genre,
                "tags": rng.sample(_TAGS, rng.randint(0, 3)),
                "publisher_artist": artist,
                "isrc": f"QZES5{created:%y}{tid % 100000:05d}" if is_label else None,
                "album_title": f"{rng.choice(_WORDS).title()} EP" if is_label and rng.random() < 0.5 else None,
                "label_name": rng.choice(_LABELS) if is_label else None,
                "created_at": _iso(created),
                "last_modified": _iso(created + timedelta(days=rng.randint(0, 30))),
                "has_artwork": rng.random() < 0.85,
            }  # fmt: skip
            values.update(fields)
            track = EmuTrack(**values)
            self.tracks[tid] = track
            return track

    def add_playlist(
        self,
        user: EmuUser | str,
        slug: str,
        n_tracks: int = 0,
        *,
        tracks: Sequence[EmuTrack] | None = None,
        kinds: Mapping[int, str] | None = None,
        private: bool = False,
        title: str | None = None,
        hidden: int = 0,
        set_type: str = "",
        description: str | None = None,
        track_users: Sequence[str] | None = None,
    ) -> EmuPlaylist:
        """Add a set: explicit ``tracks`` first, then ``n_tracks`` generated ones.

        ``kinds`` maps 1-based positions of generated tracks to a kind (``{3: "preview",
        7: "gone"}``); ``hidden`` adds tracks that count in ``track_count`` but are not
        listed; tracks generated for a private set are private too.
        """
        with self._lock:
            owner = self._user(user)
            token = "s-" + "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(11)) if private else None  # fmt: skip
            listed = list(tracks or [])
            uploaders = [self._user(u) for u in (track_users or ())] or [owner]
            for i in range(n_tracks):
                position = len(listed) + 1
                kind = (kinds or {}).get(position, "ok")
                t = self.add_track(uploaders[i % len(uploaders)], kind=kind)
                if private:
                    t.private = True
                    t.secret_token = "s-" + hashlib.md5(str(t.id).encode()).hexdigest()[:11]
                listed.append(t)
            pid = self._new_id(self.playlists)
            created = self._created + timedelta(days=self.rng.randint(0, 300))
            playlist = EmuPlaylist(
                id=pid,
                user=owner,
                permalink=slug.lower(),
                title=title or slug.replace("-", " ").title(),
                track_ids=[t.id for t in listed],
                description=description if description is not None else f"A set by {owner.username}.",
                private=private,
                secret_token=token,
                hidden=hidden,
                set_type=set_type,
                created_at=_iso(created),
                last_modified=_iso(created + timedelta(days=30)),
            )  # fmt: skip
            self.playlists[pid] = playlist
            return playlist

    def append_tracks(self, playlist: EmuPlaylist, n: int = 1, **kw: Any) -> list[EmuTrack]:
        """Add ``n`` new tracks at the end of a set and bump its ``last_modified``."""
        with self._lock:
            new = [self.add_track(playlist.user, **kw) for _ in range(n)]
            playlist.track_ids.extend(t.id for t in new)
            self.touch(playlist)
            return new

    def remove_track(self, playlist: EmuPlaylist, track_id: int) -> None:
        """The set's owner takes a track out (listed or out of view): the count falls."""
        with self._lock:
            if track_id in playlist.vanished_ids:
                playlist.vanished_ids.remove(track_id)
            else:
                playlist.track_ids.remove(track_id)
            self.touch(playlist)

    def delete_track(self, track_id: int) -> None:
        """The uploader deleted it: gone everywhere, and its id vanishes from every set
        that held it while the set's ``track_count`` still counts it (the sets' owners
        changed nothing, so their ``last_modified`` stays)."""
        with self._lock:
            self.tracks[track_id].kind = "gone"
            for p in self.playlists.values():
                if track_id in p.track_ids:
                    p.track_ids.remove(track_id)
                    p.vanished_ids.append(track_id)

    def like(self, user: EmuUser | str, item: EmuTrack | EmuPlaylist) -> None:
        """The user likes a track or a set (now: it comes first in their likes)."""
        with self._lock:
            owner = self._user(user)
            kind = "track" if isinstance(item, EmuTrack) else "playlist"
            when = _iso(self._created + timedelta(days=400, minutes=len(owner.likes)))
            owner.likes.append((kind, item.id, when))

    def unlike(self, user: EmuUser | str, item: EmuTrack | EmuPlaylist) -> None:
        with self._lock:
            owner = self._user(user)
            owner.likes = [like for like in owner.likes if like[1] != item.id]

    def touch(self, playlist: EmuPlaylist) -> None:
        last = datetime.strptime(playlist.last_modified, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        playlist.last_modified = _iso(max(last + timedelta(seconds=1), datetime.now(UTC)))

    # ---- request handling (called from handler threads)

    def _find_playlist(self, user: str, slug: str) -> EmuPlaylist | None:
        for p in self.playlists.values():
            if p.user.permalink == user.lower() and p.permalink == slug.lower():
                return p
        return None

    def _find_track(self, user: str, slug: str) -> EmuTrack | None:
        for t in self.tracks.values():
            if t.user.permalink == user.lower() and t.permalink == slug.lower():
                return t
        return None

    def playlist_json(self, p: EmuPlaylist, urls: _Urls, authorized: bool) -> dict[str, Any]:
        entries = []
        for i, tid in enumerate(p.track_ids):
            t = self.tracks[tid]
            full = i < self.full_tracks_in_set and not t.deleted
            entries.append(t.json(urls, authorized) if full else t.stub(authorized))
        first_art = next(
            (self.tracks[t].json(urls)["artwork_url"] for t in p.track_ids if self.tracks[t].has_artwork),
            None,
        )  # fmt: skip
        return {
            "id": p.id,
            "kind": "playlist",
            "urn": f"soundcloud:playlists:{p.id}",
            "uri": f"https://api.soundcloud.com/playlists/{p.id}",
            "title": p.title,
            "description": p.description,
            "permalink": p.permalink,
            "permalink_url": p.permalink_url,
            "user_id": p.user.id,
            "user": p.user.json(urls),
            "artwork_url": first_art,
            "created_at": p.created_at,
            "display_date": p.created_at,
            "published_at": None if p.private else p.created_at,
            "release_date": None,
            "last_modified": p.last_modified,
            "duration": sum(self.tracks[t].full_duration_ms for t in p.track_ids),
            "genre": "",
            "tag_list": "",
            "license": "all-rights-reserved",
            "set_type": p.set_type,
            "is_album": p.set_type in ("album", "ep", "single", "compilation"),
            "public": not p.private,
            "sharing": "private" if p.private else "public",
            "secret_token": p.secret_token if p.private else None,
            "embeddable_by": "all",
            "managed_by_feeds": False,
            "likes_count": p.id % 300,
            "reposts_count": p.id % 40,
            "track_count": len(p.track_ids) + p.hidden + len(p.vanished_ids),
            "tracks": entries,
        }

    def likes_json(self, user: EmuUser, urls: _Urls, authorized: bool) -> list[dict[str, Any]]:
        """The user's likes, newest first; deleted or private tracks and sets are left out."""
        items = []
        for kind, item_id, when in reversed(user.likes):
            entry: dict[str, Any] = {"created_at": when, "kind": "like"}
            if kind == "track":
                t = self.tracks[item_id]
                if t.deleted or t.private:
                    continue
                entry["track"] = t.json(urls, authorized)
            else:
                p = self.playlists[item_id]
                if p.private:
                    continue
                entry["playlist"] = {k: v for k, v in self.playlist_json(p, urls, authorized).items()
                                     if k != "tracks"}  # fmt: skip
            items.append(entry)
        return items

    def uploads_json(self, user: EmuUser, urls: _Urls, authorized: bool) -> list[dict[str, Any]]:
        """The user's public tracks, newest first."""
        mine = [t for t in self.tracks.values()
                if t.user is user and not t.deleted and not t.private]  # fmt: skip
        mine.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return [t.json(urls, authorized) for t in mine]

    def _track_readable(self, t: EmuTrack, token: str | None, playlist_id: str | None) -> bool:
        """Private tracks need their own token, or the token of a set that lists them."""
        if t.deleted:
            return False
        if not t.private:
            return True
        if token and token == t.secret_token:
            return True
        return any(
            t.id in p.track_ids
            and p.secret_token
            and token == p.secret_token
            and (playlist_id is None or str(p.id) == playlist_id)
            for p in self.playlists.values()
        )

    def _rate_check(self, arrived: float) -> float | None:
        """Retry-After seconds when an api request that arrived at ``arrived`` (the
        emulator's clock) must get a 429, else None."""
        self._rate.limit, self._rate.seconds = self.rate_limit, self.rate_window
        return self._rate.check(arrived)


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, payload: Any) -> _Answer:
    return _Answer(status, json.dumps(payload).encode())


def _error(status: int, message: str) -> _Answer:
    return _json(
        status, {"code": status, "message": message, "errors": [{"error_message": message}]}
    )


_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("web", re.compile(r"^/$")),
    ("web", re.compile(r"^/assets/[\w.-]+\.js$")),
    ("resolve", re.compile(r"^/resolve$")),
    ("search", re.compile(r"^/search/tracks/?$")),
    ("tracks_batch", re.compile(r"^/tracks/?$")),
    ("track", re.compile(r"^/tracks/(?:soundcloud(?::|%3A)tracks(?::|%3A))?(?P<id>\d+)/?$")),
    ("track_download", re.compile(r"^/tracks/(?P<id>\d+)/download$")),
    ("comments", re.compile(r"^/tracks/(?P<id>\d+)/comments$")),
    ("playlist", re.compile(r"^/playlists/(?:soundcloud(?::|%3A)playlists(?::|%3A))?(?P<id>\d+)/?$")),
    ("user", re.compile(r"^/users/(?P<id>\d+)$")),
    ("user_likes", re.compile(r"^/users/(?P<id>\d+)/likes/?$")),
    ("user_tracks", re.compile(r"^/users/(?P<id>\d+)/tracks/?$")),
    ("format_info", re.compile(r"^/media/soundcloud:tracks:(?P<id>\d+)/\w+/(?P<kind>stream|preview)/(?P<proto>[\w-]+)$")),
    ("stream", re.compile(r"^/stream/(?P<id>\d+)\.128\.mp3$")),
    ("stream", re.compile(r"^/preview/0/30/(?P<id>\d+)\.128\.mp3$")),
    ("hls_playlist", re.compile(r"^/playlist/(?P<preview>0/30/)?(?P<id>\d+)\.128\.mp3/playlist\.m3u8$")),
    ("hls_segment", re.compile(r"^/media/(?P<id>\d+)/(?P<part>full|preview)/(?P<n>\d+)\.mp3$")),
    ("original", re.compile(r"^/originals/(?P<id>\d+)\.mp3$")),
    ("artwork", re.compile(r"^/(?:images/)?(?P<stem>(?:artworks|avatars)-[\w-]+?)-(?P<size>[a-z0-9]+)\.(?:jpg|png)$")),
]  # fmt: skip
_SIZES = {"mini": 16, "tiny": 20, "small": 32, "badge": 47, "t67x67": 67, "large": 100,
          "t300x300": 300, "crop": 400, "t500x500": 500, "original": 500}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    emulator: SoundCloudEmulator
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write, without Nagle: keep-alive answers must not
    # wait for delayed ACKs (40 ms each), or the emulator, not SoundCloud, sets the pace.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server_version = "SoundCloudEmulator/1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._respond(self._handle(), head=False)

    def do_HEAD(self) -> None:
        self._respond(self._handle(), head=True)

    def do_CONNECT(self) -> None:
        self._respond(
            _error(501, "the emulator serves plain http only (no CONNECT tunnels)"), False
        )

    def _respond(self, answer: _Answer, head: bool) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(answer.body)

    def _handle(self) -> _Answer:
        emu = self.emulator
        parts = urlsplit(self.path)
        if parts.scheme:  # absolute URI: we are being used as a proxy
            if parts.hostname not in _KNOWN_HOSTS:
                return _error(502, f"the emulator does not serve {parts.hostname}")
            urls = _Urls(None)
        else:
            urls = _Urls(emu.base_url)
        path = parts.path or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        endpoint, match = next(
            ((name, m) for name, rx in _ROUTES if (m := rx.match(path))), ("unknown", None)
        )
        # A request is counted when it arrives, as a real server counts it at its door:
        # not when the lock below frees, which would bunch up requests that came apart.
        arrived, arrived_at = emu._clock(), time.time()
        if (meeting := emu.meetings.get(endpoint)) is not None:
            meeting.wait(path, arrived_at)
        if endpoint in MEDIA_ENDPOINTS and match is not None:
            self._warm_audio(emu, match, preview="/0/30/" in path or "/preview" in path)
        if emu.latency:
            time.sleep(emu.latency)
        with emu._lock:
            emu.counts[endpoint] += 1
            answer = self._dispatch(emu, endpoint, match, query, urls, arrived)
            emu.statuses[answer.status] += 1
            emu.log.append((endpoint, answer.status, path))
            emu.times.append(arrived_at)
        return answer

    @staticmethod
    def _warm_audio(emu: SoundCloudEmulator, match: re.Match[str], preview: bool) -> None:
        """Render a track's audio into the cache before the emulator's lock is taken:
        the other requests go on meanwhile, as they would at a CDN."""
        t = emu.tracks.get(int(match.group("id")))
        if t is not None:
            audio_bytes(t.bpm, t.key, PREVIEW_SECONDS if preview else t.seconds)

    def _dispatch(
        self,
        emu: SoundCloudEmulator,
        endpoint: str,
        match: re.Match[str] | None,
        query: dict[str, str],
        urls: _Urls,
        arrived: float,
    ) -> _Answer:
        if match is None:
            return _error(404, "not found")
        if endpoint in API_ENDPOINTS:
            wait = emu._rate_check(arrived)
            if wait is not None:
                answer = _error(429, "Please slow down")
                answer.headers["Retry-After"] = retry_after_header(wait)
                return answer
            if emu._inject_errors:
                return _error(emu._inject_errors.pop(0), "upstream error")
            if query.get("client_id") != emu.client_id:
                return _error(401, "invalid or missing client_id")
        auth = self.headers.get("Authorization", "")
        authorized = auth.startswith("OAuth ") and auth[6:] in emu.oauth_tokens
        handler = getattr(self, f"_ep_{endpoint}")
        return handler(emu, match, query, urls, authorized)

    # ---- web page (where yt-dlp finds a client id)

    def _ep_web(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        if match.group(0) == "/":
            html = (
                "<!DOCTYPE html><html><head><title>SoundCloud</title></head><body>"
                f'<script crossorigin src="{urls.assets}assets/vendor-1a2b3c.js"></script>'
                f'<script crossorigin src="{urls.assets}assets/app-4d5e6f.js"></script>'
                "</body></html>"
            )
            return _Answer(200, html.encode(), "text/html; charset=utf-8")
        if "app-" in match.group(0):
            js = f'(function(){{var e={{client_id:"{emu.client_id}",env:"production"}};}})();'
        else:
            js = "/* vendor bundle */ var a=1;"
        return _Answer(200, js.encode(), "application/javascript")

    # ---- api-v2

    def _ep_resolve(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        target = urlsplit(query.get("url", ""))
        if (target.hostname or "").lower() not in {
            "soundcloud.com",
            "www.soundcloud.com",
            "m.soundcloud.com",
        }:
            return _error(404, "not found")
        segs = [s for s in target.path.split("/") if s]
        token = next(iter(parse_qs(target.query).get("secret_token", [])), None)
        if len(segs) >= 3 and segs[1] == "sets":
            p = emu._find_playlist(segs[0], segs[2])
            token = segs[3] if len(segs) > 3 else token
            if p is None:
                return _error(404, "not found")
            if p.private and token != p.secret_token:
                return _error(emu.private_status if token is None else 404, "not found")
            return _json(200, emu.playlist_json(p, urls, authorized))
        if len(segs) == 1:
            user = emu.users.get(segs[0].lower())
            return _json(200, user.json(urls)) if user else _error(404, "not found")
        if len(segs) in (2, 3):
            t = emu._find_track(segs[0], segs[1])
            token = segs[2] if len(segs) == 3 else token
            if t is None or not emu._track_readable(t, token, None):
                return _error(404, "not found")
            return _json(200, t.json(urls, authorized))
        return _error(404, "not found")

    def _ep_tracks_batch(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        try:
            ids = [int(x) for x in query.get("ids", "").split(",") if x.strip()]
        except ValueError:
            return _error(400, "ids must be numbers")
        if len(ids) > emu.batch_cap:
            return _error(400, f"too many ids (at most {emu.batch_cap})")
        token, pid = query.get("playlistSecretToken"), query.get("playlistId")
        found = [
            emu.tracks[i]
            for i in dict.fromkeys(ids)
            if i in emu.tracks and emu._track_readable(emu.tracks[i], token, pid)
        ]
        found.sort(key=lambda t: t.id)  # the real answer is not in request order either
        return _json(200, [t.json(urls, authorized) for t in found])

    def _ep_track(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        t = emu.tracks.get(int(match.group("id")))
        if t is None or not emu._track_readable(t, query.get("secret_token"), None):
            return _error(404, "not found")
        return _json(200, t.json(urls, authorized))

    def _ep_track_download(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        t = emu.tracks.get(int(match.group("id")))
        if t is None or not emu._track_readable(t, query.get("secret_token"), None):
            return _error(404, "not found")
        if not t.downloadable:
            return _error(403, "downloads are disabled for this track")
        return _json(200, {"redirectUri": f"{urls.stream}originals/{t.id}.mp3"})

    def _ep_search(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        """Public tracks whose ISRC is the query, or whose title and artist hold every word."""
        q = (query.get("q") or "").strip()
        words = set(re.findall(r"\w+", q.lower()))
        try:
            limit = int(query.get("limit", 10))
        except ValueError:
            return _error(400, "limit must be a number")
        if not words or not 1 <= limit <= 200:
            return _error(400, "q is required; limit between 1 and 200")

        def hit(t: EmuTrack) -> bool:
            if t.isrc and t.isrc.lower() == q.lower():
                return True
            text = f"{t.title} {t.publisher_artist or ''} {t.user.username}".lower()
            return words <= set(re.findall(r"\w+", text))

        found = [t for t in emu.tracks.values() if not t.deleted and not t.private and hit(t)]
        return _json(200, {"collection": [t.json(urls, authorized) for t in found[:limit]],
                           "total_results": len(found), "next_href": None})  # fmt: skip

    def _ep_comments(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        return _json(200, {"collection": [], "next_href": None})

    def _ep_user(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        uid = int(match.group("id"))
        user = next((u for u in emu.users.values() if u.id == uid), None)
        return _json(200, user.json(urls)) if user else _error(404, "not found")

    def _ep_user_likes(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        return self._user_page(emu, match, query, urls, authorized, "likes")

    def _ep_user_tracks(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        return self._user_page(emu, match, query, urls, authorized, "tracks")

    def _user_page(self, emu, match, query, urls, authorized, listing: str) -> _Answer:  # type: ignore[no-untyped-def]
        """One page of a user's likes or uploads: ``limit`` entries (at most 200) from
        ``offset``, and the ``next_href`` of the next page (None on the last)."""
        uid = int(match.group("id"))
        user = next((u for u in emu.users.values() if u.id == uid), None)
        if user is None:
            return _error(404, "not found")
        try:
            limit = min(int(query.get("limit", 10)), 200)
            offset = int(query.get("offset", 0))
        except ValueError:
            return _error(400, "limit and offset must be numbers")
        if limit < 1 or offset < 0:
            return _error(400, "limit must be at least 1 and offset not negative")
        items = (emu.likes_json if listing == "likes" else emu.uploads_json)(user, urls, authorized)
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        next_href = (
            f"{urls.api}users/{uid}/{listing}?offset={offset + limit}&limit={limit}"
            + ("&linked_partitioning=1" if query.get("linked_partitioning") else "")
        ) if more else None  # fmt: skip
        return _json(200, {"collection": page, "next_href": next_href,
                           "query_urn": f"soundcloud:{listing}:{uid}"})  # fmt: skip

    def _ep_playlist(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        p = emu.playlists.get(int(match.group("id")))
        if p is None or (p.private and query.get("secret_token") != p.secret_token):
            return _error(404, "not found")
        return _json(200, emu.playlist_json(p, urls, authorized))

    def _ep_format_info(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        t = emu.tracks.get(int(match.group("id")))
        if t is None or t.deleted or t.kind in ("blocked", "drm"):
            return _error(404, "not found")  # DRM format info answers 404 since 2026
        preview = match.group("kind") == "preview" or t.snipped(authorized)
        if match.group("proto") == "hls":
            stream = f"{urls.hls}playlist/{'0/30/' if preview else ''}{t.id}.128.mp3/playlist.m3u8"
        else:
            stream = f"{urls.stream}{'preview/0/30' if preview else 'stream'}/{t.id}.128.mp3"
        return _json(200, {"url": f"{stream}?Policy=emu&Signature=emu&Key-Pair-Id=EMU"})

    # ---- media

    def _audio(self, emu: SoundCloudEmulator, t: EmuTrack, preview: bool) -> bytes:
        seconds = PREVIEW_SECONDS if preview else t.seconds
        return audio_bytes(t.bpm, t.key, seconds)

    def _media_track(self, emu: SoundCloudEmulator, match: re.Match[str]) -> EmuTrack | None:
        t = emu.tracks.get(int(match.group("id")))
        return None if t is None or t.deleted else t

    def _ep_stream(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        t = self._media_track(emu, match)
        if t is None or t.kind in ("blocked", "drm"):
            return _error(404, "not found")
        preview = match.group(0).startswith("/preview/")
        return _Answer(200, self._audio(emu, t, preview), "audio/mpeg")

    def _ep_hls_playlist(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        t = self._media_track(emu, match)
        if t is None or t.kind in ("blocked", "drm"):
            return _error(404, "not found")
        preview = bool(match.group("preview"))
        seconds = PREVIEW_SECONDS if preview else t.seconds
        parts = _mp3_segments(self._audio(emu, t, preview), max(1, math.ceil(seconds / 10)))
        part = "preview" if preview else "full"
        per = seconds / len(parts)
        lines = ["#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{math.ceil(per)}",
                 "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]  # fmt: skip
        for n in range(len(parts)):
            lines += [f"#EXTINF:{per:.3f},", f"{urls.hls}media/{t.id}/{part}/{n}.mp3"]
        lines.append("#EXT-X-ENDLIST")
        return _Answer(200, ("\n".join(lines) + "\n").encode(), "application/vnd.apple.mpegurl")

    def _ep_hls_segment(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        t = self._media_track(emu, match)
        if t is None:
            return _error(404, "not found")
        preview = match.group("part") == "preview"
        seconds = PREVIEW_SECONDS if preview else t.seconds
        parts = _mp3_segments(self._audio(emu, t, preview), max(1, math.ceil(seconds / 10)))
        n = int(match.group("n"))
        if n >= len(parts):
            return _error(404, "not found")
        return _Answer(200, parts[n], "audio/mpeg")

    def _ep_original(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        t = self._media_track(emu, match)
        if t is None or not t.downloadable:
            return _error(404, "not found")
        answer = _Answer(200, self._audio(emu, t, False), "audio/mpeg")
        answer.headers["Content-Disposition"] = f'attachment; filename="{t.permalink}.mp3"'
        return answer

    def _ep_artwork(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        size = _SIZES.get(match.group("size"))
        if size is None:
            return _error(404, "not found")
        return _Answer(200, _jpeg(match.group("stem"), size), "image/jpeg")

    def _ep_unknown(self, emu, match, query, urls, authorized) -> _Answer:  # type: ignore[no-untyped-def]
        return _error(404, "not found")


# --------------------------------------------------------------------------- helpers


def seed_client_id_cache(cache_dir: str | Path, client_id: str = DEFAULT_CLIENT_ID) -> Path:
    """Store ``client_id`` where yt-dlp's SoundCloud extractor looks (``soundcloud/client_id``)."""
    from yt_dlp import YoutubeDL
    from yt_dlp.cache import Cache

    cache_dir = Path(cache_dir)
    with YoutubeDL({"cachedir": str(cache_dir), "quiet": True}, auto_init=False) as ydl:
        Cache(ydl).store("soundcloud", "client_id", client_id)
    return cache_dir / "soundcloud" / "client_id.json"


DEMO_USER = "demo-dj"
DEMO_SLUG = "warmup-mix"


def build_demo(emu: SoundCloudEmulator) -> EmuPlaylist:
    """The offline demo: ``demo-dj/sets/warmup-mix``, 12 tracks, one each preview/blocked/gone."""
    emu.add_user(DEMO_USER, "Demo DJ")
    playlist = emu.add_playlist(
        DEMO_USER,
        DEMO_SLUG,
        12,
        title="Warmup Mix",
        description="Twelve synthesized tracks for the offline demo.",
        kinds={4: "preview", 7: "blocked", 10: "gone"},
        track_users=["lowlight-audio", "kaia-moreno", "dusk-records"],
    )
    emu.tracks[playlist.track_ids[1]].downloadable = True
    return playlist


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the SoundCloud api-v2 emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--demo", action="store_true", help="serve the demo playlist")
    parser.add_argument("--rate-limit", type=int, default=600, help="requests per window")
    parser.add_argument("--rate-window", type=float, default=600.0, help="window in seconds")
    parser.add_argument(
        "--seed-cache", type=Path, help="write the client id into this yt-dlp cachedir"
    )
    args = parser.parse_args(argv)
    emu = SoundCloudEmulator(
        host=args.host, port=args.port, rate_limit=args.rate_limit, rate_window=args.rate_window
    )
    if args.demo:
        build_demo(emu)
    if args.seed_cache:
        emu.seed_client_id_cache(args.seed_cache)
    emu.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"SoundCloud emulator on {emu.base_url} (client id {emu.client_id})", flush=True)
    for p in emu.playlists.values():
        print(f"  playlist {p.url} ({len(p.track_ids)} tracks)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
