"""Where the ffmpeg executable lives.

There is no system ffmpeg on CI, so we fall back to the static build that the
``imageio-ffmpeg`` wheel ships. A system ffmpeg on PATH wins because it is usually
built with more codecs, and one the settings name (``FFMPEG_BINARY``, handed here by
each entry point through `use_ffmpeg`) wins over both.
"""

from __future__ import annotations

import functools
import shutil

_configured: str | None = None


def use_ffmpeg(path: str | None) -> None:
    """The ffmpeg the settings name (None: PATH's, else imageio-ffmpeg's), for this process."""
    global _configured
    _configured = path
    ffmpeg_exe.cache_clear()


@functools.cache
def ffmpeg_exe() -> str:
    """Path of an ffmpeg executable: the configured one, ffmpeg on PATH, else imageio-ffmpeg's."""
    if _configured:
        return _configured
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()
