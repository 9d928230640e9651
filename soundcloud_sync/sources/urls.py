"""Playlist URLs as users paste them, and the one canonical key per playlist.

SoundCloud key rule: ``<user>/sets/<slug>``, lower-cased, from the URL path alone. Host
variants (``m.``, ``www.``), scheme, query strings (``?si=…&utm_source=…``),
fragments, trailing slashes and a private set's secret token never reach the key,
so one playlist can never live under two partition keys. The secret token is kept
beside the key (in the catalog), never in it: keys are shown in the UI and logs.

A user's likes and uploads: ``<user>/likes`` and ``<user>/tracks`` (the page's own
path, lower-cased); a single track (``/<user>/<track>``, with or without a private
track's token) goes into its uploader's hand-picked listing ``<user>/singles``. The
bare profile (``/<user>``) is refused: it is not one list, and guessing between likes,
uploads and reposts would sync the wrong one. Keys of these three kinds have two parts
and a set's key three, so none can collide; a track whose slug is ``singles`` is still a
track when given as a URL, as only a bare ``<user>/singles`` names the listing.

Spotify key rule: ``spotify/playlist/<id>``, the id as Spotify spells it (its ids are
case-sensitive), from ``open.spotify.com/playlist/<id>``, ``…/intl-xx/playlist/<id>`` or
``spotify:playlist:<id>``; queries such as ``?si=…`` never reach the key. The two rules
cannot collide: no SoundCloud key has ``playlist`` as its second part.

djay Pro key rule: ``djay/playlist/<name>``, the playlist's name in djay's library (read
by the djay sync, which registers these partitions; they have no URL of their own).
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
_KEY = re.compile(r"^[a-z0-9_-]+/(?:sets/[a-z0-9_-]+|likes|tracks|singles)$")
USER_LISTINGS = {"likes": "Likes", "tracks": "Uploads"}  # path -> what the listing is called
SINGLES = "singles"
ACCEPTED_FORMS = (
    "expected https://soundcloud.com/<user>/sets/<playlist>, /<user>/likes, "
    "/<user>/tracks or a track's /<user>/<track>"
)
SPOTIFY_HOSTS = {"open.spotify.com", "play.spotify.com"}
_SPOTIFY_ID = r"[A-Za-z0-9]{16,32}"
_SPOTIFY_KEY = re.compile(rf"^spotify/playlist/(?P<id>{_SPOTIFY_ID})$")
_SPOTIFY_URI = re.compile(rf"^spotify:(?:user:[^:]+:)?playlist:(?P<id>{_SPOTIFY_ID})$")
_DJAY_PREFIX = "djay/playlist/"
# what a Dagster partition key cannot hold
_NOT_IN_KEYS = re.compile(r"[\x00-\x1f,\[\]]|\.\.\.")
_SPOTIFY_TRACK = re.compile(
    rf"^(?:spotify:track:|(?:https?://)?(?:open|play)\.spotify\.com/"
    rf"(?:intl-[a-z]{{2}}(?:-[a-z]{{2}})?/)?track/)(?P<id>{_SPOTIFY_ID})(?:[/?#].*)?$",
    re.I,
)
_SPOTIFY_PATH = re.compile(
    rf"^/(?:intl-[a-z]{{2}}(?:-[a-z]{{2}})?/)?(?:embed/)?playlist/(?P<id>{_SPOTIFY_ID})/?$", re.I
)


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


@dataclass(frozen=True)
class SpotifyPlaylistRef:
    spotify_id: str

    @property
    def key(self) -> str:
        return f"spotify/playlist/{self.spotify_id}"

    @property
    def public_url(self) -> str:
        return f"https://open.spotify.com/playlist/{self.spotify_id}"

    @property
    def url(self) -> str:
        return self.public_url


@dataclass(frozen=True)
class UserListingRef:
    """A user's likes or uploads: a list SoundCloud pages through, newest first."""

    user: str
    listing: str  # "likes" or "tracks"

    @property
    def key(self) -> str:
        return f"{self.user}/{self.listing}".lower()

    @property
    def profile_url(self) -> str:
        return f"https://soundcloud.com/{self.user.lower()}"

    @property
    def public_url(self) -> str:
        return f"{self.profile_url}/{self.listing}"

    @property
    def url(self) -> str:
        return self.public_url


@dataclass(frozen=True)
class SinglesRef:
    """The tracks of one uploader added by hand: the catalog holds the list, so the
    registered URL is the key itself and its public face is the uploader's profile."""

    user: str

    @property
    def key(self) -> str:
        return f"{self.user}/{SINGLES}".lower()

    @property
    def public_url(self) -> str:
        return f"https://soundcloud.com/{self.user.lower()}"

    @property
    def url(self) -> str:
        return self.key


@dataclass(frozen=True)
class TrackRef:
    """One track's page; it lives in its uploader's singles listing (``key``)."""

    user: str
    slug: str
    secret_token: str | None = field(default=None, repr=False)

    @property
    def singles(self) -> SinglesRef:
        return SinglesRef(self.user)

    @property
    def key(self) -> str:
        return self.singles.key

    @property
    def public_url(self) -> str:
        return f"https://soundcloud.com/{self.user.lower()}/{self.slug.lower()}"

    @property
    def url(self) -> str:
        """The permalink to resolve: public form, plus the token of a private track."""
        return f"{self.public_url}/{self.secret_token}" if self.secret_token else self.public_url


@dataclass(frozen=True)
class DjayPlaylistRef:
    """A playlist of djay Pro's library, by its name there."""

    name: str

    @property
    def key(self) -> str:
        return f"{_DJAY_PREFIX}{_NOT_IN_KEYS.sub(' ', self.name).strip()}"

    @property
    def public_url(self) -> str:
        return self.key

    @property
    def url(self) -> str:
        return self.key


SoundCloudRef = PlaylistRef | UserListingRef | SinglesRef | TrackRef
AnyPlaylistRef = SoundCloudRef | SpotifyPlaylistRef | DjayPlaylistRef


def is_djay_key(text: str) -> bool:
    return text.startswith(_DJAY_PREFIX) and len(text) > len(_DJAY_PREFIX)


def is_playlist_key(text: str) -> bool:
    return bool(_KEY.match(text) or _SPOTIFY_KEY.match(text)) or is_djay_key(text)


def is_spotify_key(text: str) -> bool:
    return bool(_SPOTIFY_KEY.match(text))


def parse_playlist_url(url: str) -> AnyPlaylistRef:
    """Parse any playlist URL form (or a bare key) of any service, or raise an error
    naming the URL."""
    if is_djay_key((url or "").strip()):
        return DjayPlaylistRef(url.strip()[len(_DJAY_PREFIX) :])
    spotify = parse_spotify_url(url)
    return spotify if spotify is not None else parse_soundcloud_url(url)


def parse_spotify_url(url: str) -> SpotifyPlaylistRef | None:
    """A Spotify playlist's reference; None when the text is not a Spotify address, an
    error naming the URL when it is one but not a playlist's."""
    raw = (url or "").strip()
    for pattern in (_SPOTIFY_KEY, _SPOTIFY_URI):
        found = pattern.match(raw)
        if found:
            return SpotifyPlaylistRef(found["id"])
    if raw.lower().startswith("spotify:"):
        raise NotAPlaylist(raw, "not a Spotify playlist (expected spotify:playlist:<id>)")
    candidate = raw if "://" in raw else f"https://{raw}"
    parts = urlsplit(candidate)
    if (parts.hostname or "").lower() not in SPOTIFY_HOSTS:
        return None
    found = _SPOTIFY_PATH.match(parts.path)
    if found is None:
        raise NotAPlaylist(
            raw, "not a Spotify playlist (expected https://open.spotify.com/playlist/<id>)"
        )
    return SpotifyPlaylistRef(found["id"])


def spotify_track_id(url: str | None) -> str | None:
    """The Spotify id of a track's address (``open.spotify.com/track/<id>``,
    ``spotify:track:<id>``), or None for any other text."""
    found = _SPOTIFY_TRACK.match((url or "").strip())
    return found["id"] if found else None


def registry_url(ref: AnyPlaylistRef) -> str:
    """The URL a partition is read from: a track's own URL is kept among its listing's
    hand-picked tracks, never as the listing's."""
    return ref.singles.url if isinstance(ref, TrackRef) else ref.url


def _from_key(key: str) -> SoundCloudRef:
    user, *rest = key.split("/")
    if rest[0] == "sets":
        return PlaylistRef(user, rest[1])
    return SinglesRef(user) if rest[0] == SINGLES else UserListingRef(user, rest[0])


def parse_soundcloud_url(url: str) -> SoundCloudRef:
    """Parse any SoundCloud URL form we sync (or a bare key) or raise an error naming it."""
    raw = (url or "").strip()
    if not raw:
        raise NotASoundCloudUrl(repr(url), f"empty URL; {ACCEPTED_FORMS}")
    if is_playlist_key(raw.lower()):
        return _from_key(raw.lower())
    candidate = raw if "://" in raw else f"https://{raw}"
    parts = urlsplit(candidate)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in SOUNDCLOUD_HOSTS:
        hint = (
            " (short links from on.soundcloud.com must be opened once to get the full URL)"
            if host == "on.soundcloud.com"
            else ""
        )
        raise NotASoundCloudUrl(raw, f"not a SoundCloud URL{hint}; {ACCEPTED_FORMS}")
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
        raise NotAPlaylist(raw, f"this is SoundCloud's home page; {ACCEPTED_FORMS}")
    if not all(_SEGMENT.match(s) for s in segments[:2]):
        raise NotAPlaylist(raw, f"unexpected characters in the path; {ACCEPTED_FORMS}")
    if len(segments) == 1:
        raise NotAPlaylist(raw, f"a profile is not one list (likes? uploads?); {ACCEPTED_FORMS}")
    if segments[1] in USER_LISTINGS and len(segments) == 2:
        return UserListingRef(segments[0], segments[1])
    if segments[1] in _USER_PAGES:
        raise NotAPlaylist(raw, f"this user page is not synced; {ACCEPTED_FORMS}")
    if len(segments) == 3 and _SECRET.match(segments[2]):
        token = segments[2]
    elif len(segments) > 2:
        raise NotAPlaylist(raw, f"unexpected path after the track name; {ACCEPTED_FORMS}")
    return TrackRef(segments[0], segments[1], token if token and _SECRET.match(token) else None)


def playlist_key(url: str) -> str:
    return parse_playlist_url(url).key


def public_url(url: str) -> str:
    return parse_playlist_url(url).public_url
