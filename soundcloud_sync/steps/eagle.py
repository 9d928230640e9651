"""Eagle step: each track's library file imported into Eagle once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, TrackRow, audio_file
from .progress import Progress

if TYPE_CHECKING:
    from ..eagle import EagleClient


def import_into_eagle(
    eagle: EagleClient,
    catalog: Catalog,
    tracks: list[TrackRow],
    *,
    folder: str,
    formats: Sequence[str],
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Import each track's library file (the first of ``formats`` on disk) once; remember
    the Eagle item id."""
    from ..eagle import track_tags

    rows = []
    for done, track in enumerate(tracks, start=1):
        path = audio_file(track, formats)
        if not path:
            continue
        outcome = eagle.import_file(
            path,
            name=f"{track.artist} - {track.title}",
            website=track.url or path,
            folder=folder,
            tags=track_tags(folder, track.genre, track.key, track.camelot, track.tempo),
            annotation=f"SoundCloud id {track.soundcloud_id}" if track.soundcloud_id
            else f"recording {track.recording_id}",
        )  # fmt: skip
        if outcome.item_id:
            catalog.update_track(track.recording_id, eagle_id=outcome.item_id)
        rows.append({"recording_id": track.recording_id, "eagle_id": outcome.item_id,
                     "status": outcome.status, "message": outcome.reason or ""})  # fmt: skip
        if outcome.status == "not-running":
            break
        if progress:
            progress("eagle", done, len(tracks))
    return rows
