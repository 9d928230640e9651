"""The local state store behind incremental sync (SQLite by default, any SQLAlchemy URL)."""

from .schema import SCHEMA_VERSION
from .store import AUDIO_ON_DISK, Catalog, MembershipChange, ids_hash, utc_now

__all__ = ["AUDIO_ON_DISK", "SCHEMA_VERSION", "Catalog", "MembershipChange", "ids_hash", "utc_now"]
