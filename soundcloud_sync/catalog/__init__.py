"""The local state store behind incremental sync (SQLite by default, any SQLAlchemy URL)."""

from .rows import (
    AUDIO_ON_DISK,
    TrackRow,
    audio_file,
    display_name,
    effective_tempo,
    joined_at,
    parse_time,
    tempo_source,
)
from .schema import SCHEMA_VERSION
from .store import Catalog, MembershipChange, ids_hash, utc_now

__all__ = [
    "AUDIO_ON_DISK",
    "SCHEMA_VERSION",
    "Catalog",
    "MembershipChange",
    "TrackRow",
    "audio_file",
    "display_name",
    "effective_tempo",
    "ids_hash",
    "joined_at",
    "parse_time",
    "tempo_source",
    "utc_now",
]
