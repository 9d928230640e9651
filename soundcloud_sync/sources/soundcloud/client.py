"""Reading SoundCloud listings: one ``/resolve`` plus one ``/tracks?ids=`` per 50 tracks.

A user's likes and uploads: one ``/resolve`` of the profile, then ``/users/<id>/likes``
or ``/tracks`` page by page (``linked_partitioning=1``, following ``next_href``). Tracks
added by hand: one batch per 50 known ids, one ``/resolve`` per track new to the list.

yt-dlp fetches every stub of a set on its own (500+ requests for 500 tracks); here
the track lookups are batched, and HTTP answers become errors that name the playlist
URL. The requests themselves go through `api.SoundCloudApi`.

Secrets (client id, OAuth token) never reach an error message or a log line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from yt_dlp.networking import HEADRequest
from yt_dlp.utils import urlhandle_detect_ext

from ..errors import (
    EmptyPlaylist,
    NotAPlaylist,
    PlaylistNotFound,
    PlaylistPrivate,
    SoundCloudUnavailable,
)
from ..models import Playlist, PlaylistSnapshot, SkippedEntry, Track, ids_hash
from ..streams import StreamFinder, TrackMedia
from ..urls import (
    USER_LISTINGS,
    PlaylistRef,
    SinglesRef,
    SoundCloudRef,
    TrackRef,
    UserListingRef,
    parse_soundcloud_url,
)
from .api import HttpStatus, SoundCloudApi, Unreachable
from .tracks import (
    HEAD_SIZE,
    entry_id,
    gone_track,
    head_fingerprint,
    is_full_track,
    largest_artwork,
    listed_track,
    playlist_from_json,
    track_from_json,
)

BATCH_SIZE = 50  # api-v2 answers 400 to more ids per /tracks call
PLAYLIST_KINDS = {"playlist", "system-playlist"}
# A user's likes or uploads come this many to a page (api-v2's most).
LISTING_PAGE_SIZE = 200


class SoundCloudClient(SoundCloudApi):
    """api-v2 reads for playlists, budgeted: ``fetch_playlist`` costs 1 + ceil(stubs / 50).

    Raw answers stay available for other callers: :attr:`raw_tracks` holds the last full
    track object seen per id (``media.transcodings``, ``downloadable``, …) and
    :meth:`fetch_track_json` batch-fetches more. Built as `SoundCloudApi` is.
    """

    page_size = LISTING_PAGE_SIZE  # entries per page of a user's likes or uploads

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw_tracks: dict[int, dict[str, Any]] = {}

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
        return playlist_from_json(answer, ref, tracks)

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

    def resolve_track(self, url: str) -> Track:
        """One track by its page URL (one ``/resolve``: SoundCloud has no lookup of many
        URLs at once); an error naming the URL when it is no readable track."""
        obj = self._resolve_track(_track_ref(url), known=False)
        assert obj is not None  # never None for a track not known before
        with self._lock:
            self.raw_tracks[int(obj["id"])] = dict(obj)
        return track_from_json(obj, 0)

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
        joined: dict[int, str] = {}  # a like's own time; an upload's is the track's
        for position, entry in enumerate(entries, start=1):
            track = listed_track(entry)
            if track is not None and track.get("id") is not None:
                listed.append(track)
                when = entry.get("created_at") or track.get("created_at")
                if when:
                    joined.setdefault(int(track["id"]), str(when))
            elif isinstance(entry.get("playlist"), dict):
                title = entry["playlist"].get("title")
                skipped.append(SkippedEntry(position, title, "a liked playlist: add its own URL"))
        tracks = tuple(
            replace(t, added_at=joined.get(t.soundcloud_id or 0))
            for t in self._tracks_in_order(listed, ref.public_url)
        )
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
        ids = tuple(entry_id(e) for e in entries)
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
            answer = self.read(f"user_{ref.listing}", path, query, ref.public_url)
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
            answer = self.read("resolve", "resolve", {"url": ref.profile_url}, ref.public_url)
        except PlaylistNotFound:
            answer = None
        if not isinstance(answer, dict) or answer.get("kind") != "user":
            raise PlaylistNotFound(ref.public_url, "SoundCloud has no user by this name")
        return answer

    def _resolve_track(self, ref: TrackRef, *, known: bool) -> dict[str, Any] | None:
        """The track's full object; None for one known before and now gone. A track never
        read is an error naming its URL: it may be misspelled."""
        try:
            answer = self.read("resolve", "resolve", {"url": ref.url}, ref.public_url)
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

    # ---- streams (the download's one request per track)

    def stream_finder(self, rows: Iterable[Mapping[str, Any]] = ()) -> StreamFinder:
        """The downloader's door to streams, knowing the tracks as ``rows`` (catalog rows
        with their ``transcodings``) or as this client read them."""
        known = [m for r in rows if (m := TrackMedia.of_row(r)) is not None]
        with self._lock:
            known += [TrackMedia.of_json(obj) for obj in self.raw_tracks.values()]
        return StreamFinder(self, known)

    def stream_url(self, transcoding_url: str, secret_token: str | None = None) -> str | None:
        """The CDN URL of one transcoding (one api-v2 request), or None when api-v2 does
        not know it (404: a transcoding replaced since the track was read)."""
        if not transcoding_url.startswith(self.api_base):
            return None
        query = {"secret_token": secret_token} if secret_token else {}
        try:
            answer = self._get("stream_url", transcoding_url[len(self.api_base) :], query)
        except HttpStatus as exc:
            if exc.status == 404:
                return None
            raise SoundCloudUnavailable(transcoding_url, f"stream URL: HTTP {exc.status}") from None
        except Unreachable as exc:
            raise SoundCloudUnavailable("stream URL", str(exc)) from None
        url = answer.get("url") if isinstance(answer, dict) else None
        return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None

    def original_download(
        self, soundcloud_id: int, secret_token: str | None = None
    ) -> tuple[str, str | None] | None:
        """The uploader's original file: its URL and extension (one api-v2 request, and a
        HEAD at the CDN as yt-dlp does), or None when not offered to this client (yt-dlp's
        ``download`` format: it then takes the best transcoding)."""
        query = {"secret_token": secret_token} if secret_token else {}
        try:
            answer = self._get(
                "original", f"tracks/{soundcloud_id}/download", query, renew_id=False
            )
        except HttpStatus:
            return None  # 401: registered users only; 403: not for this client
        except Unreachable as exc:
            raise SoundCloudUnavailable("original download", str(exc)) from None
        url = answer.get("redirectUri") if isinstance(answer, dict) else None
        if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            return None
        head = self._ie._request_webpage(
            HEADRequest(url), None, note=False, errnote=False, fatal=False
        )
        if not head:
            return None
        return head.url, urlhandle_detect_ext(head)

    # ---- api calls

    def search_tracks(self, query: str, limit: int = 5) -> list[Track]:
        """Full tracks SoundCloud's search gives for ``query`` (one request)."""
        try:
            answer = self._get("search", "search/tracks", {"q": query, "limit": str(limit)})
        except HttpStatus as exc:
            raise SoundCloudUnavailable(query, f"search failed (HTTP {exc.status})") from None
        except Unreachable as exc:
            raise SoundCloudUnavailable(query, str(exc)) from None
        found = answer.get("collection") if isinstance(answer, dict) else None
        return [track_from_json(t, 0) for t in found or [] if is_full_track(t)]

    def _resolve(self, ref: PlaylistRef, shown: str) -> dict[str, Any]:
        try:
            answer = self._get("resolve", "resolve", {"url": ref.url})
        except HttpStatus as exc:
            raise _resolve_error(exc.status, ref, shown) from None
        except Unreachable as exc:
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
            except HttpStatus as exc:
                if exc.status in (401, 403):
                    raise PlaylistPrivate(
                        shown, f"track lookup refused (HTTP {exc.status}): private, or needs its secret token"
                    ) from None  # fmt: skip
                raise SoundCloudUnavailable(
                    shown, f"track lookup failed (HTTP {exc.status})"
                ) from None
            except Unreachable as exc:
                raise SoundCloudUnavailable(shown, str(exc)) from None
            for obj in answer if isinstance(answer, list) else answer.get("collection", []):
                if isinstance(obj, dict) and obj.get("id") is not None and is_full_track(obj):
                    found[int(obj["id"])] = obj
        return found


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
