"""Tags written the way each container expects them (mutagen).

AIFF, WAV and MP3 carry ID3v2.3 (the version Rekordbox, Serato, Traktor, Finder
and Windows all read); M4A carries MP4 atoms, with the keys iTunes and DJ software
use for the freeform ones. Every file also records its SoundCloud id
(``TXXX:SOUNDCLOUD_ID`` / ``----:com.soundcloud-sync:SOUNDCLOUD_ID``) so it can be
traced back to its track whatever its name becomes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mutagen import File as MutagenFile
from mutagen.aiff import AIFF
from mutagen.id3 import (
    APIC,
    COMM,
    ID3,
    TALB,
    TBPM,
    TCON,
    TIT2,
    TKEY,
    TPE1,
    TRCK,
    TSRC,
    TXXX,
    WOAS,
    ID3NoHeaderError,
)
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.wave import WAVE

ID_FRAME = "SOUNDCLOUD_ID"
MP4_ID_KEY = "----:com.soundcloud-sync:SOUNDCLOUD_ID"
MP4_KEY_KEY = "----:com.apple.iTunes:initialkey"
MP4_ISRC_KEY = "----:com.apple.iTunes:ISRC"
MP4_CAMELOT_KEY = "----:com.soundcloud-sync:CAMELOT"
MP4_BPM_KEY = "----:com.soundcloud-sync:BPM_PRECISE"


class TaggingError(RuntimeError):
    """A file could not be tagged (unknown container or unreadable file)."""


@dataclass(frozen=True)
class TrackTags:
    title: str | None = None
    artist: str | None = None
    album: str | None = None  # the playlist
    genre: str | None = None
    tempo: float | None = None  # TBPM / tmpo hold it rounded (integers), *BPM_PRECISE 2 decimals
    key: str | None = None  # "A minor" / "F# major"; written as "Am" / "F#"
    camelot: str | None = None
    isrc: str | None = None
    url: str | None = None  # SoundCloud permalink; also the comment
    soundcloud_id: int | str | None = None  # read back as int when numeric
    track_number: int | None = None
    artwork: bytes | None = field(default=None, repr=False)
    artwork_mime: str = "image/jpeg"

    @property
    def comment(self) -> str | None:
        return self.url


def initial_key(key: str | None) -> str | None:
    """'A minor' -> 'Am', 'F# major' -> 'F#' (the ID3 TKEY / iTunes initialkey form)."""
    if not key:
        return None
    parts = key.split()
    if len(parts) == 2 and parts[1].lower() in ("major", "minor"):
        return parts[0] + ("m" if parts[1].lower() == "minor" else "")
    return key


def _standard_key(value: str | None) -> str | None:
    if not value:
        return None
    if value.endswith("m") and len(value) in (2, 3):
        return f"{value[:-1]} minor"
    if 1 <= len(value) <= 2 and value[0] in "ABCDEFG":
        return f"{value} major"
    return value


def _track_number(value: str | None) -> int | None:
    head = (value or "").split("/")[0].strip()
    return int(head) if head.isdigit() else None


def _id(value: str | None) -> int | str | None:
    return int(value) if value and value.isdigit() else value


def _artwork_mime(data: bytes, declared: str) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return declared


# --------------------------------------------------------------------------- ID3


def _id3_frames(tags: TrackTags) -> list:
    frames: list = []
    text = {TIT2: tags.title, TPE1: tags.artist, TALB: tags.album, TCON: tags.genre}
    for frame, value in text.items():
        if value:
            frames.append(frame(encoding=3, text=value))
    if tags.tempo:
        frames.append(TBPM(encoding=3, text=str(round(tags.tempo))))
        frames.append(TXXX(encoding=3, desc="BPM_PRECISE", text=f"{tags.tempo:.2f}"))
    if tags.key:
        frames.append(TKEY(encoding=3, text=initial_key(tags.key)))
    if tags.camelot:
        frames.append(TXXX(encoding=3, desc="CAMELOT", text=tags.camelot))
    if tags.isrc:
        frames.append(TSRC(encoding=3, text=tags.isrc))
    if tags.url:
        frames.append(COMM(encoding=3, lang="eng", desc="", text=tags.url))
        frames.append(WOAS(url=tags.url))
    if tags.soundcloud_id is not None:
        frames.append(TXXX(encoding=3, desc=ID_FRAME, text=str(tags.soundcloud_id)))
    if tags.track_number:
        frames.append(TRCK(encoding=3, text=str(tags.track_number)))
    if tags.artwork:
        mime = _artwork_mime(tags.artwork, tags.artwork_mime)
        frames.append(APIC(encoding=3, mime=mime, type=3, desc="Cover", data=tags.artwork))
    return frames


_OWNED_ID3 = (
    "TIT2",
    "TPE1",
    "TALB",
    "TCON",
    "TBPM",
    "TKEY",
    "TSRC",
    "COMM",
    "WOAS",
    "TRCK",
    "APIC",
)
_OWNED_TXXX = ("TXXX:BPM_PRECISE", "TXXX:CAMELOT", f"TXXX:{ID_FRAME}")


def _write_id3(id3: ID3, tags: TrackTags) -> None:
    for key in _OWNED_ID3:
        id3.delall(key)
    for key in _OWNED_TXXX:
        id3.pop(key, None)
    for frame in _id3_frames(tags):
        id3.add(frame)


def _read_id3(id3: ID3) -> TrackTags:
    def text(key: str) -> str | None:
        frame = id3.get(key)
        return str(frame.text[0]) if frame is not None and frame.text else None

    comments = id3.getall("COMM")
    pictures = id3.getall("APIC")
    precise = text("TXXX:BPM_PRECISE")
    rounded = text("TBPM")
    return TrackTags(
        title=text("TIT2"),
        artist=text("TPE1"),
        album=text("TALB"),
        genre=text("TCON"),
        tempo=float(precise) if precise else (float(rounded) if rounded else None),
        key=_standard_key(text("TKEY")),
        camelot=text("TXXX:CAMELOT"),
        isrc=text("TSRC"),
        url=str(comments[0].text[0]) if comments and comments[0].text else None,
        soundcloud_id=_id(text(f"TXXX:{ID_FRAME}")),
        track_number=_track_number(text("TRCK")),
        artwork=pictures[0].data if pictures else None,
        artwork_mime=pictures[0].mime if pictures else "image/jpeg",
    )


# --------------------------------------------------------------------------- MP4


def _freeform(value: str) -> list[MP4FreeForm]:
    return [MP4FreeForm(value.encode("utf-8"))]


def _write_mp4(mp4: MP4, tags: TrackTags) -> None:
    assert mp4.tags is not None
    owned = ("\xa9nam", "\xa9ART", "\xa9alb", "\xa9gen", "tmpo", "\xa9cmt", "covr", "trkn")
    owned += (MP4_KEY_KEY, MP4_ISRC_KEY, MP4_ID_KEY, MP4_CAMELOT_KEY, MP4_BPM_KEY)
    for key in owned:
        mp4.tags.pop(key, None)
    text = {"\xa9nam": tags.title, "\xa9ART": tags.artist, "\xa9alb": tags.album}
    text |= {"\xa9gen": tags.genre, "\xa9cmt": tags.url}
    for key, value in text.items():
        if value:
            mp4.tags[key] = [value]
    if tags.tempo:
        mp4.tags["tmpo"] = [round(tags.tempo)]
        mp4.tags[MP4_BPM_KEY] = _freeform(f"{tags.tempo:.2f}")
    if tags.key:
        mp4.tags[MP4_KEY_KEY] = _freeform(initial_key(tags.key) or tags.key)
    if tags.camelot:
        mp4.tags[MP4_CAMELOT_KEY] = _freeform(tags.camelot)
    if tags.isrc:
        mp4.tags[MP4_ISRC_KEY] = _freeform(tags.isrc)
    if tags.soundcloud_id is not None:
        mp4.tags[MP4_ID_KEY] = _freeform(str(tags.soundcloud_id))
    if tags.track_number:
        mp4.tags["trkn"] = [(tags.track_number, 0)]
    if tags.artwork:
        png = _artwork_mime(tags.artwork, tags.artwork_mime) == "image/png"
        kind = MP4Cover.FORMAT_PNG if png else MP4Cover.FORMAT_JPEG
        mp4.tags["covr"] = [MP4Cover(tags.artwork, imageformat=kind)]


def _read_mp4(mp4: MP4) -> TrackTags:
    t: Any = mp4.tags or {}

    def first(key: str) -> str | None:
        values = t.get(key)
        if not values:
            return None
        value = values[0]
        return bytes(value).decode("utf-8") if isinstance(value, bytes) else str(value)

    covers = t.get("covr") or []
    tmpo = t.get("tmpo")
    precise = first(MP4_BPM_KEY)
    trkn = t.get("trkn")
    return TrackTags(
        title=first("\xa9nam"),
        artist=first("\xa9ART"),
        album=first("\xa9alb"),
        genre=first("\xa9gen"),
        tempo=float(precise) if precise else (float(tmpo[0]) if tmpo else None),
        key=_standard_key(first(MP4_KEY_KEY)),
        camelot=first(MP4_CAMELOT_KEY),
        isrc=first(MP4_ISRC_KEY),
        url=first("\xa9cmt"),
        soundcloud_id=_id(first(MP4_ID_KEY)),
        track_number=trkn[0][0] if trkn else None,
        artwork=bytes(covers[0]) if covers else None,
        artwork_mime=(
            "image/png" if covers and covers[0].imageformat == MP4Cover.FORMAT_PNG else "image/jpeg"
        ),
    )


# --------------------------------------------------------------------------- public


def _open(path: Path):
    try:
        audio = MutagenFile(path)
    except Exception as exc:  # mutagen raises many kinds
        raise TaggingError(f"cannot read {path}: {exc}") from exc
    if audio is None:
        raise TaggingError(f"cannot tag {path}: not a recognised audio container")
    return audio


def write_tags(path: str | os.PathLike[str], tags: TrackTags) -> None:
    """Write ``tags`` into the file at ``path``, replacing the fields we own, keeping others."""
    path = Path(path)
    audio = _open(path)
    if isinstance(audio, MP4):
        if audio.tags is None:
            audio.add_tags()
        _write_mp4(audio, tags)
        audio.save()
        return
    if isinstance(audio, AIFF | WAVE):
        if audio.tags is None:
            audio.add_tags()
        assert audio.tags is not None
        _write_id3(audio.tags, tags)
        audio.save(v2_version=3)
        return
    # MP3 and anything else that carries a plain ID3 header.
    try:
        id3 = ID3(path)
    except ID3NoHeaderError:
        id3 = ID3()
    _write_id3(id3, tags)
    id3.save(path, v2_version=3)


def read_tags(path: str | os.PathLike[str]) -> TrackTags:
    """The tags we write, read back from ``path`` (empty fields are None)."""
    path = Path(path)
    audio = _open(path)
    if isinstance(audio, MP4):
        return _read_mp4(audio)
    if isinstance(audio, AIFF | WAVE):
        return _read_id3(audio.tags) if audio.tags is not None else TrackTags()
    try:
        return _read_id3(ID3(path))
    except ID3NoHeaderError:
        return TrackTags()


def set_tempo(path: str | os.PathLike[str], tempo: float) -> bool:
    """Give the file at ``path`` this tempo, keeping its other tags; False when it had it."""
    tags = read_tags(path)
    if comparable(tags).tempo == round(float(tempo), 2):
        return False
    write_tags(path, replace(tags, tempo=tempo))
    return True


def comparable(tags: TrackTags) -> TrackTags:
    """``tags`` as they read back after a write: to skip rewriting files already right."""
    return replace(
        tags,
        **{k: getattr(tags, k) or None for k in ("title", "artist", "album", "genre", "isrc")},
        url=tags.url or None,
        camelot=tags.camelot or None,
        tempo=round(float(tags.tempo), 2) if tags.tempo else None,
        key=_standard_key(initial_key(tags.key)),
        soundcloud_id=_id(str(tags.soundcloud_id)) if tags.soundcloud_id is not None else None,
        track_number=tags.track_number or None,
        artwork=tags.artwork or None,
        artwork_mime=_artwork_mime(tags.artwork, tags.artwork_mime)
        if tags.artwork
        else "image/jpeg",
    )


def soundcloud_id_of(path: str | os.PathLike[str]) -> int | str | None:
    """The SoundCloud id recorded in a file, to trace it back to its track."""
    return read_tags(path).soundcloud_id
