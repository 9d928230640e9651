"""One downloaded track -> its tagged files in the library, in every configured format.

The glue the Dagster layer calls per track: a safe name from the template, one
conversion per format (atomic, skipped when the file exists; a file the analysis's
decode already staged is moved in instead, `audio.staged`), tags written only when
they differ from what the file holds, so a re-run leaves finished files untouched.
Two different tracks that would get the same name (same artist and title) are told
apart by the SoundCloud id recorded in the file: the newcomer's name gets " [id]".
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from soundcloud_sync.audio.convert import convert, temp_name
from soundcloud_sync.audio.paths import DEFAULT_TEMPLATE, safe_filename
from soundcloud_sync.audio.staged import discard_staged, staged_conversion
from soundcloud_sync.audio.tags import (
    TaggingError,
    TrackTags,
    comparable,
    read_tags,
    write_tags,
)


def _owner(path: Path) -> str | None:
    try:
        owner = read_tags(path).soundcloud_id
    except TaggingError:
        return None
    return str(owner) if owner is not None else None


def library_path(
    library_root: str | os.PathLike[str],
    fields: Mapping[str, Any],
    fmt: str,
    soundcloud_id: int | str | None,
    template: str = DEFAULT_TEMPLATE,
) -> Path:
    """Where a track's ``fmt`` file lives: the template's name, or "name [id]" when taken."""
    path = safe_filename(template, fields, Path(library_root), ext=fmt)
    if soundcloud_id is None or not path.exists():
        return path
    owner = _owner(path)
    if owner is None or owner == str(soundcloud_id):
        return path
    return path.with_name(f"{path.stem} [{soundcloud_id}]{path.suffix}")


def export_track(
    src: str | os.PathLike[str],
    library_root: str | os.PathLike[str],
    formats: Iterable[str],
    fields: Mapping[str, Any],
    tags: TrackTags,
    template: str = DEFAULT_TEMPLATE,
) -> dict[str, Path]:
    """Convert ``src`` into each of ``formats`` under ``library_root`` and tag each file.

    ``fields`` fill the template (``artist``, ``title``, ``album``, ``soundcloud_id``…).
    Returns ``{format: path}``. Raises ConversionError / TaggingError naming the file.
    """
    out: dict[str, Path] = {}
    for fmt in dict.fromkeys(f.lower() for f in formats):
        target = library_path(library_root, fields, fmt, tags.soundcloud_id, template)
        path = convert(
            src, target.parent, fmt, target.stem, finish=lambda tmp: write_tags(tmp, tags),
            prepared=staged_conversion(library_root, src, fmt),
        )  # fmt: skip
        if comparable(read_tags(path)) != comparable(tags):
            retag(path, tags)
        out[fmt] = path
    discard_staged(library_root, src)  # staged for a file that was there already
    return out


def retag(path: Path, tags: TrackTags) -> None:
    """New tags for a finished file, written to a copy that then replaces it: a tagger
    writes in place, and a full disk in the middle would leave half a file."""
    tmp = temp_name(path)
    try:
        shutil.copyfile(path, tmp)
        write_tags(tmp, tags)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
