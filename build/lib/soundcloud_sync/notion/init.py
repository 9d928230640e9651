"""Create a clean Music Tracks + Playlists pair for a new user (``notion init``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .gateway import NotionGateway
from .schema import AVAILABILITY, PLAYLIST_FIELDS, SYNC_STATUSES, TRACK_FIELDS, Field

_COLORS = {
    "Synced": "green",
    "Partial": "yellow",
    "Failed": "red",
    "available": "green",
    "preview-only": "yellow",
    "geo-blocked": "orange",
    "drm": "purple",
    "gone": "gray",
}


def _options(names: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"name": n, "color": _COLORS[n]} for n in names]


def _property_schema(f: Field) -> dict[str, Any]:
    ptype = f.types[0]
    if ptype == "number":
        return {"number": {"format": "number"}}
    if f.key == "sync_status":
        return {"select": {"options": _options(SYNC_STATUSES)}}
    if f.key == "availability":
        return {"select": {"options": _options(AVAILABILITY)}}
    if ptype in ("select", "multi_select"):
        return {ptype: {"options": []}}
    return {ptype: {}}


def _title(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": text}}]


def init_databases(
    parent_page_id: str,
    *,
    gateway: NotionGateway | None = None,
    token: str | None = None,
    base_url: str = "https://api.notion.com",
    requests_per_second: float = 3.0,
    state_dir: str | Path | None = None,
    tracks_title: str = "Music Tracks",
    playlists_title: str = "Playlists",
) -> tuple[str, str]:
    """Create both databases under ``parent_page_id`` with the default schema and the
    two-way Playlists <-> Tracks relation. Returns (tracks_db_id, playlists_db_id).

    Pass a ``gateway``, or the plain values to build one (``token``, ``base_url``…)."""
    if gateway is None:
        if not token:
            raise ValueError("Notion token is empty: set NOTION_TOKEN")
        gateway = NotionGateway(
            token,
            base_url=base_url,
            requests_per_second=requests_per_second,
            state_dir=state_dir,
        )
    parent = {"type": "page_id", "page_id": parent_page_id}
    playlist_props = {
        f.default: _property_schema(f) for f in PLAYLIST_FIELDS if f.group != "relation"
    }
    playlists_db = gateway.call(
        "create Playlists database",
        gateway.client.databases.create,
        parent=parent,
        title=_title(playlists_title),
        initial_data_source={"properties": playlist_props},
        create=True,
    )
    playlists_ds = playlists_db["data_sources"][0]["id"]
    track_props: dict[str, Any] = {}
    for f in TRACK_FIELDS:
        if f.group == "relation":
            track_props[f.default] = {
                "relation": {
                    "data_source_id": playlists_ds,
                    "type": "dual_property",
                    "dual_property": {},
                }
            }
        else:
            track_props[f.default] = _property_schema(f)
    tracks_db = gateway.call(
        "create Music Tracks database",
        gateway.client.databases.create,
        parent=parent,
        title=_title(tracks_title),
        initial_data_source={"properties": track_props},
        create=True,
    )
    tracks_ds = tracks_db["data_sources"][0]["id"]
    live = gateway.retrieve_data_source(tracks_ds)["properties"]
    dual = live["Playlists"]["relation"].get("dual_property") or {}
    synced = dual.get("synced_property_name")
    if synced and synced != "Tracks":
        gateway.call(
            "rename Playlists relation",
            gateway.client.data_sources.update,
            playlists_ds,
            properties={synced: {"name": "Tracks"}},
        )
    return tracks_db["id"], playlists_db["id"]
