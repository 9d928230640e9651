"""A playlist's page in Playlists: found by its URL (or, without one, its name), made
once, and its values written."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .gateway import AmbiguousCreate, NotionError, NotionGateway
from .schema import ResolvedSchema, encode_all, owned_values

log = logging.getLogger(__name__)

MAX_ROUNDS = 4  # lookup/write rounds: lost creates and stale page ids go round again


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PlaylistPages:
    """Finds, creates and updates playlist pages, handed the Playlists schema."""

    def __init__(self, gateway: NotionGateway, playlists: ResolvedSchema):
        self.gateway = gateway
        self.playlists = playlists

    def values(self, playlist: Mapping[str, Any], status: str) -> dict[str, Any]:
        """The page's owned values: name, URLs, curator, count, last synced, status."""
        row = {
            "name": playlist.get("name") or playlist.get("title") or playlist.get("url"),
            "url": playlist.get("url"),
            "spotify_url": playlist.get("spotify_url"),
            "curator": playlist.get("curator"),
            "track_count": playlist.get("track_count"),
            "last_synced": now_iso(),
            "sync_status": status,
        }
        return owned_values(self.playlists, row, ("track",))

    def find(self, playlist_url: str, field: str = "url") -> dict[str, Any] | None:
        """The oldest Playlists page whose ``field`` (SoundCloud or Spotify URL, or the
        name) is ``playlist_url``."""
        if field not in self.playlists.props:
            return None
        url_prop = self.playlists.props[field]
        flt = {"property": url_prop.id, url_prop.type: {"equals": playlist_url}}
        pages: list[dict[str, Any]] = []
        for answer in self.gateway.query(self.playlists.data_source_id, flt):
            pages.extend(answer.get("results") or [])
        pages.sort(key=lambda p: p.get("created_time") or "")
        return pages[0] if pages else None

    def ensure(
        self, playlist: Mapping[str, Any], known_id: str | None, dry_run: bool
    ) -> tuple[str | None, str | None]:
        """The playlist's page id and URL: the catalog's, else the one found by URL, else
        a new page (none in a dry run). A create whose answer was lost is looked up."""
        if known_id:
            return known_id, None
        # by its address; a playlist without one (djay's) by its name
        field = next((f for f in ("spotify_url", "url") if playlist.get(f)), "name")
        page = self.find(str(playlist[field]), field)
        if page is not None:
            return page["id"], page.get("url")
        if dry_run:
            return None, None
        body = encode_all(self.playlists, self.values(playlist, "Partial"))
        for _ in range(MAX_ROUNDS):
            try:
                page = self.gateway.create_page(self.playlists.data_source_id, body)
                return page["id"], page.get("url")
            except AmbiguousCreate:
                page = self.find(str(playlist[field]), field)
                if page is not None:
                    return page["id"], page.get("url")
        raise NotionError("create playlist page", f"gave up after {MAX_ROUNDS} lost answers")

    def update(
        self,
        page_id: str,
        playlist: Mapping[str, Any],
        status: str,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the page's values with ``status`` (and ``extra``, properties already
        encoded, such as its Tracks in order)."""
        body = encode_all(self.playlists, self.values(playlist, status))
        self.gateway.update_page(page_id, {**body, **(extra or {})})

    def mark_failed(self, page_id: str, playlist: Mapping[str, Any]) -> None:
        """Say Failed on the page; never raises (the sync's own error matters more)."""
        try:
            self.update(page_id, playlist, "Failed")
        except Exception as err:  # the original error matters more
            log.warning("could not mark playlist page %s Failed: %s", page_id, err)
