"""DJ software exports read from the catalog: rekordbox XML and M3U8 playlists.

Pure functions of the catalog and the library files; the Dagster assets and the
CLI call the same `export_*` functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..catalog import Catalog
from ..files import write_atomic
from .library import ExportPlaylist, ExportTrack, Library, load_library
from .m3u import earlier_files, m3u8_filename, m3u8_text
from .paths import PathMap, location_url, map_path, playlist_entry
from .rekordbox import collection_xml, tonality

COLLECTION_FILE = "rekordbox.xml"
PLAYLISTS_FOLDER = "playlists"


@dataclass(frozen=True)
class ExportReport:
    path: Path
    tracks: int
    playlists: int
    with_grid: int = 0  # tracks whose TEMPO element was written


def export_rekordbox(
    catalog: Catalog, formats: Sequence[str], output: Path, path_map: PathMap = ()
) -> ExportReport:
    """Write the whole library as a rekordbox XML collection to `output`, atomically."""
    library = load_library(catalog, formats)
    write_atomic(output, collection_xml(library, path_map))
    grids = sum(1 for t in library.tracks.values() if t.tempo and t.first_beat_s is not None)
    return ExportReport(output, len(library.tracks), len(library.playlists), grids)


def export_playlist_m3u8(
    catalog: Catalog,
    formats: Sequence[str],
    playlist_key: str,
    folder: Path,
    path_map: PathMap = (),
) -> ExportReport:
    """Write one playlist's M3U8 into `folder`, atomically; tracks without a file are left out."""
    library = load_library(catalog, formats, playlist_key)
    if not library.playlists:
        raise LookupError(f"playlist {playlist_key}: not in the catalog (never synced)")
    return _write_m3u8(library, library.playlists[0], folder, path_map)


def export_all_m3u8(
    catalog: Catalog, formats: Sequence[str], folder: Path, path_map: PathMap = ()
) -> list[ExportReport]:
    """Write the M3U8 of every registered playlist into `folder`."""
    library = load_library(catalog, formats)
    return [_write_m3u8(library, p, folder, path_map) for p in library.playlists]


def _write_m3u8(
    library: Library, playlist: ExportPlaylist, folder: Path, path_map: PathMap
) -> ExportReport:
    folder = folder.resolve()
    path = folder / m3u8_filename(playlist)
    renamed = earlier_files(folder, playlist) if folder.is_dir() and not path.exists() else []
    write_atomic(path, m3u8_text(library, playlist, folder, path_map).encode("utf-8"))
    for old in renamed:  # after the new file exists: a DJ program always finds one
        old.unlink(missing_ok=True)
    return ExportReport(path, len(playlist.track_ids), 1)


__all__ = [
    "COLLECTION_FILE",
    "PLAYLISTS_FOLDER",
    "ExportPlaylist",
    "ExportReport",
    "ExportTrack",
    "Library",
    "collection_xml",
    "export_all_m3u8",
    "export_playlist_m3u8",
    "export_rekordbox",
    "load_library",
    "location_url",
    "m3u8_filename",
    "map_path",
    "playlist_entry",
    "tonality",
]
