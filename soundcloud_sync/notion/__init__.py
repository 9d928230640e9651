"""The Notion room: rate-limited, crash-safe upsert of tracks and playlists.

Knows nothing of SoundCloud modules or Dagster: plain dict rows in, reports out.
"""

from .gateway import AmbiguousCreate, NotionError, NotionGateway
from .init import init_databases
from .limiter import SharedRateLimiter
from .locks import MachineLocks
from .schema import (
    PLAYLIST_FIELDS,
    TRACK_FIELDS,
    Field,
    ResolvedSchema,
    SchemaError,
    SchemaMapping,
)
from .sync import KnownPage, NotionCatalogSync, SyncReport, TrackResult, normalize

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
