"""api-v2's JSON as our models: track objects, set stubs, artwork, tags, availability,
and the entries of a user's likes or uploads."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from yt_dlp.extractor.soundcloud import SoundcloudBaseIE

from ..models import Availability, Playlist, Track, ids_hash
from ..streams import availability, compact_transcodings
from ..urls import PlaylistRef

_TAGS_RE = SoundcloudBaseIE._TAGS_RE  # 'house "deep house"' -> house, deep house
# A check of a user's likes or uploads reads only the newest HEAD_SIZE entries, whose
# fingerprint changes when a track is liked or uploaded.
HEAD_SIZE = 50
_ARTWORK_SIZE_RE = re.compile(r"-(?:large|t\d+x\d+|crop|small|badge|tiny|mini)\.(jpg|png)$")


def parse_tags(tag_list: str | None) -> tuple[str, ...]:
    """SoundCloud's ``tag_list``: space-separated, multi-word tags in double quotes."""
    tags = (quoted or bare for quoted, bare in _TAGS_RE.findall(tag_list or ""))
    return tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))


def largest_artwork(url: str | None) -> str | None:
    """The 500×500 rendition of an artwork URL (the API hands out the 100×100 ``-large``)."""
    if not url:
        return None
    return _ARTWORK_SIZE_RE.sub(lambda m: f"-t500x500.{m.group(1)}", url)


def availability_of(track: Mapping[str, Any]) -> Availability:
    """OK, or why the full audio cannot be had (see external-apis.md)."""
    return availability(track.get("policy"), compact_transcodings(track))


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
        transcodings=compact_transcodings(obj),
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


def listed_track(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The track of a likes entry (``{created_at, track}``), or an uploads entry itself;
    None for a liked playlist."""
    if "track" in entry or "playlist" in entry:
        track = entry.get("track")
        return track if isinstance(track, dict) else None
    return entry if entry.get("kind", "track") == "track" else None


def entry_id(entry: Mapping[str, Any]) -> int:
    """A listing entry's id: its track's, or minus its liked playlist's."""
    track = listed_track(entry)
    if track is not None:
        return int(track.get("id") or 0)
    return -int((entry.get("playlist") or {}).get("id") or 0)


def head_fingerprint(entries: Sequence[Mapping[str, Any]]) -> str:
    """The fingerprint of a user listing's newest entries: a like, an upload or a take-back
    among them changes it. A check reads just these; the full walk stores the same."""
    return ids_hash(entry_id(e) for e in entries[:HEAD_SIZE])


def playlist_from_json(
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
