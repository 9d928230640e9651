"""Where a track's audio is: one api-v2 request per track, the rest from the CDN.

A track object (from the batched ``/tracks?ids=`` lookup or a listing, kept in the
catalog) lists its transcodings; yt-dlp asks api-v2 for the stream URL of every one of
them (and resolves the permalink first): three requests or more per track. Here the
best transcoding is chosen first, as yt-dlp would rank them, and only its stream URL is
asked for: the one request that must be made. The original upload wins when the track
offers it (``/tracks/<id>/download``), as with yt-dlp's ``download`` format.

What the choice hands back is a yt-dlp *format* (``format_id``, ``url``, ``protocol``…),
so the download itself (one GET, or an HLS playlist and its segments, both from the
CDN) is yt-dlp's own downloader's. Previews, geo-blocks and DRM are told from the track
object exactly as `availability_of` tells them; anything else this path cannot settle
(no usable transcoding, a stream URL api-v2 no longer knows) is a :class:`NoDirectStream`,
and the caller falls back to yt-dlp's full extraction.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .models import Availability

if TYPE_CHECKING:
    from .soundcloud import SoundCloudClient

# What the catalog keeps of each transcoding: enough to choose one and ask for its URL.
TRANSCODING_KEYS = ("url", "preset", "snipped", "quality", "protocol", "mime_type")
# yt-dlp's default SoundCloud formats, best first (SoundcloudBaseIE._DEFAULT_FORMATS).
PREFERRED = ("http_aac", "hls_aac", "http_opus", "hls_opus", "http_mp3", "hls_mp3")
_PREVIEW_STREAM = re.compile(r"/(?:preview|playlist)/0/30/")


class StreamUnavailable(Exception):
    """The full audio cannot be had: ``status`` is an `Availability` value."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class NoDirectStream(Exception):
    """This path cannot find the stream (say why); yt-dlp's own extraction may."""


def compact_transcodings(track: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """A track object's ``media.transcodings``, each cut to :data:`TRANSCODING_KEYS`."""
    out = []
    for t in (track.get("media") or {}).get("transcodings") or []:
        if not isinstance(t, Mapping):
            continue
        fmt = t.get("format") or {}
        item = {
            "url": t.get("url"),
            "preset": t.get("preset"),
            "snipped": bool(t.get("snipped")),
            "quality": t.get("quality"),
            "protocol": fmt.get("protocol"),
            "mime_type": fmt.get("mime_type"),
        }
        out.append(item)
    return tuple(out)


def _protocol(t: Mapping[str, Any]) -> str:
    """yt-dlp's protocol name for a transcoding: http, hls, hls-aes (encrypted)."""
    url = str(t.get("url") or "")
    protocol = str(t.get("protocol") or "http")
    if protocol == "progressive":
        protocol = "http"
    if protocol != "hls" and "/hls" in url:
        protocol = "hls"
    if protocol == "encrypted-hls" or "/encrypted-hls" in url:
        protocol = "hls-aes"
    return protocol


def is_encrypted(t: Mapping[str, Any]) -> bool:
    protocol = str(t.get("protocol") or "")
    return "encrypted" in protocol or protocol.startswith(("ctr-", "cbc-"))


def is_preview(t: Mapping[str, Any]) -> bool:
    return bool(t.get("snipped")) or "/preview/" in str(t.get("url") or "")


def _abr(preset: str) -> int | None:
    found = re.search(r"(\d+)k$", preset)
    return int(found[1]) if found else None


def ranked(transcodings: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The full, clear transcodings yt-dlp would download, best first: its quality
    (premium, then 160 kb/s and up), then its default formats' order (AAC, Opus, MP3;
    progressive before HLS)."""

    def short(t: Mapping[str, Any]) -> str:
        return f"{_protocol(t)}_{str(t.get('preset') or '').partition('_')[0]}"

    usable = [
        t for t in transcodings
        if t.get("url") and t.get("preset") and not is_encrypted(t) and not is_preview(t)
        and short(t) in PREFERRED
    ]  # fmt: skip

    def quality(t: Mapping[str, Any]) -> int:
        if t.get("quality") == "hq":
            return 5
        abr = _abr(str(t.get("preset")))
        return 0 if abr and abr >= 160 else -1

    return sorted(usable, key=lambda t: (-quality(t), PREFERRED.index(short(t))))


def availability(policy: str | None, transcodings: Sequence[Mapping[str, Any]]) -> Availability:
    """OK, or why the full audio cannot be had (the rule of `availability_of`)."""
    if str(policy or "").upper() == "BLOCK":
        return Availability.GEO_BLOCKED
    clear = [t for t in transcodings if not is_encrypted(t)]
    if transcodings and not clear:
        return Availability.DRM
    if str(policy or "").upper() == "SNIP" or (clear and all(is_preview(t) for t in clear)):
        return Availability.PREVIEW_ONLY
    return Availability.OK


def stream_format(t: Mapping[str, Any], stream_url: str) -> dict[str, Any]:
    """The yt-dlp format of a transcoding whose stream URL is known (as yt-dlp builds it)."""
    protocol = _protocol(t)
    preset = str(t.get("preset") or "")
    mime = str(t.get("mime_type") or "")
    codec = (re.search(r'codecs="([^"]+)"', mime) or [None, None])[1]
    ext = {"mp4a": "m4a", "opus": "opus"}.get(codec[:4] if codec else "") or {
        "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/mp4": "m4a"
    }.get(mime.split(";")[0].strip())  # fmt: skip
    if not ext or ext == "m3u8":
        ext = preset.partition("_")[0]
    abr = _abr(preset)
    if abr is None and (found := re.search(r"\.(\d+)\.(?:opus|mp3)[/?]", stream_url)):
        abr = int(found[1])
    return {
        "format_id": f"{protocol}_{preset}",
        "url": stream_url,
        "ext": ext,
        "acodec": codec,
        "vcodec": "none",
        "abr": abr,
        "protocol": "m3u8_native" if protocol in ("hls", "hls-aes") else "http",
    }


@dataclass(frozen=True)
class TrackMedia:
    """What choosing a stream needs of a track, from its object or its catalog row."""

    soundcloud_id: int
    url: str | None
    policy: str | None
    downloadable: bool  # downloadable and downloads left: the original upload is offered
    transcodings: tuple[Mapping[str, Any], ...]

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> TrackMedia | None:
        """From a catalog row or a ``Track``-like mapping; None when its transcodings
        were never recorded (a row older than this release)."""
        found = row.get("transcodings")
        if found is None or (isinstance(found, float)):  # NaN in a DataFrame row
            return None
        return cls(
            soundcloud_id=int(row["soundcloud_id"]),
            url=row.get("url"),
            policy=row.get("policy"),
            downloadable=bool(row.get("downloadable")),
            transcodings=tuple(found),
        )

    @classmethod
    def of_json(cls, obj: Mapping[str, Any]) -> TrackMedia:
        return cls(
            soundcloud_id=int(obj["id"]),
            url=obj.get("permalink_url"),
            policy=obj.get("policy"),
            downloadable=bool(obj.get("downloadable") and obj.get("has_downloads_left")),
            transcodings=compact_transcodings(obj),
        )

    @property
    def secret_token(self) -> str | None:
        """A private track's token, from its permalink (``…/slug/s-XXXX``) or query."""
        if not self.url:
            return None
        parts = urlsplit(self.url)
        last = parts.path.rstrip("/").rsplit("/", 1)[-1]
        if last.startswith("s-"):
            return last
        tokens = parse_qs(parts.query).get("secret_token")
        return tokens[0] if tokens else None


class StreamFinder:
    """Finds each track's stream for the downloader: one api-v2 request per track.

    ``media`` are the tracks as the catalog knows them; tracks it lacks (rows older than
    this release) are read in one batched lookup per 50 when first needed. Thread-safe.
    """

    def __init__(self, client: SoundCloudClient, media: Iterable[TrackMedia] = ()) -> None:
        self.client = client
        self._media = {m.soundcloud_id: m for m in media}
        self._lock = threading.Lock()
        self._looked_up: set[int] = set()
        self.wanted: set[int] = set()  # ids this run may ask for (batched together)

    def expect(self, soundcloud_ids: Iterable[int]) -> None:
        """The ids about to be downloaded: a missing one is then fetched with the others."""
        self.wanted.update(soundcloud_ids)

    def media(self, soundcloud_id: int) -> TrackMedia | None:
        with self._lock:
            if soundcloud_id not in self._media and soundcloud_id not in self._looked_up:
                missing = {soundcloud_id} | {
                    i for i in self.wanted if i not in self._media and i not in self._looked_up
                }
                self._looked_up |= missing
                for obj in self.client.fetch_track_json(sorted(missing)).values():
                    self._media[int(obj["id"])] = TrackMedia.of_json(obj)
            return self._media.get(soundcloud_id)

    def find(self, soundcloud_id: int) -> dict[str, Any]:
        """The yt-dlp format to download: the original upload, else the best full
        transcoding. Raises StreamUnavailable (preview, geo-block, DRM) or NoDirectStream."""
        media = self.media(soundcloud_id)
        if media is None:
            raise NoDirectStream("the track lookup did not return it")
        verdict = availability(media.policy, media.transcodings)
        if verdict is Availability.GEO_BLOCKED:
            raise StreamUnavailable(str(verdict), "geo-blocked: not streamed in this country")
        if verdict is Availability.DRM:
            raise StreamUnavailable(str(verdict), "DRM protected: only encrypted streams")
        if verdict is Availability.PREVIEW_ONLY:
            raise StreamUnavailable(str(verdict), "only a 30-second preview is offered")
        token = media.secret_token
        if media.downloadable:
            original = self.client.original_download(soundcloud_id, token)
            if original:
                url, ext = original
                return {"format_id": "download", "url": url, "ext": ext, "vcodec": "none",
                        "protocol": "http", "format_note": "Original"}  # fmt: skip
        choices = ranked(media.transcodings)
        if not choices:
            raise NoDirectStream("no full, clear transcoding yt-dlp would take")
        best = choices[0]
        stream_url = self.client.stream_url(str(best["url"]), token)
        if not stream_url:
            raise NoDirectStream(f"api-v2 gave no stream URL for {best.get('preset')}")
        if _PREVIEW_STREAM.search(stream_url):
            raise StreamUnavailable(
                str(Availability.PREVIEW_ONLY), "SoundCloud served a 30-second preview"
            )
        return stream_format(best, stream_url)
