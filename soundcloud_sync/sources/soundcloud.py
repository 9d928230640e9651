"""Reading SoundCloud playlists: one ``/resolve`` plus one ``/tracks?ids=`` per 50 tracks.

Built on yt-dlp's own machinery rather than beside it: its network stack (proxy,
timeouts, user agent), its SoundCloud extractor's api base, client-id cache
(``soundcloud``/``client_id`` in yt-dlp's ``cachedir``) and client-id scraping. What
yt-dlp does not do, we do here: batch the track lookups (yt-dlp fetches every stub of
a set on its own, 500+ requests for 500 tracks), honour ``Retry-After`` on 429, count
requests, and turn HTTP answers into errors that name the playlist URL.

Secrets (client id, OAuth token) never reach an error message or a log line.
"""

from __future__ import annotations

import collections
import email.utils
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from yt_dlp import YoutubeDL
from yt_dlp.extractor import soundcloud as _sc_module
from yt_dlp.extractor.soundcloud import SoundcloudBaseIE
from yt_dlp.utils import ExtractorError

from .errors import (
    EmptyPlaylist,
    NotAPlaylist,
    PlaylistNotFound,
    PlaylistPrivate,
    SoundCloudUnavailable,
)
from .models import Availability, Playlist, PlaylistSnapshot, Track, ids_hash
from .urls import PlaylistRef, parse_soundcloud_url

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

DEFAULT_API_BASE = SoundcloudBaseIE._API_V2_BASE
BATCH_SIZE = 50  # api-v2 answers 400 to more ids per /tracks call
PLAYLIST_KINDS = {"playlist", "system-playlist"}
_TAGS_RE = SoundcloudBaseIE._TAGS_RE  # 'house "deep house"' -> house, deep house
_ARTWORK_SIZE_RE = re.compile(r"-(?:large|t\d+x\d+|crop|small|badge|tiny|mini)\.(jpg|png)$")


class _HttpStatus(Exception):
    """An api answer we could not use; mapped to a user-facing error by the caller."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _Unreachable(Exception):
    """Network failure, 429s beyond the wait budget, or a client id that cannot be renewed."""


# --------------------------------------------------------------------------- yt-dlp glue


def _web_base_for(api_base: str) -> str:
    """Where the client id is scraped from: soundcloud.com beside the real api, else the base."""
    parts = urlsplit(api_base)
    if (parts.hostname or "").endswith("soundcloud.com"):
        return f"{parts.scheme}://soundcloud.com/"
    return api_base


class _Configured:
    """Mixin over yt-dlp's SoundCloud extractors: our api base, client id and OAuth header."""

    _WEB_BASE: str
    _CONFIGURED_CLIENT_ID: str | None

    def _initialize_pre_login(self) -> None:
        # A configured id wins over the cache; otherwise yt-dlp's cache, then scraping.
        if self._CONFIGURED_CLIENT_ID:
            self._CLIENT_ID = self._CONFIGURED_CLIENT_ID
            return
        super()._initialize_pre_login()  # type: ignore[misc]

    def _real_initialize(self) -> None:
        # The OAuth header is set directly; yt-dlp would first verify it against api-auth.
        return

    def _update_client_id(self) -> None:
        # yt-dlp's own scraping (SoundcloudBaseIE._update_client_id), from our web base.
        webpage = self._download_webpage(self._WEB_BASE, None, "Downloading main page")  # type: ignore[attr-defined]
        for src in reversed(re.findall(r'<script[^>]+src="([^"]+)"', webpage)):
            script = self._download_webpage(src, None, "Downloading JS asset", fatal=False)  # type: ignore[attr-defined]
            if script:
                found = self._search_regex(  # type: ignore[attr-defined]
                    r'client_id\s*:\s*"([0-9a-zA-Z]{32})"', script, "client id", default=None
                )
                if found:
                    self._CLIENT_ID = found
                    self._store_client_id(found)  # type: ignore[attr-defined]
                    return
        raise ExtractorError("Unable to extract client id")


# Every SoundCloud extractor yt-dlp has (tracks, sets, users, search…), re-pointed together.
SOUNDCLOUD_EXTRACTORS: tuple[type[SoundcloudBaseIE], ...] = tuple(
    cls
    for cls in vars(_sc_module).values()
    if isinstance(cls, type)
    and issubclass(cls, SoundcloudBaseIE)
    and cls is not SoundcloudBaseIE
    and getattr(cls, "_VALID_URL", None)
)


def _configured(
    base: type[SoundcloudBaseIE],
    api_base: str,
    web_base: str,
    client_id: str | None,
    oauth_token: str | None,
) -> type[SoundcloudBaseIE]:
    """A subclass of one yt-dlp SoundCloud extractor pointed at ``api_base`` (same ie_key)."""
    attrs = {
        "_API_V2_BASE": api_base,
        "_WEB_BASE": web_base,
        "_CONFIGURED_CLIENT_ID": client_id,
        "_HEADERS": {"Authorization": f"OAuth {oauth_token}"} if oauth_token else {},
    }
    return type(base.__name__, (_Configured, base), attrs)


class _RedactingLogger:
    """yt-dlp's log lines, to Python logging, with secrets and query strings scrubbed."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact

    def debug(self, msg: str) -> None:
        log.debug(self._redact(msg))

    def info(self, msg: str) -> None:
        log.debug(self._redact(msg))

    def warning(self, msg: str) -> None:
        log.warning(self._redact(msg))

    def error(self, msg: str) -> None:
        log.error(self._redact(msg))


# --------------------------------------------------------------------------- parsing


def parse_tags(tag_list: str | None) -> tuple[str, ...]:
    """SoundCloud's ``tag_list``: space-separated, multi-word tags in double quotes."""
    tags = (quoted or bare for quoted, bare in _TAGS_RE.findall(tag_list or ""))
    return tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))


def largest_artwork(url: str | None) -> str | None:
    """The 500×500 rendition of an artwork URL (the API hands out the 100×100 ``-large``)."""
    if not url:
        return None
    return _ARTWORK_SIZE_RE.sub(lambda m: f"-t500x500.{m.group(1)}", url)


def _is_encrypted(transcoding: Mapping[str, Any]) -> bool:
    protocol = str((transcoding.get("format") or {}).get("protocol") or "")
    return "encrypted" in protocol or protocol.startswith(("ctr-", "cbc-"))


def _is_preview(transcoding: Mapping[str, Any]) -> bool:
    return bool(transcoding.get("snipped")) or "/preview/" in str(transcoding.get("url") or "")


def availability_of(track: Mapping[str, Any]) -> Availability:
    """OK, or why the full audio cannot be had (see external-apis.md)."""
    policy = str(track.get("policy") or "").upper()
    if policy == "BLOCK":
        return Availability.GEO_BLOCKED
    transcodings = list((track.get("media") or {}).get("transcodings") or [])
    clear = [t for t in transcodings if not _is_encrypted(t)]
    if transcodings and not clear:
        return Availability.DRM
    if policy == "SNIP" or (clear and all(_is_preview(t) for t in clear)):
        return Availability.PREVIEW_ONLY
    return Availability.OK


def is_full_track(obj: Mapping[str, Any]) -> bool:
    """Full track objects carry a permalink; set stubs are ``{id, kind, policy, …}`` only."""
    return bool(obj.get("permalink_url")) and "title" in obj


def track_from_json(obj: Mapping[str, Any], position: int) -> Track:
    """A full api-v2 track object as our Track (artist: publisher's when given, else uploader)."""
    user = obj.get("user") or {}
    publisher = obj.get("publisher_metadata") or {}
    uploader = user.get("username")
    return Track(
        soundcloud_id=int(obj["id"]),
        position=position,
        title=obj.get("title"),
        artist=(publisher.get("artist") or "").strip() or uploader,
        uploader=uploader,
        url=obj.get("permalink_url"),
        duration_ms=obj.get("full_duration") or obj.get("duration"),
        genre=(obj.get("genre") or "").strip() or None,
        tags=parse_tags(obj.get("tag_list")),
        isrc=(publisher.get("isrc") or "").strip() or None,
        album=publisher.get("album_title") or publisher.get("release_title") or None,
        artwork_url=largest_artwork(obj.get("artwork_url")),
        created_at=obj.get("created_at"),
        last_modified=obj.get("last_modified"),
        policy=obj.get("policy"),
        monetization_model=obj.get("monetization_model"),
        downloadable=bool(obj.get("downloadable") and obj.get("has_downloads_left")),
        availability=availability_of(obj),
    )


def gone_track(stub: Mapping[str, Any], position: int) -> Track:
    """A listed id that the batch lookup did not return (deleted, or private to someone else)."""
    return Track(
        soundcloud_id=int(stub["id"]),
        position=position,
        policy=stub.get("policy"),
        monetization_model=stub.get("monetization_model"),
        availability=Availability.GONE,
    )


# --------------------------------------------------------------------------- the client


class SoundCloudClient:
    """api-v2 reads for playlists, budgeted: ``fetch_playlist`` costs 1 + ceil(stubs / 50).

    Raw answers stay available for other callers: :attr:`raw_tracks` holds the last full
    track object seen per id (``media.transcodings``, ``downloadable``, …) and
    :meth:`fetch_track_json` batch-fetches more. :attr:`request_count` counts api-v2
    requests by kind (``resolve``, ``tracks``) and client-id refreshes (``client_id``).
    """

    def __init__(
        self,
        api_base: str = DEFAULT_API_BASE,
        client_id: str | None = None,
        oauth_token: str | None = None,
        proxy: str | None = None,
        cache_dir: Path | None = None,
        *,
        web_base: str | None = None,
        max_retries: int = 4,
        max_wait: float = 60.0,
        network_retries: int = 1,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_base = api_base if api_base.endswith("/") else f"{api_base}/"
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.network_retries = network_retries
        self._sleep = sleep
        self._secrets = [s for s in (client_id, oauth_token) if s]
        self.request_count: collections.Counter[str] = collections.Counter()
        self.raw_tracks: dict[int, dict[str, Any]] = {}
        self._lock = threading.RLock()
        params: dict[str, Any] = {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "socket_timeout": timeout,
            "logger": _RedactingLogger(self._redact),
        }
        if proxy:
            params["proxy"] = proxy
        if cache_dir is not None:
            params["cachedir"] = str(cache_dir)
        self._params = params
        self._web_base = web_base or _web_base_for(self.api_base)
        self._client_id, self._oauth_token = client_id, oauth_token
        self._ydl = YoutubeDL(params, auto_init=False)
        ie_class = _configured(
            SoundcloudBaseIE, self.api_base, self._web_base, client_id, oauth_token
        )
        self._ie = ie_class(self._ydl)
        self._headers = dict(ie_class._HEADERS)

    def close(self) -> None:
        self._ydl.close()

    def __enter__(self) -> SoundCloudClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def youtube_dl(self, params: Mapping[str, Any] | None = None) -> YoutubeDL:
        """A ``YoutubeDL`` for downloads that talks to SoundCloud the way this client does.

        Same api base, proxy, cache dir, client id (the refreshed one, if any) and OAuth
        token; its SoundCloud extractors are per-instance subclasses, so yt-dlp itself
        is never patched. ``params`` are ordinary yt-dlp options (format, outtmpl, …).
        """
        client_id = getattr(self._ie, "_CLIENT_ID", None) or self._client_id
        ydl = YoutubeDL({**self._params, **(params or {})})
        for extractor in SOUNDCLOUD_EXTRACTORS:
            configured = _configured(
                extractor, self.api_base, self._web_base, client_id, self._oauth_token
            )
            ydl.add_info_extractor(configured())
        return ydl

    @property
    def total_requests(self) -> int:
        """api-v2 requests sent (client-id scraping of the web page excluded)."""
        return sum(n for kind, n in self.request_count.items() if kind != "client_id")

    # ---- public reads

    def fetch_playlist(self, url: str) -> Playlist:
        """Every track of the set in playlist order; unreadable listed ids become GONE tracks."""
        ref = parse_soundcloud_url(url)
        shown = _shown_url(url, ref)
        answer = self._resolve(ref, shown)
        entries = [e for e in answer.get("tracks") or [] if e.get("id") is not None]
        if not entries:
            raise EmptyPlaylist(shown, "the playlist has no tracks")
        full = {int(e["id"]): e for e in entries if is_full_track(e)}
        stubs = [int(e["id"]) for e in entries if int(e["id"]) not in full]
        token = answer.get("secret_token") or ref.secret_token
        if stubs:
            full.update(self._batch(stubs, shown, playlist_id=answer["id"], secret_token=token))
        with self._lock:
            self.raw_tracks.update(full)
        tracks = tuple(
            track_from_json(full[int(e["id"])], pos) if int(e["id"]) in full else gone_track(e, pos)
            for pos, e in enumerate(entries, start=1)
        )
        return _playlist_from_json(answer, ref, tracks)

    def check_playlist(self, url: str) -> PlaylistSnapshot:
        """The cheap check (one request): ids and counts, for sensors watching many sets."""
        ref = parse_soundcloud_url(url)
        answer = self._resolve(ref, _shown_url(url, ref))
        ids = tuple(int(e["id"]) for e in answer.get("tracks") or [] if e.get("id") is not None)
        return PlaylistSnapshot(
            key=ref.key,
            soundcloud_id=int(answer["id"]),
            track_count=int(answer.get("track_count") or len(ids)),
            last_modified=answer.get("last_modified"),
            track_ids=ids,
            ids_hash=ids_hash(ids),
        )

    def fetch_track_json(
        self,
        ids: Iterable[int],
        *,
        playlist_id: int | None = None,
        secret_token: str | None = None,
    ) -> dict[int, dict[str, Any]]:
        """Full api-v2 track objects by id (≤50 per request); missing ids are simply absent."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        found = self._batch(wanted, "tracks", playlist_id=playlist_id, secret_token=secret_token)
        with self._lock:
            self.raw_tracks.update(found)
        return found

    # ---- api calls

    def search_tracks(self, query: str, limit: int = 5) -> list[Track]:
        """Full tracks SoundCloud's search gives for ``query`` (one request)."""
        try:
            answer = self._get("search", "search/tracks", {"q": query, "limit": str(limit)})
        except _HttpStatus as exc:
            raise SoundCloudUnavailable(query, f"search failed (HTTP {exc.status})") from None
        except _Unreachable as exc:
            raise SoundCloudUnavailable(query, str(exc)) from None
        found = answer.get("collection") if isinstance(answer, dict) else None
        return [track_from_json(t, 0) for t in found or [] if is_full_track(t)]

    def _resolve(self, ref: PlaylistRef, shown: str) -> dict[str, Any]:
        try:
            answer = self._get("resolve", "resolve", {"url": ref.url})
        except _HttpStatus as exc:
            raise _resolve_error(exc.status, ref, shown) from None
        except _Unreachable as exc:
            raise SoundCloudUnavailable(shown, str(exc)) from None
        kind = answer.get("kind") if isinstance(answer, dict) else None
        if kind not in PLAYLIST_KINDS:
            raise NotAPlaylist(shown, f"SoundCloud resolves this to a {kind or 'non-playlist'}")
        return answer

    def _batch(
        self,
        ids: list[int],
        shown: str,
        *,
        playlist_id: int | None,
        secret_token: str | None,
    ) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), BATCH_SIZE):
            query: dict[str, str] = {"ids": ",".join(map(str, ids[start : start + BATCH_SIZE]))}
            if secret_token and playlist_id is not None:
                query |= {"playlistId": str(playlist_id), "playlistSecretToken": secret_token}
            try:
                answer = self._get("tracks", "tracks", query)
            except _HttpStatus as exc:
                if exc.status in (401, 403):
                    raise PlaylistPrivate(
                        shown, f"track lookup refused (HTTP {exc.status}): private, or needs its secret token"
                    ) from None  # fmt: skip
                raise SoundCloudUnavailable(
                    shown, f"track lookup failed (HTTP {exc.status})"
                ) from None
            except _Unreachable as exc:
                raise SoundCloudUnavailable(shown, str(exc)) from None
            for obj in answer if isinstance(answer, list) else answer.get("collection", []):
                if isinstance(obj, dict) and obj.get("id") is not None and is_full_track(obj):
                    found[int(obj["id"])] = obj
        return found

    def _get(self, kind: str, path: str, query: Mapping[str, str]) -> Any:
        """One api-v2 GET with the client id; retries 429 (Retry-After) and 5xx, refreshes a stale id once."""
        with self._lock:
            self._initialize()
            waited, attempt, refreshed, net_failures = 0.0, 0, False, 0
            while True:
                self.request_count[kind] += 1
                try:
                    body, handle = self._ie._download_webpage_handle(
                        self.api_base + path,
                        None,
                        note=False,
                        query={**query, "client_id": self._ie._CLIENT_ID},
                        headers=self._headers,
                        expected_status=lambda _status: True,
                    )
                except ExtractorError as exc:
                    net_failures += 1
                    if net_failures > self.network_retries:
                        raise _Unreachable(
                            f"cannot reach SoundCloud at {self.api_base} ({self._redact(exc.orig_msg or str(exc))})"
                        ) from None  # fmt: skip
                    self._sleep(0.5 * net_failures)
                    continue
                status = handle.status
                if status == 200:
                    return json.loads(body)
                if status in (401, 403) and not refreshed:
                    refreshed = True
                    self._refresh_client_id()
                    continue
                if status == 429 or status >= 500:
                    wait = _retry_after(handle.headers.get("Retry-After"), default=2.0**attempt)
                    if attempt >= self.max_retries or waited + wait > self.max_wait:
                        what = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}"
                        raise _Unreachable(
                            f"SoundCloud keeps answering {what} after {attempt + 1} tries "
                            f"and {waited:.0f}s of waiting; try again later"
                        )
                    log.info("SoundCloud answered %s; retrying in %.1fs", status, wait)
                    self._sleep(wait)
                    waited += wait
                    attempt += 1
                    continue
                raise _HttpStatus(status)

    def _initialize(self) -> None:
        if not self._ie._ready:
            try:
                self._ie.initialize()
            except ExtractorError as exc:
                raise _Unreachable(self._no_client_id(exc)) from None

    def _refresh_client_id(self) -> None:
        """yt-dlp's recovery from a stale id: forget the cached one, scrape a fresh one."""
        self.request_count["client_id"] += 1
        self._ie._store_client_id(None)
        try:
            self._ie._update_client_id()
        except ExtractorError as exc:
            raise _Unreachable(self._no_client_id(exc)) from None
        if self._ie._CLIENT_ID not in self._secrets:
            self._secrets.append(self._ie._CLIENT_ID)

    def _no_client_id(self, exc: ExtractorError) -> str:
        return (
            "no usable SoundCloud client id (could not read one from the web page: "
            f"{self._redact(exc.orig_msg or str(exc))}); set SOUNDCLOUD_CLIENT_ID"
        )

    def _redact(self, text: str) -> str:
        text = re.sub(r"(client_id|secret_token|playlistSecretToken)=[^&\s'\"]+", r"\1=***", text)
        for secret in [*self._secrets, getattr(self._ie, "_CLIENT_ID", None)]:
            if secret:
                text = text.replace(secret, "***")
        return text


# --------------------------------------------------------------------------- helpers


def _shown_url(url: str, ref: PlaylistRef) -> str:
    """The URL to name in errors: what the user gave, minus any secret token."""
    raw = url.strip()
    return raw.replace(ref.secret_token, "s-***") if ref.secret_token else raw


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _resolve_error(status: int, ref: PlaylistRef, shown: str) -> Exception:
    if status == 404:
        if ref.secret_token:
            return PlaylistNotFound(shown, "no such playlist, or its secret token is wrong")
        return PlaylistNotFound(
            shown, "no such playlist (deleted, misspelled, or private: a private set needs its secret-token link)"
        )  # fmt: skip
    if status in (401, 403):
        return PlaylistPrivate(
            shown, f"SoundCloud refused access (HTTP {status}): private, or needs its secret token"
        )
    return SoundCloudUnavailable(shown, f"SoundCloud answered HTTP {status}")


def _playlist_from_json(
    answer: Mapping[str, Any], ref: PlaylistRef, tracks: tuple[Track, ...]
) -> Playlist:
    user = answer.get("user") or {}
    artwork = answer.get("artwork_url") or next(
        (t.artwork_url for t in tracks if t.artwork_url), None
    )
    return Playlist(
        soundcloud_id=int(answer["id"]),
        key=ref.key,
        url=ref.url,
        title=answer.get("title") or ref.slug,
        description=answer.get("description") or None,
        curator=user.get("username"),
        curator_url=user.get("permalink_url"),
        artwork_url=largest_artwork(artwork),
        track_count=int(answer.get("track_count") or len(tracks)),
        created_at=answer.get("created_at"),
        last_modified=answer.get("last_modified"),
        set_type=answer.get("set_type") or "playlist",
        secret_token=ref.secret_token or answer.get("secret_token"),
        tracks=tracks,
    )
