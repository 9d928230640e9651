"""Audio: download, analysis, conversion, tagging and file naming.

Pure functions over files; knows nothing of Notion or Dagster. Heavy libraries
(librosa, matplotlib, yt-dlp) are imported only when first used.
"""

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
from soundcloud_sync.audio.convert import (
    FORMATS,
    ConversionError,
    SourceInfo,
    clean_stale_temp_files,
    convert,
    probe,
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
