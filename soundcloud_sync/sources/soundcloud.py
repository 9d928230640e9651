"""Reading SoundCloud playlists: one ``/resolve`` plus one ``/tracks?ids=`` per 50 tracks.

A user's likes and uploads: one ``/resolve`` of the profile, then ``/users/<id>/likes``
or ``/tracks`` page by page (``linked_partitioning=1``, following ``next_href``). Tracks
added by hand: one batch per 50 known ids, one ``/resolve`` per track new to the list.

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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

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
from .models import Availability, Playlist, PlaylistSnapshot, SkippedEntry, Track, ids_hash
from .urls import (
    USER_LISTINGS,
    PlaylistRef,
    SinglesRef,
    SoundCloudRef,
    TrackRef,
    UserListingRef,
    parse_soundcloud_url,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

DEFAULT_API_BASE = SoundcloudBaseIE._API_V2_BASE
BATCH_SIZE = 50  # api-v2 answers 400 to more ids per /tracks call
PLAYLIST_KINDS = {"playlist", "system-playlist"}
_TAGS_RE = SoundcloudBaseIE._TAGS_RE  # 'house "deep house"' -> house, deep house
# A user's likes or uploads come this many to a page (api-v2's most); a check reads only
# the newest HEAD_SIZE entries, whose fingerprint changes when a track is liked or uploaded.
LISTING_PAGE_SIZE = 200
HEAD_SIZE = 50
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
        page_size: int = LISTING_PAGE_SIZE,
    ) -> None:
        self.api_base = api_base if api_base.endswith("/") else f"{api_base}/"
        self.max_retries = max_retries
        self.page_size = page_size  # entries per page of a user's likes or uploads
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
        # Only SoundCloud's extractors: with yt-dlp's ~1,800 default ones, every
        # extract_info compiled the URL patterns of those listed before SoundCloud's
        # (Python's regex cache holds 512) — about a CPU-second per track.
        ydl = YoutubeDL({**self._params, **(params or {})}, auto_init=False)
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
        """Every track of the set in playlist order; unreadable listed ids become GONE tracks.
        A user's likes or uploads are walked to the end; a track URL is read as a
        listing of that one track."""
        ref = parse_soundcloud_url(url)
        if isinstance(ref, UserListingRef):
            return self.fetch_user_listing(ref)
        if isinstance(ref, TrackRef):
            return self.fetch_singles(ref.singles, [(ref.url, None)])[0]
        if isinstance(ref, SinglesRef):
            raise NotAPlaylist(ref.key, "the tracks added by hand are listed in the catalog")
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

    def check_playlist(self, url: str, user_id: int | None = None) -> PlaylistSnapshot:
        """The cheap check (one request): ids and counts, for sensors watching many sets.
        A user's likes or uploads: the newest entries (one request when ``user_id``, the
        catalog's, is known; two otherwise)."""
        ref = parse_soundcloud_url(url)
        if isinstance(ref, UserListingRef):
            return self._check_user_listing(ref, user_id)
        if not isinstance(ref, PlaylistRef):
            raise NotAPlaylist(ref.key, "tracks added by hand change only by hand: no check")
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

    def fetch_user_listing(self, ref: UserListingRef) -> Playlist:
        """Every track the user liked or uploaded, newest first, page by page to the last.

        Only a walk that reached the last page gives a listing (any failure raises), so
        the listing is the whole list and a track missing from it has left it: a like
        taken back, an upload deleted. Liked playlists are skipped with a reason.
        """
        user = self._resolve_user(ref)
        entries = [e for page in self._pages(ref, int(user["id"]), self.page_size) for e in page]
        listed: list[Mapping[str, Any]] = []
        skipped: list[SkippedEntry] = []
        for position, entry in enumerate(entries, start=1):
            track = _listed_track(entry)
            if track is not None and track.get("id") is not None:
                listed.append(track)
            elif isinstance(entry.get("playlist"), dict):
                title = entry["playlist"].get("title")
                skipped.append(SkippedEntry(position, title, "a liked playlist: add its own URL"))
        tracks = self._tracks_in_order(listed, ref.public_url)
        username = user.get("username") or ref.user
        return Playlist(
            soundcloud_id=int(user["id"]),
            key=ref.key,
            url=ref.url,
            title=f"{username} — {USER_LISTINGS[ref.listing]}",
            curator=username,
            curator_url=user.get("permalink_url"),
            artwork_url=largest_artwork(user.get("avatar_url")),
            track_count=len(tracks),
            set_type=USER_LISTINGS[ref.listing].lower(),
            tracks=tracks,
            snapshot_id=head_fingerprint(entries),
            skipped=tuple(skipped),
        )

    def fetch_singles(
        self, ref: SinglesRef, picks: Sequence[tuple[str, int | None]]
    ) -> tuple[Playlist, dict[str, int]]:
        """The tracks added by hand to ``ref``, in the order they were added, and the id
        each pick's URL resolved to. ``picks``: (URL, id known from an earlier run). Known
        public ids cost one batch per 50; a new or private track one ``/resolve`` each."""
        if not picks:
            raise EmptyPlaylist(
                ref.key, "no tracks added by hand yet (soundcloud-sync add TRACK_URL)"
            )
        refs = [(_track_ref(url), sid) for url, sid in picks]
        public_ids = [sid for track, sid in refs if sid is not None and not track.secret_token]
        found = (
            self._batch(public_ids, ref.key, playlist_id=None, secret_token=None)
            if public_ids
            else {}
        )
        resolved: dict[str, int] = {}
        listed: list[Mapping[str, Any]] = []
        for track, sid in refs:
            obj = found.get(sid) if sid is not None and not track.secret_token else None
            if obj is None and (sid is None or track.secret_token):
                obj = self._resolve_track(track, known=sid is not None)
            obj = obj or {"id": sid}  # known, now deleted or private: a GONE track
            resolved[track.url] = int(obj["id"])
            listed.append(obj)
        tracks = self._tracks_in_order(listed, ref.key, fetch_stubs=False)
        uploader = next((t.uploader for t in tracks if t.uploader), None) or ref.user
        playlist = Playlist(
            soundcloud_id=None,
            key=ref.key,
            url=ref.url,
            title=f"{uploader} — Singles",
            curator=uploader,
            curator_url=ref.public_url,
            track_count=len(tracks),
            set_type="singles",
            tracks=tracks,
        )
        return playlist, resolved

    def _tracks_in_order(
        self, listed: Sequence[Mapping[str, Any]], shown: str, *, fetch_stubs: bool = True
    ) -> tuple[Track, ...]:
        """Tracks in listing order, each once; stubs filled in by batch (or GONE)."""
        first: dict[int, Mapping[str, Any]] = {}
        for obj in listed:
            first.setdefault(int(obj["id"]), obj)
        unique = list(first.items())
        full = {sid: dict(t) for sid, t in unique if is_full_track(t)}
        stubs = [sid for sid, _ in unique if sid not in full]
        if stubs and fetch_stubs:
            full.update(self._batch(stubs, shown, playlist_id=None, secret_token=None))
        with self._lock:
            self.raw_tracks.update(full)
        return tuple(
            track_from_json(full[sid], pos) if sid in full else gone_track(t, pos)
            for pos, (sid, t) in enumerate(unique, start=1)
        )

    def _check_user_listing(self, ref: UserListingRef, user_id: int | None) -> PlaylistSnapshot:
        if user_id is None:
            user_id = int(self._resolve_user(ref)["id"])
        entries = next(self._pages(ref, user_id, HEAD_SIZE))
        ids = tuple(_entry_id(e) for e in entries)
        return PlaylistSnapshot(
            key=ref.key,
            soundcloud_id=user_id,
            track_count=len(ids),
            last_modified=None,
            track_ids=ids,
            ids_hash=head_fingerprint(entries),
        )

    def _pages(
        self, ref: UserListingRef, user_id: int, limit: int
    ) -> Iterator[list[dict[str, Any]]]:
        """The listing's pages, following ``next_href`` (its own query, our client id)."""
        path: str | None = f"users/{user_id}/{ref.listing}"
        query = {"limit": str(limit), "linked_partitioning": "1"}
        while path:
            answer = self._read(f"user_{ref.listing}", path, query, ref.public_url)
            if isinstance(answer, list):  # the shape without linked partitioning: no next page
                answer = {"collection": answer}
            found = answer.get("collection") if isinstance(answer, dict) else None
            if not isinstance(found, list):  # never a short walk taken for the whole list
                raise SoundCloudUnavailable(
                    ref.public_url, "SoundCloud sent a page without entries"
                )
            yield [e for e in found if isinstance(e, dict)]
            path, query = _next_page(answer.get("next_href"))

    def _resolve_user(self, ref: UserListingRef) -> dict[str, Any]:
        try:
            answer = self._read("resolve", "resolve", {"url": ref.profile_url}, ref.public_url)
        except PlaylistNotFound:
            answer = None
        if not isinstance(answer, dict) or answer.get("kind") != "user":
            raise PlaylistNotFound(ref.public_url, "SoundCloud has no user by this name")
        return answer

    def _resolve_track(self, ref: TrackRef, *, known: bool) -> dict[str, Any] | None:
        """The track's full object; None for one known before and now gone. A track never
        read is an error naming its URL: it may be misspelled."""
        try:
            answer = self._read("resolve", "resolve", {"url": ref.url}, ref.public_url)
        except PlaylistNotFound:
            if known:
                return None
            raise PlaylistNotFound(
                ref.public_url, "no such track (deleted, misspelled, or private: a private "
                "track needs its secret-token link); take it out with `soundcloud-sync remove URL`"
            ) from None  # fmt: skip
        kind = answer.get("kind") if isinstance(answer, dict) else None
        if kind != "track":
            raise NotAPlaylist(
                ref.public_url, f"SoundCloud resolves this to a {kind or 'non-track'}"
            )
        return answer

    def _read(self, kind: str, path: str, query: Mapping[str, str], shown: str) -> Any:
        """One GET whose failure is an error naming ``shown``: 404 not found, 401/403
        refused, anything else unavailable (try later)."""
        try:
            return self._get(kind, path, query)
        except _HttpStatus as exc:
            if exc.status == 404:
                raise PlaylistNotFound(shown, "not found on SoundCloud") from None
            if exc.status in (401, 403):
                raise PlaylistPrivate(
                    shown, f"SoundCloud refused access (HTTP {exc.status})"
                ) from None
            raise SoundCloudUnavailable(shown, f"SoundCloud answered HTTP {exc.status}") from None
        except _Unreachable as exc:
            raise SoundCloudUnavailable(shown, str(exc)) from None

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
        # a private link's token as the last part of a URL path, also percent-encoded
        text = re.sub(r"(/|%2F|%252F)s-[A-Za-z0-9]{5,}(?![A-Za-z0-9-])", r"\1s-***", text)
        for secret in [*self._secrets, getattr(self._ie, "_CLIENT_ID", None)]:
            if secret:
                text = text.replace(secret, "***")
        return text


# --------------------------------------------------------------------------- helpers


def _listed_track(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The track of a likes entry (``{created_at, track}``), or an uploads entry itself;
    None for a liked playlist."""
    if "track" in entry or "playlist" in entry:
        track = entry.get("track")
        return track if isinstance(track, dict) else None
    return entry if entry.get("kind", "track") == "track" else None


def _entry_id(entry: Mapping[str, Any]) -> int:
    """A listing entry's id: its track's, or minus its liked playlist's."""
    track = _listed_track(entry)
    if track is not None:
        return int(track.get("id") or 0)
    return -int((entry.get("playlist") or {}).get("id") or 0)


def head_fingerprint(entries: Sequence[Mapping[str, Any]]) -> str:
    """The fingerprint of a user listing's newest entries: a like, an upload or a take-back
    among them changes it. A check reads just these; the full walk stores the same."""
    return ids_hash(_entry_id(e) for e in entries[:HEAD_SIZE])


def _next_page(href: str | None) -> tuple[str | None, dict[str, str]]:
    """``next_href`` as a path under the api base and its query (client id left out)."""
    if not href:
        return None, {}
    parts = urlsplit(href)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items() if k != "client_id"}
    return parts.path.lstrip("/"), {"linked_partitioning": "1", **query}


def _track_ref(url: str) -> TrackRef:
    ref = parse_soundcloud_url(url)
    if not isinstance(ref, TrackRef):
        raise NotAPlaylist(url, "not a track URL")
    return ref


def _shown_url(url: str, ref: SoundCloudRef) -> str:
    """The URL to name in errors: what the user gave, minus any secret token."""
    raw = url.strip()
    token = getattr(ref, "secret_token", None)
    return raw.replace(token, "s-***") if token else raw


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
