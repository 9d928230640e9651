"""Where the ffmpeg executable lives.

There is no system ffmpeg on CI, so we fall back to the static build that the
``imageio-ffmpeg`` wheel ships. A system ffmpeg on PATH wins because it is usually
built with more codecs.
"""

from __future__ import annotations

import functools
import shutil


@functools.cache
def ffmpeg_exe() -> str:
    """Path of an ffmpeg executable: ``$FFMPEG_BINARY``, ffmpeg on PATH, else imageio-ffmpeg's."""
    from soundcloud_sync.config import Settings

    chosen = Settings.from_env().ffmpeg_binary
    if chosen:
        return chosen
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()
