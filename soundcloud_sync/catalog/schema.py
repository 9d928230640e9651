"""The catalog's tables (SQLAlchemy Core) and their versioned migrations.

Plain types only, so the same schema runs on SQLite (one machine) and PostgreSQL
(many). Timestamps are ISO-8601 UTC strings: portable and they sort.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)

metadata = MetaData()

catalog_meta = Table(
    "catalog_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

playlists = Table(
    "playlists",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("url", Text, nullable=False),
    Column("registered", Boolean, nullable=False, default=True),
    Column("registered_at", String(32)),
    Column("soundcloud_id", BigInteger),
    Column("title", Text),
    Column("name_override", Text),  # the user's name for it in Notion, when given
    Column("description", Text),
    Column("curator", Text),
    Column("curator_url", Text),
    Column("artwork_url", Text),
    Column("set_type", String(32)),
    Column("track_count", Integer),
    Column("tracks_listed", Integer),
    Column("ids_complete", Boolean),
    Column("ids_hash", String(64)),
    Column("created_at", String(32)),
    Column("last_modified", String(32)),
    Column("last_checked_at", String(32)),
    Column("last_synced_at", String(32)),
    Column("sync_status", String(16)),
    Column("notion_page_id", String(64)),
    Column("notion_page_url", Text),
)

tracks = Table(
    "tracks",
    metadata,
    Column("soundcloud_id", BigInteger, primary_key=True, autoincrement=False),
    Column("title", Text),
    Column("artist", Text),
    Column("uploader", Text),
    Column("url", Text),
    Column("duration_ms", BigInteger),
    Column("genre", Text),
    Column("tags", JSON),
    Column("isrc", String(32)),
    Column("album", Text),
    Column("artwork_url", Text),
    Column("created_at", String(32)),
    Column("last_modified", String(32)),
    Column("policy", String(16)),
    Column("monetization_model", String(32)),
    Column("downloadable", Boolean),
    Column("availability", String(16)),
    Column("first_seen_at", String(32)),
    Column("updated_at", String(32)),
    # Notion (issue 3)
    Column("notion_page_id", String(64)),
    Column("notion_hash", String(64)),
    # audio (issue 4)
    Column("download_status", String(16)),
    Column("download_reason", Text),
    Column("source_path", Text),
    Column("downloaded_at", String(32)),
    Column("files", JSON),
    Column("tempo", Float),
    Column("musical_key", String(16)),
    Column("camelot", String(4)),
    Column("key_confidence", Float),
    Column("duration_s", Float),
    Column("lufs", Float),
    Column("analyzed_at", String(32)),
    # beat grid and analysis provenance (issue 10)
    Column("tempo_confidence", Float),
    Column("first_beat_s", Float),
    Column("first_downbeat_s", Float),
    Column("analysis_version", String(16)),
    Column("eagle_id", String(64)),
    Column("enrichment_hash", String(64)),
)

memberships = Table(
    "memberships",
    metadata,
    Column("playlist_key", String(255), primary_key=True),
    Column("soundcloud_id", BigInteger, primary_key=True, autoincrement=False),
    Column("position", Integer, nullable=False),
    Column("first_seen_at", String(32), nullable=False),
    Column("last_seen_at", String(32), nullable=False),
    Column("removed_at", String(32)),
    Column("notion_linked", Boolean, nullable=False, default=False),
)

asset_outputs = Table(
    "asset_outputs",
    metadata,
    Column("asset_key", String(255), primary_key=True),
    Column("partition_key", String(255), primary_key=True),
    Column("updated_at", String(32), nullable=False),
    Column("data", Text, nullable=False),
)


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn)


_ANALYSIS_COLUMNS = ("tempo_confidence", "first_beat_s", "first_downbeat_s", "analysis_version")


def _v2_analysis_columns(conn: Connection) -> None:
    """The beat grid, tempo confidence and analysis version on ``tracks`` (only the
    missing ones: a catalog created at version 1 by this release already has them)."""
    present = {c["name"] for c in inspect(conn).get_columns(tracks.name)}
    for name in _ANALYSIS_COLUMNS:
        if name not in present:
            column = tracks.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {tracks.name} ADD COLUMN {name} {kind}"))


# Append-only: migration N brings the schema from version N-1 to N.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial, _v2_analysis_columns]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(catalog_meta.name):
        return 0
    row = conn.execute(
        select(catalog_meta.c.value).where(catalog_meta.c.key == "schema_version")
    ).first()
    return int(row[0]) if row else 0


def migrate(conn: Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; refuse a catalog written by a newer release."""
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"catalog schema version {version} is newer than this release understands "
            f"({SCHEMA_VERSION}); upgrade soundcloud-sync"
        )
    for step in MIGRATIONS[version:]:
        step(conn)
    if version != SCHEMA_VERSION:
        conn.execute(catalog_meta.delete().where(catalog_meta.c.key == "schema_version"))
        conn.execute(catalog_meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    return SCHEMA_VERSION
