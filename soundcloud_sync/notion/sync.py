"""Idempotent batch upsert of a playlist and its tracks into Music Tracks / Playlists.

Plain rows in, a report out: this package knows nothing of SoundCloud modules or
Dagster. Each row is keyed by its ``recording_id`` (the caller's id for the recording)
and found in Notion by the services' ids it carries (``soundcloud_id``, ``spotify_id``),
then its URL; title + artist is only a fallback for pages a person made, which are then
filled in and linked.

`NotionCatalogSync` is the door: it reads and checks both schemas once, then hands the
resolved schemas to its collaborators, one room each: `lookup` (finding pages in bulk),
`writes` (create, fill in, link, unlink, write back), `relations` (links and the
playlist page's order), `playlist_pages` (the playlist's own page) and `report` (what
happened, track by track). See `writes` for crash safety.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .databases import Database, load_schemas
from .gateway import NotionGateway
from .locks import MachineLocks
from .lookup import PageLookup
from .playlist_pages import PlaylistPages
from .relations import TrackLinks, TracksOrder
from .report import KnownPage, SyncReport, TrackResult
from .schema import (
    ENRICHMENT_GROUPS,
    KEY_NOTATIONS,
    PLAYLIST_FIELDS,
    TRACK_GROUPS,
    ResolvedSchema,
    SchemaMapping,
    owned_values,
    values_hash,
)
from .writes import TrackWriter

log = logging.getLogger(__name__)

_SPOTIFY_URL_FIELD = next(f for f in PLAYLIST_FIELDS if f.key == "spotify_url")


def _rows_and_known(
    tracks: Sequence[Mapping[str, Any]],
    known: Mapping[int, KnownPage | str] | None,
    linked: bool = False,
) -> tuple[dict[int, Mapping[str, Any]], dict[int, KnownPage]]:
    """Rows by recording id (first wins), and the catalog's pages as KnownPage."""
    rows: dict[int, Mapping[str, Any]] = {}
    for row in tracks:
        if row.get("recording_id") is None:
            raise ValueError(f"track row {row.get('title')!r} has no recording_id")
        rows.setdefault(int(row["recording_id"]), row)
    known_pages = {
        int(sid): (k if isinstance(k, KnownPage) else KnownPage(str(k), linked=linked))
        for sid, k in (known or {}).items()
    }
    return rows, known_pages


class NotionCatalogSync:
    """Upserts playlists and tracks; one instance per (token, databases) is enough.

    The schemas are read and checked once per instance, before the first write.
    """

    def __init__(
        self,
        gateway: NotionGateway,
        *,
        tracks_database_id: str | None = None,
        playlists_database_id: str | None = None,
        tracks_data_source_id: str | None = None,
        playlists_data_source_id: str | None = None,
        mapping: SchemaMapping | Mapping[str, Any] | None = None,
        locks: MachineLocks | None = None,
        key_notation: str = "standard",
    ) -> None:
        if key_notation not in KEY_NOTATIONS:
            raise ValueError(
                f"key notation {key_notation!r}: choose one of {', '.join(KEY_NOTATIONS)}"
            )
        if not (tracks_database_id or tracks_data_source_id):
            raise ValueError("Music Tracks database id missing: set NOTION_TRACKS_DATABASE_ID")
        if not (playlists_database_id or playlists_data_source_id):
            raise ValueError("Playlists database id missing: set NOTION_PLAYLISTS_DATABASE_ID")
        self.gateway = gateway
        self.tracks_database_id = tracks_database_id
        self.playlists_database_id = playlists_database_id
        self._tracks_ds = tracks_data_source_id
        self._playlists_ds = playlists_data_source_id
        self.mapping = (
            mapping if isinstance(mapping, SchemaMapping) else SchemaMapping.from_dict(mapping)
        )
        self.locks = locks or MachineLocks(gateway.state_dir)
        self.key_notation = key_notation
        self._schemas: tuple[ResolvedSchema, ResolvedSchema] | None = None
        self._schema_lock = threading.Lock()
        self._callback_lock = threading.Lock()
        self.lookup_concurrency = 4

    @classmethod
    def from_settings(
        cls,
        token: str,
        *,
        base_url: str = "https://api.notion.com",
        tracks_database_id: str | None = None,
        playlists_database_id: str | None = None,
        requests_per_second: float = 3.0,
        state_dir: str | Path | None = None,
        mapping: SchemaMapping | Mapping[str, Any] | None = None,
        timeout_s: float = 60.0,
        key_notation: str = "standard",
        limits_store: str | None = None,
    ) -> NotionCatalogSync:
        """Build gateway + sync from plain values (what a Dagster resource holds)."""
        gateway = NotionGateway(
            token,
            base_url=base_url,
            requests_per_second=requests_per_second,
            state_dir=state_dir,
            timeout_s=timeout_s,
            limits_store=limits_store,
        )
        return cls(
            gateway,
            tracks_database_id=tracks_database_id,
            playlists_database_id=playlists_database_id,
            mapping=mapping,
            key_notation=key_notation,
        )

    # -- schema ---------------------------------------------------------------------

    def schemas(self, *, refresh: bool = False) -> tuple[ResolvedSchema, ResolvedSchema]:
        """Read both data source schemas and check them; raise SchemaError listing every
        misfit. Costs 2 requests (plus 2 the very first time, to find the data sources)."""
        with self._schema_lock:
            if self._schemas is None or refresh:
                self._schemas = load_schemas(
                    self.gateway,
                    Database(self.tracks_database_id, self._tracks_ds),
                    Database(self.playlists_database_id, self._playlists_ds),
                    self.mapping,
                )
            return self._schemas

    def _ensure_spotify_url_property(self, dry_run: bool, warnings: list[str]) -> None:
        """A Spotify playlist's page needs a `Spotify URL` property in Playlists: add it
        when missing (the one schema change the sync makes), saying so."""
        _, playlists = self.schemas()
        if "spotify_url" in playlists.props:
            return
        if self.mapping.override("playlists", _SPOTIFY_URL_FIELD) == (True, None):
            return  # switched off by the user's mapping
        name = _SPOTIFY_URL_FIELD.default
        if dry_run:
            warnings.append(f"Playlists: would add the url property '{name}'")
            return
        self.gateway.add_property(playlists.data_source_id, name, {"url": {}})
        log.warning("Playlists: added the url property '%s' for Spotify playlists", name)
        warnings.append(f"Playlists: added the url property '{name}'")
        self.schemas(refresh=True)

    def playlist_page(self, playlist: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(id, url) of the playlist's page in Playlists, found by its SoundCloud or
        Spotify URL, or made (Sync Status Partial: only some of its tracks are known)."""
        if playlist.get("spotify_url"):
            self._ensure_spotify_url_property(False, [])
        _, playlists = self.schemas()
        return PlaylistPages(self.gateway, playlists).ensure(playlist, None, False)

    def track_hash(self, row: Mapping[str, Any]) -> str:
        """The hash a track's page is stored with (equal hash: nothing to write)."""
        tracks, _ = self.schemas()
        return values_hash(owned_values(tracks, row, TRACK_GROUPS))

    # -- collaborators, each handed the resolved schema ------------------------------

    def _lookup(self, tracks: ResolvedSchema) -> PageLookup:
        return PageLookup(self.gateway, tracks, self.lookup_concurrency)

    def _writer(self, tracks: ResolvedSchema) -> TrackWriter:
        return TrackWriter(
            self.gateway,
            self.locks,
            tracks,
            self._lookup(tracks),
            TrackLinks(self.gateway, self.locks, tracks),
            self._callback_lock,
        )

    def _request_counts(self) -> tuple[int, int]:
        return self.gateway.stats["requests"], self.gateway.stats["rate_limited"]

    @staticmethod
    def _status(report: SyncReport, playlist: Mapping[str, Any]) -> str:
        errors = report.errors
        if report.tracks and errors >= len(report.tracks):
            return "Failed"
        if errors or playlist.get("ids_complete") is False:
            return "Partial"
        return "Synced"

    # -- the upsert -----------------------------------------------------------------------

    def upsert_playlist(
        self,
        playlist: Mapping[str, Any],
        tracks: Sequence[Mapping[str, Any]],
        *,
        known: Mapping[int, KnownPage | str] | None = None,
        playlist_page_id: str | None = None,
        removed: Mapping[int, str | Mapping[str, Any] | None] | Iterable[int] = (),
        dry_run: bool = False,
        max_concurrent: int = 4,
        on_page: Callable[[TrackResult], None] | None = None,
    ) -> SyncReport:
        """Create/update/link the playlist's track pages and its playlist page.

        ``known``: recording_id -> KnownPage (or just a page id) from the catalog; those
        need no lookup, and a known page with an equal hash, already linked, costs
        nothing. ``removed``: recordings that left the playlist, id -> its page id, or its
        row (with ``page_id`` when known, else to find the page by; plain ids: SoundCloud
        ids); unlinked only when
        ``playlist["ids_complete"]`` is true. ``on_page`` receives each
        TrackResult as it is settled (from worker threads, one call at a time) — not
        the ones skipped without a request: those are only in ``report.tracks``.
        """
        requests0, limited0 = self._request_counts()
        tracks_schema, playlists_schema = self.schemas()  # SchemaError before any write
        report = SyncReport(
            playlist_url=playlist.get("url") or playlist.get("spotify_url"),
            playlist_name=playlist.get("name") or playlist.get("title"),
            dry_run=dry_run,
            warnings=[*tracks_schema.warnings, *playlists_schema.warnings],
        )
        rows, known_pages = _rows_and_known(tracks, known)
        removed_map = {
            rid: value if value is not None else {"recording_id": rid, "soundcloud_id": rid}
            for rid, value in (
                ((int(k), v) for k, v in removed.items())
                if isinstance(removed, Mapping)
                else ((int(k), None) for k in removed)
            )
            if rid not in rows
        }
        if removed_map and playlist.get("ids_complete") is False:
            report.warnings.append(
                f"{len(removed_map)} track(s) not unlinked: the playlist's id list was "
                "incomplete, so removals cannot be trusted"
            )
            removed_map = {}

        pages: PlaylistPages | None = None
        try:
            if playlist.get("spotify_url"):
                self._ensure_spotify_url_property(dry_run, report.warnings)
                tracks_schema, playlists_schema = self.schemas()  # with the property added
            pages = PlaylistPages(self.gateway, playlists_schema)
            order = TracksOrder(self.gateway, playlists_schema)
            writer = self._writer(tracks_schema)
            page_id, page_url = pages.ensure(playlist, playlist_page_id, dry_run)
            report.playlist_page_id, report.playlist_page_url = page_id, page_url
            unordered = order.pending(page_id, dry_run)
            results = writer.sync(
                rows, known_pages, page_id, dry_run, max_concurrent, on_page, report.warnings
            )
            report.tracks = [results[sid] for sid in rows]
            report.unlinked = writer.unlink(
                removed_map, page_id, dry_run, max_concurrent, report.warnings
            )
            status = self._status(report, playlist)
            report.sync_status = status
            in_order = order.property(page_id, report, dry_run, unordered) if page_id else {}
            if not dry_run and page_id:
                pages.update(page_id, playlist, status, in_order)
                order.done(page_id)
        except Exception:
            report.sync_status = "Failed"
            if not dry_run and report.playlist_page_id and pages is not None:
                pages.mark_failed(report.playlist_page_id, playlist)
            raise
        finally:
            requests1, limited1 = self._request_counts()
            report.requests, report.rate_limited = requests1 - requests0, limited1 - limited0
        return report

    def upsert_tracks(
        self,
        tracks: Sequence[Mapping[str, Any]],
        *,
        known: Mapping[int, KnownPage | str] | None = None,
        dry_run: bool = False,
        max_concurrent: int = 4,
        on_page: Callable[[TrackResult], None] | None = None,
        playlist_page_id: str | None = None,
    ) -> SyncReport:
        """Tracks found in bulk, created or filled in, never duplicated; linked to the
        page ``playlist_page_id`` when given (its other links and properties untouched)."""
        requests0, limited0 = self._request_counts()
        tracks_schema, _ = self.schemas()
        report = SyncReport(dry_run=dry_run, warnings=list(tracks_schema.warnings))
        rows, known_pages = _rows_and_known(tracks, known, linked=playlist_page_id is None)
        try:
            results = self._writer(tracks_schema).sync(
                rows, known_pages, playlist_page_id, dry_run, max_concurrent, on_page,
                report.warnings,
            )  # fmt: skip
            report.tracks = [results[sid] for sid in rows]
        finally:
            requests1, limited1 = self._request_counts()
            report.requests, report.rate_limited = requests1 - requests0, limited1 - limited0
        return report

    def update_enrichment(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        dry_run: bool = False,
        max_concurrent: int = 4,
        on_page: Callable[[TrackResult], None] | None = None,
        groups: tuple[str, ...] = ENRICHMENT_GROUPS,
    ) -> SyncReport:
        """Write analysis values (tempo, key, paths, …) to pages whose values changed
        (``groups``: which of our properties; djay's facts are another group).

        Each row: ``page_id``, ``recording_id``, optional ``enrichment_hash`` (what was
        written last time), and the enrichment keys. Returns per-row results whose
        ``hash`` is the new enrichment hash to store."""
        requests0, limited0 = self._request_counts()
        tracks, _ = self.schemas()
        report = SyncReport(dry_run=dry_run, warnings=list(tracks.warnings))
        report.tracks = self._writer(tracks).enrich(
            rows,
            self.key_notation,
            dry_run=dry_run,
            max_concurrent=max_concurrent,
            on_page=on_page,
            groups=groups,
        )
        requests1, limited1 = self._request_counts()
        report.requests, report.rate_limited = requests1 - requests0, limited1 - limited0
        return report

    # -- audit (asset checks) ---------------------------------------------------------------

    def playlist_members(self, playlist_page_id: str) -> dict[int | None, list[str]]:
        """SoundCloud id -> track pages linked to the playlist page (None: pages without
        an id). More than one page for an id is a duplicate. Costs one query per 100."""
        tracks, _ = self.schemas()
        return self._lookup(tracks).playlist_members(playlist_page_id)
