"""Reading Spotify playlists through spotipy (see docs/spotify.md for the API as it is).

Only what a sync needs: the playlist with its version (`snapshot_id`), and its entries,
50 to a page. Entries that are no track we can keep (local files, podcast episodes,
tracks removed from Spotify) are returned as skipped, with the reason. Spotify serves
no audio: its tracks carry their ISRC so the catalog can find them among the
recordings it knows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import requests

from .errors import EmptyPlaylist, PlaylistNotFound, SourceError, SpotifyUnavailable
from .models import Availability, Playlist, SkippedEntry, Source, Track
from .urls import SpotifyPlaylistRef, parse_spotify_url

PAGE_SIZE = 50  # the most /playlists/{id}/items gives in one page
SCOPE = "playlist-read-private playlist-read-collaborative"
_HEAD_FIELDS = (
    "id,name,description,public,collaborative,snapshot_id,images,external_urls,"
    "owner(id,display_name,external_urls),items(total),tracks(total)"
)
# the deprecated `track` of an entry is asked for too: some answers may still lack `item`
_ITEM_FIELDS = (
    "id,name,type,is_local,duration_ms,artists(name),album(name,images),external_ids,external_urls"
)
_PAGE_FIELDS = f"total,next,items(added_at,is_local,item({_ITEM_FIELDS}),track({_ITEM_FIELDS}))"


class SpotifyClient:
    """One spotipy client with its token in memory (never in a file)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        refresh_token: str | None = None,
        api_base: str = "https://api.spotify.com/v1/",
        accounts_base: str = "https://accounts.spotify.com/",
        timeout_s: float = 20.0,
        retries: int = 3,
    ) -> None:
        # spotipy (and the redis client its cache module imports) only for a Spotify sync:
        # a SoundCloud run's process never loads it
        import spotipy
        from spotipy.cache_handler import MemoryCacheHandler

        auth: spotipy.SpotifyClientCredentials | spotipy.SpotifyOAuth
        if refresh_token:
            # an expired token with the user's refresh token: the first call refreshes it
            cache = MemoryCacheHandler(
                {
                    "access_token": "",
                    "refresh_token": refresh_token,
                    "expires_at": 0,
                    "scope": SCOPE,
                }
            )
            auth = spotipy.SpotifyOAuth(
                client_id,
                client_secret,
                redirect_uri="http://127.0.0.1:8888/callback",
                scope=SCOPE,
                cache_handler=cache,
                open_browser=False,
                requests_timeout=timeout_s,
            )
        else:
            auth = spotipy.SpotifyClientCredentials(
                client_id, client_secret, cache_handler=MemoryCacheHandler(),
                requests_timeout=timeout_s,
            )  # fmt: skip
        auth.OAUTH_TOKEN_URL = accounts_base.rstrip("/") + "/api/token"
        self.spotify = spotipy.Spotify(
            auth_manager=auth,
            requests_timeout=timeout_s,
            retries=retries,
            status_retries=retries,
            backoff_factor=0.5,
        )
        self.spotify.prefix = api_base.rstrip("/") + "/"
        self.user_access = bool(refresh_token)

    def close(self) -> None:
        session = getattr(self.spotify, "_session", None)
        if isinstance(session, requests.Session):
            session.close()

    # ---- reads

    def head(self, url: str) -> Playlist:
        """The playlist without its entries (one request): name, owner, snapshot_id."""
        ref = _ref(url)
        with self._errors(ref.public_url):
            answer = self.spotify.playlist(ref.spotify_id, fields=_HEAD_FIELDS)
        return _playlist_from_json(answer, ref)

    def fetch_playlist(self, url: str, head: Playlist | None = None) -> Playlist:
        """The playlist and every entry in order (1 request + 1 per 50 entries, or the
        pages alone when ``head`` is given)."""
        ref = _ref(url)
        playlist = head or self.head(url)
        entries: list[Mapping[str, Any]] = []
        with self._errors(ref.public_url):
            page = self.spotify.playlist_items(
                ref.spotify_id, fields=_PAGE_FIELDS, limit=PAGE_SIZE, offset=0
            )
            while page:
                entries.extend(page.get("items") or [])
                page = self.spotify.next(page) if page.get("next") else None
        tracks, skipped = entries_to_tracks(entries)
        if not tracks and not skipped:
            raise EmptyPlaylist(ref.public_url, "the playlist has no tracks")
        return replace(playlist, tracks=tuple(tracks), track_count=len(tracks), skipped=skipped)

    def fetch_track(self, spotify_id: str) -> Track:
        """One track by its Spotify id (one request: Spotify closed its lookup of several
        tracks at once to development-mode apps in February 2026)."""
        url = f"https://open.spotify.com/track/{spotify_id}"
        with self._errors(url):
            item = self.spotify.track(spotify_id)
        return track_from_json(item, 0, None)

    def my_playlists(self) -> list[str]:
        """The URLs of the user's playlists (their own and those they follow), 50 a page;
        needs the user's refresh token."""
        urls: list[str] = []
        with self._errors("your Spotify playlists"):
            page = self.spotify.current_user_playlists(limit=PAGE_SIZE)
            while page:
                urls += [SpotifyPlaylistRef(p["id"]).public_url for p in page.get("items") or []]
                page = self.spotify.next(page) if page.get("next") else None
        return urls

    @contextmanager
    def _errors(self, url: str) -> Iterator[None]:
        """spotipy's and the network's errors as one line naming the playlist."""
        import spotipy

        try:
            yield
        except spotipy.SpotifyOauthError as exc:
            raise SourceError(
                url,
                f"Spotify refused the app's credentials ({exc.error}): check "
                "SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET and SPOTIFY_REFRESH_TOKEN",
            ) from None
        except spotipy.SpotifyException as exc:
            raise _http_error(exc.http_status, url) from None
        except requests.RequestException as exc:
            raise SpotifyUnavailable(
                url, f"Spotify could not be reached ({type(exc).__name__})"
            ) from None


def _ref(url: str) -> SpotifyPlaylistRef:
    ref = parse_spotify_url(url)
    if ref is None:
        raise SourceError(url, "not a Spotify playlist URL")
    return ref


def _http_error(status: int, url: str) -> SourceError:
    if status == 404:
        return PlaylistNotFound(
            url,
            "Spotify has no playlist here that this app may read (private ones need "
            "SPOTIFY_REFRESH_TOKEN of their owner; Spotify's own editorial playlists are "
            "closed to apps)",
        )
    if status == 429:
        return SpotifyUnavailable(url, "Spotify's rate limit held after retries: try again later")
    if status in (401, 403):
        return SourceError(
            url,
            f"Spotify answered {status}: the app may not read it (a development-mode app "
            "serves only the users on its list, and its owner needs Premium)",
        )
    return SpotifyUnavailable(url, f"Spotify answered {status}: try again later")


def _playlist_from_json(answer: Mapping[str, Any], ref: SpotifyPlaylistRef) -> Playlist:
    owner = answer.get("owner") or {}
    images = answer.get("images") or []
    summary = answer.get("items") or answer.get("tracks") or {}
    return Playlist(
        soundcloud_id=None,
        key=ref.key,
        url=ref.public_url,
        title=answer.get("name") or ref.spotify_id,
        description=answer.get("description") or None,
        curator=owner.get("display_name") or owner.get("id"),
        curator_url=(owner.get("external_urls") or {}).get("spotify"),
        artwork_url=images[0].get("url") if images else None,
        track_count=int(summary.get("total") or 0),
        set_type="collaborative" if answer.get("collaborative") else "playlist",
        source=Source.SPOTIFY,
        spotify_id=answer.get("id") or ref.spotify_id,
        snapshot_id=answer.get("snapshot_id"),
    )


def entries_to_tracks(
    entries: list[Mapping[str, Any]],
) -> tuple[list[Track], tuple[SkippedEntry, ...]]:
    """Playlist entries as tracks in order, and the entries that are none, with why."""
    tracks: list[Track] = []
    skipped: list[SkippedEntry] = []
    for position, entry in enumerate(entries, start=1):
        item = entry.get("item") or entry.get("track")
        reason = _skip_reason(entry, item)
        if reason or item is None:
            name = item.get("name") if item else None
            skipped.append(SkippedEntry(position, name, reason or "removed from Spotify"))
            continue
        tracks.append(track_from_json(item, len(tracks) + 1, entry.get("added_at")))
    return tracks, tuple(skipped)


def _skip_reason(entry: Mapping[str, Any], item: Mapping[str, Any] | None) -> str | None:
    if item is None:
        return "removed from Spotify"
    if item.get("type") == "episode":
        return "podcast episode"
    if entry.get("is_local") or item.get("is_local") or not item.get("id"):
        return "local file"
    return None


def track_from_json(item: Mapping[str, Any], position: int, added_at: str | None) -> Track:
    album = item.get("album") or {}
    images = album.get("images") or []
    artists = [a.get("name") for a in item.get("artists") or [] if a.get("name")]
    return Track(
        soundcloud_id=None,
        position=position,
        title=item.get("name"),
        artist=", ".join(artists) or None,
        duration_ms=item.get("duration_ms"),
        isrc=(item.get("external_ids") or {}).get("isrc") or None,
        album=album.get("name") or None,
        artwork_url=images[0].get("url") if images else None,
        created_at=added_at,
        added_at=added_at,
        availability=Availability.NO_SOURCE,
        spotify_id=item["id"],
        spotify_url=(item.get("external_urls") or {}).get("spotify")
        or f"https://open.spotify.com/track/{item['id']}",
        source=Source.SPOTIFY,
    )
