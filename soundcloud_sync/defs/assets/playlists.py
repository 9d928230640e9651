"""SoundCloud → catalog: the playlist and its track entries.

The catalog is the one store: these assets write the playlist and its tracks there and
report what they wrote as metadata; the assets downstream read the catalog.
"""

from collections import Counter

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ...sources import SourceError, parse_playlist_url, public_url
from ..partitions import playlists_partitions
from ..resources import CatalogResource, SoundCloudResource

PREVIEW_COLUMNS = ["position", "title", "artist", "genre", "duration_ms", "availability"]


def playlist_url_for(catalog: CatalogResource, key: str) -> str:
    """The URL to read for a partition: the registered one (it may carry a secret token)."""
    row = catalog.catalog().playlist(key)
    return row["url"] if row else parse_playlist_url(key).url


@multi_asset(
    specs=[
        AssetSpec(
            "playlist_metadata",
            description="The playlist itself: name, curator, artwork, track count, set type.",
            group_name="soundcloud",
            partitions_def=playlists_partitions,
        ),
        AssetSpec(
            "playlist_tracks",
            description="One catalog row per track in playlist order, with availability.",
            group_name="soundcloud",
            partitions_def=playlists_partitions,
            deps=["playlist_metadata"],
        ),
    ],
    pool="soundcloud_api",
)
def playlist_assets(
    context: AssetExecutionContext, soundcloud: SoundCloudResource, catalog: CatalogResource
):
    """Read the playlist (1 resolve + 1 batch per 50 tracks) and record it in the catalog."""
    key = context.partition_key
    url = playlist_url_for(catalog, key)
    try:
        with soundcloud.client() as client:
            playlist = client.fetch_playlist(url)
    except SourceError as exc:
        raise Failure(description=str(exc)) from exc
    if playlist.key != key:
        raise Failure(description=f"{url}: resolves to playlist {playlist.key!r}, not {key!r}")
    change = catalog.catalog().record_playlist(playlist)
    tracks = pd.DataFrame([t.to_row() for t in playlist.tracks], columns=PREVIEW_COLUMNS)
    availability = Counter(tracks["availability"])
    link = MetadataValue.url(public_url(playlist.url))
    yield MaterializeResult(
        asset_key="playlist_metadata",
        metadata={
            "name": playlist.title,
            "curator": playlist.curator or "",
            "track_count": playlist.track_count,
            "set_type": playlist.set_type or "",
            "last_modified": playlist.last_modified or "",
            "playlist_url": link,
        },
    )
    yield MaterializeResult(
        asset_key="playlist_tracks",
        metadata={
            "dagster/row_count": len(tracks),
            "track_count": playlist.track_count,
            "new_tracks": len(change.added),
            "removed_tracks": len(change.removed),
            "hidden_tracks": len(change.hidden),
            "ids_complete": playlist.ids_complete,
            "removals_trusted": change.removals_trusted,
            **{f"availability/{k}": v for k, v in sorted(availability.items())},
            "playlist_url": link,
            "preview": MetadataValue.md(tracks[PREVIEW_COLUMNS].head(25).to_markdown(index=False)),
        },
    )
    if not change.removals_trusted:
        context.log.warning(
            f"{key}: SoundCloud lists {len(tracks)} of {playlist.track_count} tracks and the "
            "change in its track count does not tell removed tracks from deleted or private "
            "ones; nothing is unlinked until a later listing explains it"
        )
