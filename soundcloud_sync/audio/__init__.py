"""Audio: download, analysis, conversion, tagging and file naming.

Pure functions over files; knows nothing of Notion or Dagster. Each name is imported
from its module when first used (PEP 562), and heavy libraries (numpy, librosa,
matplotlib, yt-dlp) only then: a run that tags files or reads a download's duration
does not load the analysis.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# `convert` names a function and its module: imported at once, so the name is the function
from soundcloud_sync.audio.convert import (
    FORMATS,
    ConversionError,
    SourceInfo,
    clean_stale_temp_files,
    convert,
    probe,
)

if TYPE_CHECKING:
    from soundcloud_sync.audio.analysis import (
        AnalysisError,
        AnalysisResult,
        AudioFeatures,
        analyze_file,
        analyze_files,
        analyze_samples,
        camelot,
        configure_numba_cache,
        decode,
        warm_up,
    )
    from soundcloud_sync.audio.charts import (
        playlist_chart_markdown,
        playlist_chart_png,
        png_markdown,
    )
    from soundcloud_sync.audio.download import (
        Downloader,
        DownloadRequest,
        DownloadResult,
        DownloadStatus,
        download_tracks,
        existing_file,
        fetch_artwork,
    )
    from soundcloud_sync.audio.ffmpeg import ffmpeg_exe
    from soundcloud_sync.audio.library import export_track, library_path
    from soundcloud_sync.audio.paths import (
        DEFAULT_TEMPLATE,
        UnsafePathError,
        render_template,
        safe_filename,
        sanitize_component,
    )
    from soundcloud_sync.audio.tags import (
        TaggingError,
        TrackTags,
        comparable,
        initial_key,
        read_tags,
        write_tags,
    )

# name -> the module that defines it
_HOMES = {
    "AnalysisError": "soundcloud_sync.audio.analysis",
    "AnalysisResult": "soundcloud_sync.audio.analysis",
    "AudioFeatures": "soundcloud_sync.audio.analysis",
    "analyze_file": "soundcloud_sync.audio.analysis",
    "analyze_files": "soundcloud_sync.audio.analysis",
    "analyze_samples": "soundcloud_sync.audio.analysis",
    "camelot": "soundcloud_sync.audio.analysis",
    "configure_numba_cache": "soundcloud_sync.audio.analysis",
    "decode": "soundcloud_sync.audio.analysis",
    "warm_up": "soundcloud_sync.audio.analysis",
    "playlist_chart_markdown": "soundcloud_sync.audio.charts",
    "playlist_chart_png": "soundcloud_sync.audio.charts",
    "png_markdown": "soundcloud_sync.audio.charts",
    "Downloader": "soundcloud_sync.audio.download",
    "DownloadRequest": "soundcloud_sync.audio.download",
    "DownloadResult": "soundcloud_sync.audio.download",
    "DownloadStatus": "soundcloud_sync.audio.download",
    "download_tracks": "soundcloud_sync.audio.download",
    "existing_file": "soundcloud_sync.audio.download",
    "fetch_artwork": "soundcloud_sync.audio.download",
    "ffmpeg_exe": "soundcloud_sync.audio.ffmpeg",
    "export_track": "soundcloud_sync.audio.library",
    "library_path": "soundcloud_sync.audio.library",
    "DEFAULT_TEMPLATE": "soundcloud_sync.audio.paths",
    "UnsafePathError": "soundcloud_sync.audio.paths",
    "render_template": "soundcloud_sync.audio.paths",
    "safe_filename": "soundcloud_sync.audio.paths",
    "sanitize_component": "soundcloud_sync.audio.paths",
    "TaggingError": "soundcloud_sync.audio.tags",
    "TrackTags": "soundcloud_sync.audio.tags",
    "comparable": "soundcloud_sync.audio.tags",
    "initial_key": "soundcloud_sync.audio.tags",
    "read_tags": "soundcloud_sync.audio.tags",
    "write_tags": "soundcloud_sync.audio.tags",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # once: the next look-up is a plain global
    return value


__all__ = [
    "DEFAULT_TEMPLATE",
    "FORMATS",
    "AnalysisError",
    "AnalysisResult",
    "AudioFeatures",
    "ConversionError",
    "DownloadRequest",
    "DownloadResult",
    "DownloadStatus",
    "Downloader",
    "SourceInfo",
    "TaggingError",
    "TrackTags",
    "UnsafePathError",
    "analyze_file",
    "analyze_files",
    "analyze_samples",
    "camelot",
    "clean_stale_temp_files",
    "comparable",
    "configure_numba_cache",
    "convert",
    "decode",
    "download_tracks",
    "existing_file",
    "export_track",
    "fetch_artwork",
    "ffmpeg_exe",
    "initial_key",
    "library_path",
    "playlist_chart_markdown",
    "playlist_chart_png",
    "png_markdown",
    "probe",
    "read_tags",
    "render_template",
    "safe_filename",
    "sanitize_component",
    "warm_up",
    "write_tags",
]
