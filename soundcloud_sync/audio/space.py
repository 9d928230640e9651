"""Disk space as part of the plan: what the audio will take, what is free, and a file
that cannot be written named as such.

A DJ's first import is large (75,000 audio minutes in AIFF ≈ 800 GB), so it will meet
a full disk. Before the audio steps run they say how much each format will take and
what the file system holds free; a write that fails for want of room (ENOSPC), quota
(EDQUOT) or a read-only folder is a :class:`WriteFailed` naming the folder, which the
step reports per track and turns into a failed run: the next run completes it.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Bytes per second of audio, an upper estimate: SoundCloud's streams (128-160 kb/s, an
# original upload rarely more); AIFF and WAV as 16-bit stereo PCM at 44.1 kHz (what a
# lossy source becomes); M4A and MP3 at 320 kb/s (less when the source is copied).
BYTES_PER_SECOND = {
    "download": 20_000,
    "aiff": 176_400,
    "wav": 176_400,
    "m4a": 40_000,
    "mp3": 40_000,
}
DEFAULT_TRACK_SECONDS = 300.0  # a track whose length is not known yet
_REASONS = {
    errno.ENOSPC: "no space left on {folder}",
    errno.EDQUOT: "disk quota exceeded on {folder}",
    errno.EROFS: "{folder} is on a read-only file system",
    errno.EACCES: "no permission to write in {folder}",
    errno.EPERM: "no permission to write in {folder}",
}
# how these errors read once a child process (ffmpeg, yt-dlp's message) has said them
_MESSAGES = {
    "no space left on device": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "read-only file system": errno.EROFS,
}


class WriteFailed(OSError):
    """A file could not be written for want of room or permission; names the folder."""


def write_problem(exc: BaseException, folder: str | os.PathLike[str]) -> str | None:
    """ "no space left on <folder>" (or quota, read-only, permission) when ``exc`` (or
    anything it was raised from) is such a failure; None for any other error."""
    seen: BaseException | None = exc
    while seen is not None:
        code = seen.errno if isinstance(seen, OSError) else None
        if code is None:
            text = str(seen).lower()
            code = next((c for m, c in _MESSAGES.items() if m in text), None)
        if code in _REASONS:
            return _REASONS[code].format(folder=folder)
        seen = seen.__cause__ or seen.__context__
    return None


def check_written(exc: BaseException, folder: str | os.PathLike[str]) -> None:
    """Raise :class:`WriteFailed` from ``exc`` when it is a failure to write in
    ``folder`` (full, over quota, read-only); otherwise return."""
    problem = write_problem(exc, folder)
    if problem is not None:
        raise WriteFailed(problem) from exc


@dataclass(frozen=True)
class SpacePlan:
    """What the audio still to fetch and write will take, per format, against what is
    free on each file system it goes to."""

    tracks: int
    seconds: float
    needed: dict[str, int]  # "download", "aiff", … -> bytes
    folders: dict[str, str]  # the same keys -> the folder written
    free: dict[str, int] = field(default_factory=dict)  # folder -> bytes free there

    @property
    def short(self) -> dict[str, int]:
        """Folders that will run out: folder -> bytes missing (the formats on one file
        system added up)."""
        by_device: dict[int, tuple[str, int]] = {}
        for what, folder in self.folders.items():
            device = _device(folder)
            name, total = by_device.get(device, (folder, 0))
            by_device[device] = (name, total + self.needed.get(what, 0))
        return {
            name: total - self.free.get(name, 0)
            for name, total in by_device.values()
            if total > self.free.get(name, 0)
        }

    def lines(self) -> list[str]:
        """What a person reads before the run: one line per format, one per folder."""
        minutes = self.seconds / 60
        out = [f"audio to fetch and write: {self.tracks} track(s), {minutes:.0f} min"]
        out += [
            f"  {what:<8} ~{human(size):>9} in {self.folders[what]}"
            for what, size in self.needed.items()
        ]
        out += [f"  free: {human(size)} on {folder}" for folder, size in self.free.items()]
        out += [
            f"  warning: {folder} is {human(missing)} short: the run will fail on the "
            "tracks that do not fit; free space, then run again"
            for folder, missing in self.short.items()
        ]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"tracks": self.tracks, "audio_minutes": round(self.seconds / 60, 1),
                "needed_bytes": self.needed, "free_bytes": self.free,
                "short_bytes": self.short}  # fmt: skip


def plan_space(
    tracks: Iterable[Mapping[str, Any]],
    formats: Iterable[str],
    *,
    downloads: str | os.PathLike[str],
    library: str | os.PathLike[str],
) -> SpacePlan:
    """The space the ``tracks`` (catalog rows) still need: a download for each without
    one, a file per format for each without it; and what is free where they go."""
    formats = list(dict.fromkeys(formats))
    needed = dict.fromkeys(["download", *formats], 0)
    count, seconds = 0, 0.0
    for t in tracks:
        if str(t.get("availability") or "ok") not in ("ok", "None"):
            continue  # previews, geo-blocked, DRM, gone: nothing will be written
        if int(t.get("soundcloud_id") or 0) <= 0:
            continue  # known only from Spotify: nothing to download yet
        length = float(t.get("duration_ms") or 0) / 1000 or DEFAULT_TRACK_SECONDS
        files = t.get("files") or {}
        on_disk = bool(t.get("source_path")) and Path(str(t["source_path"])).exists()
        todo = [f for f in formats if not (files.get(f) and Path(files[f]).exists())]
        if on_disk and not todo:
            continue
        count, seconds = count + 1, seconds + length
        if not on_disk:
            needed["download"] += int(length * BYTES_PER_SECOND["download"])
        for fmt in todo:
            needed[fmt] += int(length * BYTES_PER_SECOND.get(fmt, BYTES_PER_SECOND["aiff"]))
    folders = {"download": str(downloads), **dict.fromkeys(formats, str(library))}
    free: dict[str, int] = {}
    seen_devices: set[int] = set()
    for folder in folders.values():
        device = _device(folder)
        if device not in seen_devices:
            seen_devices.add(device)
            free[folder] = shutil.disk_usage(_existing(folder)).free
    return SpacePlan(count, seconds, needed, folders, free)


def _existing(folder: str | os.PathLike[str]) -> Path:
    """The folder, or its nearest parent that exists (a library not made yet)."""
    path = Path(folder).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _device(folder: str | os.PathLike[str]) -> int:
    return _existing(folder).stat().st_dev


def human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
