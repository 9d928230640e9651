"""Notion: rate-limited, crash-safe upsert of tracks and playlists.

Knows nothing of SoundCloud modules or Dagster: plain dict rows in, reports out.

    sync = NotionCatalogSync.from_settings(
        token, base_url=..., tracks_database_id=..., playlists_database_id=...,
        requests_per_second=3, state_dir=settings.home, mapping={"tracks": {"tempo": "BPM"}},
    )
    report = sync.upsert_playlist(
        playlist_metadata, track_rows,
        known={sid: KnownPage(page_id, hash, linked)},   # from the catalog
        playlist_page_id=...,                            # from the catalog
        removed={sid: page_id_or_None},                  # left the playlist since last time
        max_concurrent=4, on_page=store_in_catalog,      # called as each page settles
    )
    report.stats()  # counts, errors, and each track left without a page

``state_dir`` holds the rate-limit bucket shared by every process of the machine,
the database -> data source cache and the machine-wide locks.
"""

from ..matching import normalize
from .gateway import AmbiguousCreate, NotionError, NotionGateway
from .init import init_databases
from .limiter import SharedRateLimiter
from .locks import MachineLocks
from .report import KnownPage, SyncReport, TrackResult
from .schema import (
    PLAYLIST_FIELDS,
    TRACK_FIELDS,
    Field,
    ResolvedSchema,
    SchemaError,
    SchemaMapping,
)
from .sync import NotionCatalogSync

__all__ = [
    "PLAYLIST_FIELDS",
    "TRACK_FIELDS",
    "AmbiguousCreate",
    "Field",
    "KnownPage",
    "MachineLocks",
    "NotionCatalogSync",
    "NotionError",
    "NotionGateway",
    "ResolvedSchema",
    "SchemaError",
    "SchemaMapping",
    "SharedRateLimiter",
    "SyncReport",
    "TrackResult",
    "init_databases",
    "normalize",
]
