"""One extended M3U8 per playlist, the playlist format every DJ program reads."""

from __future__ import annotations

import re
from pathlib import Path

from ..audio.paths import sanitize_component
from .library import ExportPlaylist, Library
from .paths import PathMap, playlist_entry

_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")
# A plain comment line (players skip it) naming the playlist the file was written for.
KEY_MARKER = "# soundcloud-sync playlist: "


def m3u8_filename(playlist: ExportPlaylist) -> str:
    """`<playlist name>.m3u8`, safe on macOS, Windows and Linux."""
    return sanitize_component(playlist.name) + ".m3u8"


def m3u8_text(library: Library, playlist: ExportPlaylist, folder: Path, path_map: PathMap) -> str:
    """`#EXTM3U`, then `#EXTINF:<seconds>,<artist> - <title>` and the file, in order."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(playlist.name)}", KEY_MARKER + playlist.key]
    for rid in playlist.track_ids:
        track = library.tracks[rid]
        seconds = round(track.duration_s) if track.duration_s else -1
        lines.append(f"#EXTINF:{seconds},{_one_line(f'{track.artist} - {track.title}')}")
        lines.append(playlist_entry(track.path, str(folder), path_map))
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    """A title with a line break in it would end the entry early."""
    return _LINE_BREAKS.sub(" ", text).strip()


def earlier_files(folder: Path, playlist: ExportPlaylist) -> list[Path]:
    """M3U8 files in `folder` written for this playlist under another name (it was
    renamed); only files carrying our marker for its key are ever returned."""
    current = folder / m3u8_filename(playlist)
    found = []
    for path in folder.glob("*.m3u8"):
        if path == current:
            continue
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = [handle.readline().rstrip("\n") for _ in range(3)]
        if KEY_MARKER + playlist.key in head:
            found.append(path)
    return found
