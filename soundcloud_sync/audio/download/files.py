"""The downloads folder: finished files (``<id>.<ext>``), the staging folder yt-dlp
writes into, and the check a staged file passes before it takes its final name (no
preview, no cut stream)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soundcloud_sync.audio.download.outcome import (
    DownloadRequest,
    DownloadStatus,
    TrackUnavailable,
)

STAGING = ".downloading"
LOCKS = ".locks"  # one lock file per track id: a download is one process's at a time
UNFINISHED_SUFFIXES = (".part", ".ytdl", ".temp", ".tmp")
DURATION_TOLERANCE_S = 3.0  # encoders pad or trim a little; a preview is 30 s of a longer track


def existing_file(dest_dir: Path, soundcloud_id: int) -> Path | None:
    """A finished download of this id in ``dest_dir`` (never a ``.part`` or temp file)."""
    for path in sorted(dest_dir.glob(f"{soundcloud_id}.*")):
        if path.is_file() and not path.name.endswith(UNFINISHED_SUFFIXES) and path.stat().st_size:
            return path
    return None


def media_duration(path: Path) -> float | None:
    """Duration of an audio file in seconds (mutagen, else a decode by ffmpeg)."""
    try:
        from mutagen import File as MutagenFile

        info = MutagenFile(path)
        length = getattr(info.info, "length", None) if info is not None else None
        if length:
            return float(length)
    except Exception:  # mutagen raises many kinds on odd files
        pass
    from soundcloud_sync.audio.analysis import decode

    try:
        return len(decode(path, 8000)) / 8000
    except Exception:
        return None


def accept(
    request: DownloadRequest, info: Mapping[str, Any], staging: Path, dest_dir: Path
) -> tuple[Path, str | None, float | None]:
    """Verify the file yt-dlp staged and move it to its final name in ``dest_dir``."""
    downloads = info.get("requested_downloads") or [info]
    staged = Path(downloads[0].get("filepath") or downloads[0].get("_filename") or "")
    if not staged.is_file():
        found = existing_file(staging, request.soundcloud_id)
        if found is None:
            raise RuntimeError(
                f"yt-dlp reported success for track {request.soundcloud_id} but wrote no file"
            )
        staged = found
    format_id = info.get("format_id")
    if format_id and "preview" in str(format_id):
        staged.unlink(missing_ok=True)
        raise TrackUnavailable(DownloadStatus.PREVIEW_ONLY, f"yt-dlp chose preview {format_id}")
    duration = media_duration(staged)
    expected = request.duration_s
    if expected and duration is not None and duration < expected - DURATION_TOLERANCE_S:
        staged.unlink(missing_ok=True)
        raise TrackUnavailable(
            DownloadStatus.PREVIEW_ONLY,
            f"got {duration:.1f}s of a {expected:.1f}s track (a preview or a cut stream)",
        )
    final = dest_dir / f"{request.soundcloud_id}{staged.suffix}"
    os.replace(staged, final)
    return final, format_id, duration
