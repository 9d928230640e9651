"""The two databases' live schemas, read and checked against what we write.

Read once per sync object, before the first write: every misfit of both databases is
reported at once (`SchemaError`), so nothing is written to a database that does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .gateway import NotionError, NotionGateway
from .schema import (
    PLAYLIST_FIELDS,
    SYNC_STATUSES,
    TRACK_FIELDS,
    ResolvedSchema,
    SchemaError,
    SchemaMapping,
    resolve_schema,
)


@dataclass(frozen=True)
class Database:
    """Where a database is: its id (the link's), or its data source's id when known."""

    database_id: str | None = None
    data_source_id: str | None = None


def read_data_source(gateway: NotionGateway, database: Database) -> dict[str, Any]:
    """The data source object (with its properties) of a database. A cached data source
    id that is gone (the database was re-created) is asked of the database again."""
    if database.data_source_id:
        return gateway.retrieve_data_source(database.data_source_id)
    assert database.database_id
    ds_id = gateway.data_source_id(database.database_id)
    try:
        return gateway.retrieve_data_source(ds_id)
    except NotionError as err:
        if err.status != 404:
            raise
        gateway.forget_data_source(database.database_id)  # stale cache: ask the database
        return gateway.retrieve_data_source(gateway.data_source_id(database.database_id))


def load_schemas(
    gateway: NotionGateway, tracks_db: Database, playlists_db: Database, mapping: SchemaMapping
) -> tuple[ResolvedSchema, ResolvedSchema]:
    """Music Tracks' and Playlists' schemas resolved against ``mapping``; raise
    SchemaError listing every misfit. Costs 2 requests (plus 2 the very first time, to
    find the data sources)."""
    tracks_live = read_data_source(gateway, tracks_db)
    playlists_live = read_data_source(gateway, playlists_db)
    tracks, problems = resolve_schema(
        "Music Tracks",
        tracks_live["id"],
        tracks_live.get("properties") or {},
        TRACK_FIELDS,
        mapping,
        "tracks",
    )
    playlists, more = resolve_schema(
        "Playlists",
        playlists_live["id"],
        playlists_live.get("properties") or {},
        PLAYLIST_FIELDS,
        mapping,
        "playlists",
    )
    problems += more
    rel = tracks.get("playlists")
    if rel is not None:
        config = rel.config.get("relation") or {}
        target = config.get("data_source_id") or config.get("database_id")
        if target not in (playlists.data_source_id, playlists_db.database_id):
            problems.append(
                f"Music Tracks: relation '{rel.name}' points to {target}, "
                f"not to the Playlists data source {playlists.data_source_id}"
            )
        elif config.get("type") == "single_property":
            tracks.warnings.append(
                f"Music Tracks: relation '{rel.name}' is one-way; playlists will not "
                "list their tracks (make it two-way in Notion)"
            )
    status = playlists.get("sync_status")
    if status is not None and status.type == "status":  # status options cannot be added
        names = {o.get("name") for o in (status.config.get("status") or {}).get("options", [])}
        missing = [s for s in SYNC_STATUSES if s not in names]
        if missing:
            problems.append(
                f"Playlists: status property '{status.name}' lacks option(s) "
                f"{', '.join(missing)} (the API cannot add status options)"
            )
    if problems:
        raise SchemaError(problems)
    return tracks, playlists
