"""Playlist URLs as users paste them, and the one canonical key per playlist.

Key rule: ``<user>/sets/<slug>``, lower-cased, from the URL path alone. Host
variants (``m.``, ``www.``), scheme, query strings (``?si=…&utm_source=…``),
fragments, trailing slashes and a private set's secret token never reach the key,
so one playlist can never live under two partition keys. The secret token is kept
beside the key (in the catalog), never in it: keys are shown in the UI and logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from .errors import NotAPlaylist, NotASoundCloudUrl

SOUNDCLOUD_HOSTS = {"soundcloud.com", "www.soundcloud.com", "m.soundcloud.com"}
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_SECRET = re.compile(r"^s-[A-Za-z0-9]+$")
_USER_PAGES = {
    "sets",
    "likes",
    "reposts",
    "tracks",
    "albums",
    "popular-tracks",
    "followers",
    "following",
    "comments",
    "spotlight",
    "stations",
}
_KEY = re.compile(r"^[a-z0-9_-]+/sets/[a-z0-9_-]+$")


@dataclass(frozen=True)
class PlaylistRef:
    user: str
    slug: str
    secret_token: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.user}/sets/{self.slug}".lower()

    @property
    def public_url(self) -> str:
        """The permalink without a secret token: safe to show in logs and the UI."""
        return f"https://soundcloud.com/{self.user.lower()}/sets/{self.slug.lower()}"

    @property
    def url(self) -> str:
        """The permalink to resolve: public form, plus the token for a private set."""
        return f"{self.public_url}/{self.secret_token}" if self.secret_token else self.public_url


def is_playlist_key(text: str) -> bool:
    return bool(_KEY.match(text))


def parse_playlist_url(url: str) -> PlaylistRef:
    """Parse any playlist URL form (or a bare key) or raise an error naming the URL."""
    raw = (url or "").strip()
    if not raw:
        raise NotASoundCloudUrl(
            repr(url), "empty URL; expected https://soundcloud.com/<user>/sets/<playlist>"
        )
    if is_playlist_key(raw.lower()):
        user, _, slug = raw.lower().split("/")
        return PlaylistRef(user, slug)
    candidate = raw if "://" in raw else f"https://{raw}"
    parts = urlsplit(candidate)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in SOUNDCLOUD_HOSTS:
        hint = (
            " (short links from on.soundcloud.com must be opened once to get the full URL)"
            if host == "on.soundcloud.com"
            else ""
        )
        raise NotASoundCloudUrl(
            raw,
            f"not a SoundCloud URL{hint}; expected https://soundcloud.com/<user>/sets/<playlist>",
        )
    segments = [s for s in parts.path.split("/") if s]
    token = next(iter(parse_qs(parts.query).get("secret_token", [])), None)
    if (
        len(segments) >= 3
        and segments[1] == "sets"
        and all(_SEGMENT.match(s) for s in segments[:3])
    ):
        if len(segments) == 4 and _SECRET.match(segments[3]):
            token = segments[3]
        elif len(segments) > 3:
            raise NotAPlaylist(raw, "unexpected path after the playlist name")
        return PlaylistRef(
            segments[0], segments[2], token if token and _SECRET.match(token) else None
        )
    if not segments:
        raise NotAPlaylist(raw, "this is SoundCloud's home page, not a playlist")
    if len(segments) == 1 or segments[1] in _USER_PAGES:
        raise NotAPlaylist(
            raw, "this is a user page, not a playlist (expected /<user>/sets/<playlist>)"
        )
    raise NotAPlaylist(
        raw, "this is a track URL, not a playlist (expected /<user>/sets/<playlist>)"
    )


def playlist_key(url: str) -> str:
    return parse_playlist_url(url).key


def public_url(url: str) -> str:
    return parse_playlist_url(url).public_url
