"""Eagle step: each track's library file imported into Eagle once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, audio_file
from .progress import Progress

if TYPE_CHECKING:
    from ..eagle import EagleClient


def import_into_eagle(
    eagle: EagleClient,
    catalog: Catalog,
    tracks: list[dict[str, Any]],
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
            name=f"{track.get('artist')} - {track.get('title')}",
            website=track["url"],
            folder=folder,
            tags=track_tags(folder, track.get("genre"), track.get("key"),
                            track.get("camelot"), track.get("tempo")),
            annotation=f"SoundCloud id {track['soundcloud_id']}",
        )  # fmt: skip
        if outcome.item_id:
            catalog.update_track(track["soundcloud_id"], eagle_id=outcome.item_id)
        rows.append({"soundcloud_id": track["soundcloud_id"], "eagle_id": outcome.item_id,
                     "status": outcome.status, "message": outcome.reason or ""})  # fmt: skip
        if outcome.status == "not-running":
            break
        if progress:
            progress("eagle", done, len(tracks))
    return rows
