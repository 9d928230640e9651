"""Where a DJ program finds a library file, on this machine or on another one.

A library synced on a server (`/srv/music`) is often played from a laptop that
mounts it elsewhere (`/Volumes/music`, `D:\\Music`). `DJ_EXPORT_PATH_MAP` says how
folders of this machine appear there; both export formats write the other side.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

# (folder of this machine, the same folder on the machine that plays), as
# DJ_EXPORT_PATH_MAP gives them (see config.parse_path_map)
PathMap = tuple[tuple[str, str], ...]
REKORDBOX_PREFIX = "file://localhost"
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def matching_pair(path: str, path_map: PathMap) -> tuple[str, str] | None:
    """The pair whose folder holds `path` (the longest one wins), or None."""
    for source, target in sorted(path_map, key=lambda pair: len(pair[0]), reverse=True):
        root = source.rstrip("/")
        if path == root or path.startswith(root + "/"):
            return source, target
    return None


def map_path(path: str, path_map: PathMap) -> str:
    """`path` as the other machine sees it; unchanged when no pair applies."""
    pair = matching_pair(path, path_map)
    if pair is None:
        return path
    source, target = pair
    rest = path[len(source.rstrip("/")) :]
    if "\\" in target:  # a Windows target written with backslashes keeps them
        rest = rest.replace("/", "\\")
    return target.rstrip("/\\") + rest


def location_url(path: str) -> str:
    """rekordbox's `Location`: `file://localhost/` + the absolute path, percent-encoded.

    `/Users/me/a b.aiff` -> `file://localhost/Users/me/a%20b.aiff`;
    `D:\\Music\\a.aiff` -> `file://localhost/D:/Music/a.aiff` (the drive's colon kept).
    Everything but letters, digits, `-._~` and `/` is UTF-8 percent-encoded.
    """
    text = path.replace("\\", "/")
    if _DRIVE.match(path):
        return f"{REKORDBOX_PREFIX}/{text[:2]}{quote(text[2:], safe='/')}"
    if not text.startswith("/"):
        raise ValueError(f"{path!r} is not an absolute path")
    return REKORDBOX_PREFIX + quote(text, safe="/")


def playlist_entry(path: str, playlist_dir: str, path_map: PathMap) -> str:
    """An M3U8 line for `path`: relative to the playlist's folder when that stays true
    on the other machine (both under the same mapped folder, or neither mapped),
    else the mapped absolute path."""
    pair = matching_pair(path, path_map)
    if pair != matching_pair(playlist_dir, path_map):
        return map_path(path, path_map)
    relative = os.path.relpath(path, playlist_dir)
    return relative.replace("/", "\\") if pair and "\\" in pair[1] else relative
