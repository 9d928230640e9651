"""Artwork: the largest image of a track, cached beside the downloads."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from soundcloud_sync.audio.download.outcome import SECRET_RE

log = logging.getLogger(__name__)


def fetch_artwork(
    url: str | None,
    dest_dir: str | os.PathLike[str],
    soundcloud_id: int,
    *,
    proxy: str | None = None,
    timeout: float = 30.0,
) -> bytes | None:
    """The artwork at ``url``, cached as ``<dest_dir>/artwork/<id>.<ext>``; None if unavailable.

    Pass the largest size's URL (``sources.soundcloud.largest_artwork``). A failure is not
    an error: a track without artwork is still a track.
    """
    if not url:
        return None
    folder = Path(dest_dir) / "artwork"
    for cached in folder.glob(f"{soundcloud_id}.*"):
        if cached.suffix in (".jpg", ".png") and cached.stat().st_size:
            return cached.read_bytes()
    import requests

    proxies = {"http": proxy, "https": proxy} if proxy else None
    try:
        response = requests.get(url, timeout=timeout, proxies=proxies)
        response.raise_for_status()
    except requests.RequestException as exc:
        log.info("no artwork for %s: %s", soundcloud_id, SECRET_RE.sub(r"\1=***", str(exc)))
        return None
    data = response.content
    if not data:
        return None
    ext = ".png" if data.startswith(b"\x89PNG") else ".jpg"
    tmp = folder / f".{soundcloud_id}{ext}.tmp"
    try:  # only a cache: a full disk costs the next run a download, not this track
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, folder / f"{soundcloud_id}{ext}")
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.info("artwork of %s not cached in %s: %s", soundcloud_id, folder, exc)
    return data
