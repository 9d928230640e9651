"""Writing track pages: create, fill in and link each track's page, unlink the tracks
that left the playlist, and write the analysis back, many at a time.

Crash safety: every created page is handed to ``on_page`` as soon as Notion answers,
and pages the caller does not know are always looked up (in bulk) before anything is
created, so a run killed at any point, even between Notion committing a create and the
caller recording it, is finished by the next run without duplicates. Two runs of this
machine creating the same track at once are kept apart by a machine-wide lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .gateway import AmbiguousCreate, NotionError, NotionGateway
from .locks import MachineLocks
from .lookup import PageLookup, track_name
from .playlist_pages import MAX_ROUNDS, now_iso
from .relations import TrackLinks
from .report import UNREADABLE, KnownPage, TrackResult, readable
from .schema import (
    ENRICHMENT_GROUPS,
    TRACK_GROUPS,
    ResolvedSchema,
    differs,
    encode_all,
    format_key,
    owned_values,
    values_hash,
)

log = logging.getLogger(__name__)

OnPage = Callable[[TrackResult], None]


def page_gone(err: NotionError) -> bool:
    """The page no longer exists for us: deleted, unshared, or in the trash."""
    return err.status == 404 or (err.status == 400 and "archived" in str(err))


class TrackWriter:
    """Writes Music Tracks pages, handed the resolved schema and the collaborators that
    find pages (`PageLookup`) and link them (`TrackLinks`)."""

    def __init__(
        self,
        gateway: NotionGateway,
        locks: MachineLocks,
        tracks: ResolvedSchema,
        lookup: PageLookup,
        links: TrackLinks,
        callback_lock: threading.Lock | None = None,
    ) -> None:
        self.gateway = gateway
        self.locks = locks
        self.tracks = tracks
        self.lookup = lookup
        self.links = links
        self._callback_lock = callback_lock or threading.Lock()

    def _emit(self, on_page: OnPage | None, result: TrackResult) -> None:
        """``on_page`` one call at a time, from whichever worker thread settled it."""
        if on_page is not None:
            with self._callback_lock:
                on_page(result)

    def sync(
        self,
        rows: Mapping[int, Mapping[str, Any]],
        known: Mapping[int, KnownPage],
        playlist_page_id: str | None,
        dry_run: bool,
        max_concurrent: int,
        on_page: Callable[[TrackResult], None] | None,
        warnings: list[str],
    ) -> dict[int, TrackResult]:
        values = {rid: owned_values(self.tracks, row, TRACK_GROUPS) for rid, row in rows.items()}
        hashes = {rid: values_hash(v) for rid, v in values.items()}
        results: dict[int, TrackResult] = {}
        jobs: list[tuple[str, int, Any]] = []
        unknown: list[int] = []
        lost: dict[int, str] = {}  # why the last try of a track went round again
        sent: set[int] = set()  # creates whose answer was lost: a page found is ours
        for rid in rows:
            k = known.get(rid)
            if k is None and not readable(rows[rid]):
                # nothing to find it by but its id, nothing to make a page of: no request
                results[rid] = TrackResult(rid, "unreadable", message=UNREADABLE)
            elif k is None:
                unknown.append(rid)
            elif k.linked and k.hash == hashes[rid]:
                results[rid] = TrackResult(rid, "skipped", k.page_id, hashes[rid], True)
            else:
                jobs.append(("known", rid, k))

        def named(rid: int) -> tuple[str | None, int | None]:
            return rows[rid].get("title"), rows[rid].get("soundcloud_id")

        def run(job: tuple[str, int, Any]) -> tuple[int, TrackResult | None]:
            kind, rid, data = job
            try:
                result = self._job(
                    kind, rid, data, rows[rid], values[rid], hashes[rid], playlist_page_id, dry_run
                )
                if kind == "found" and rid in sent:
                    result.status = "created"  # this run made it; only the answer was lost
            except AmbiguousCreate as err:
                name = track_name(rid, rows[rid])
                log.info("create of %s lost its answer; looking it up", name)
                warnings.append(f"{name}: {err}; reconciled by lookup")
                lost[rid] = str(err)
                sent.add(rid)
                return rid, None
            except NotionError as err:
                if kind != "create" and page_gone(err):
                    lost[rid] = str(err)
                    return rid, None  # stale page id (deleted or trashed): look it up again
                result = TrackResult(rid, "error", getattr(data, "page_id", None), message=str(err))
            except Exception as err:
                result = TrackResult(rid, "error", message=f"{type(err).__name__}: {err}")
            result.title, result.soundcloud_id = named(rid)
            if not dry_run:
                self._emit(on_page, result)
            return rid, result

        rounds = 0
        with ThreadPoolExecutor(max_workers=max(1, max_concurrent)) as pool:
            while jobs or unknown:
                rounds += 1
                if unknown:
                    found = self.lookup.find({rid: rows[rid] for rid in unknown}, warnings)
                    for rid in unknown:
                        if rid in found:
                            jobs.append(("found", rid, found[rid]))
                        elif readable(rows[rid]):
                            jobs.append(("create", rid, None))
                        else:  # a page found before, now lost again: nothing to create
                            results[rid] = TrackResult(rid, "unreadable", message=UNREADABLE)
                    unknown = []
                retry: list[int] = []
                for rid, result in pool.map(run, jobs):
                    if result is None:
                        retry.append(rid)
                    else:
                        results[rid] = result
                jobs = []
                if retry and rounds >= MAX_ROUNDS:
                    for rid in retry:
                        results[rid] = TrackResult(
                            rid,
                            "error",
                            message=f"{lost.get(rid, 'no answer')} (gave up after {MAX_ROUNDS} "
                            "tries, each checked first: no page was made twice)",
                        )
                        results[rid].title, results[rid].soundcloud_id = named(rid)
                        if not dry_run:
                            self._emit(on_page, results[rid])
                    break
                unknown = retry
        for rid, result in results.items():
            result.title, result.soundcloud_id = named(rid)
            if not dry_run and result.status != "unreadable" and not result.page_id:
                result.status, result.message = "error", result.message or "no page after sync"
        return results

    def _job(
        self,
        kind: str,
        rid: int,
        data: Any,
        row: Mapping[str, Any],
        values: dict[str, Any],
        props_hash: str,
        playlist_page_id: str | None,
        dry_run: bool,
    ) -> TrackResult:
        if kind == "create":
            return self._create(rid, row, values, props_hash, playlist_page_id, dry_run)
        if kind == "known":
            page_id, linked = data.page_id, data.linked
            send = values if data.hash != props_hash else {}
        else:  # found by lookup: compare with what the page holds now
            page_id = data["id"]
            send = values if differs(self.tracks, values, data) else {}
            rel = (data.get("properties") or {}).get(self.tracks.props["playlists"].name) or {}
            # a truncated list (has_more) without us: the locked write reads it in full
            linked = playlist_page_id in [r["id"] for r in rel.get("relation") or []]
        if playlist_page_id is None or linked:  # no relation change needed (or possible)
            if send and not dry_run:
                self.gateway.update_page(page_id, encode_all(self.tracks, send))
            return TrackResult(rid, "updated" if send else "skipped", page_id, props_hash, linked)
        wrote, changed = self.links.write(page_id, playlist_page_id, True, send, dry_run)
        status = "updated" if wrote else "skipped"
        return TrackResult(rid, status, page_id, props_hash, True, link_changed=changed)

    def _create(
        self,
        rid: int,
        row: Mapping[str, Any],
        values: dict[str, Any],
        props_hash: str,
        playlist_page_id: str | None,
        dry_run: bool,
    ) -> TrackResult:
        linked = playlist_page_id is not None
        if dry_run:
            return TrackResult(rid, "created", None, props_hash, linked, link_changed=linked)
        ds = self.tracks.data_source_id
        # a page this machine made is remembered by the recording's SoundCloud id, else
        # its Spotify id (the same in every catalog), else the catalog's own id
        ident: object = row.get("soundcloud_id") or (
            f"spotify:{row['spotify_id']}" if row.get("spotify_id") else f"recording:{rid}"
        )
        with self.locks.hold("create", f"{ds}:{ident}"):
            other = self.locks.created_page(ds, ident)
            if other is not None:
                # another run on this machine created it a moment ago: fill in and link
                try:
                    return self._job(
                        "known",
                        rid,
                        KnownPage(other),
                        row,
                        values,
                        props_hash,
                        playlist_page_id,
                        dry_run,
                    )
                except NotionError as err:
                    if not page_gone(err):
                        raise
                    self.locks.forget_created(ds, ident)  # trashed since: create it anew
            body = encode_all(self.tracks, values)
            extra = owned_values(
                self.tracks, {"added_at": row.get("added_at") or now_iso()}, ("create",)
            )
            body.update(encode_all(self.tracks, extra))
            if playlist_page_id:
                body[self.tracks.props["playlists"].name] = {"relation": [{"id": playlist_page_id}]}
            page = self.gateway.create_page(ds, body)
            self.locks.record_created(ds, ident, page["id"])
            return TrackResult(rid, "created", page["id"], props_hash, linked, link_changed=linked)

    def unlink(
        self,
        removed: Mapping[int, str | Mapping[str, Any]],
        playlist_page_id: str | None,
        dry_run: bool,
        max_concurrent: int,
        warnings: list[str],
    ) -> list[TrackResult]:
        """Take the playlist out of the relation of each recording in ``removed`` (its
        page id, or its row: with ``page_id`` when known, else to find the page by)."""
        if not removed or not playlist_page_id:
            return []
        rows: dict[int, Mapping[str, Any]] = {
            rid: {"page_id": v} if isinstance(v, str) else v for rid, v in removed.items()
        }
        pages = {rid: str(row["page_id"]) for rid, row in rows.items() if row.get("page_id")}
        unknown = {rid: row for rid, row in rows.items() if not row.get("page_id")}
        if unknown:
            for rid, page in self.lookup.find(unknown, warnings).items():
                pages[rid] = page["id"]

        def run(item: tuple[int, str]) -> TrackResult:
            rid, page_id = item
            row = rows[rid]
            try:
                wrote, _ = self.links.write(page_id, playlist_page_id, False, {}, dry_run)
            except NotionError as err:
                result = TrackResult(rid, "error", page_id, message=str(err))
            else:
                result = TrackResult(rid, "unlinked" if wrote else "skipped", page_id)
            result.soundcloud_id = row.get("soundcloud_id")
            return result

        with ThreadPoolExecutor(max_workers=max(1, max_concurrent)) as pool:
            return list(pool.map(run, sorted(pages.items())))

    def enrich(
        self,
        rows: Sequence[Mapping[str, Any]],
        key_notation: str,
        *,
        dry_run: bool,
        max_concurrent: int,
        on_page: OnPage | None,
        groups: tuple[str, ...] = ENRICHMENT_GROUPS,
    ) -> list[TrackResult]:
        """Write analysis values (or the other ``groups`` of our properties) to the pages
        whose values changed (see `NotionCatalogSync.update_enrichment`); Key in
        ``key_notation``."""

        def run(row: Mapping[str, Any]) -> TrackResult:
            result = enrich_one(row)
            result.soundcloud_id = row.get("soundcloud_id")
            if not dry_run and result.status == "updated":
                self._emit(on_page, result)
            return result

        def enrich_one(row: Mapping[str, Any]) -> TrackResult:
            rid = int(row.get("recording_id") or 0)
            values = owned_values(self.tracks, enrichment_row(row, key_notation), groups)
            new_hash = values_hash(values)
            page_id = row.get("page_id")
            if not page_id:
                return TrackResult(rid, "error", None, message="no Notion page id")
            if not values or row.get("enrichment_hash") == new_hash:
                return TrackResult(rid, "skipped", page_id, new_hash)
            try:
                if not dry_run:
                    self.gateway.update_page(page_id, encode_all(self.tracks, values))
            except NotionError as err:
                return TrackResult(rid, "error", page_id, message=str(err))
            return TrackResult(rid, "updated", page_id, new_hash)

        with ThreadPoolExecutor(max_workers=max(1, max_concurrent)) as pool:
            return list(pool.map(run, rows))


def enrichment_row(row: Mapping[str, Any], key_notation: str) -> dict[str, Any]:
    """The row with Key written in the user's notation (NOTION_KEY_NOTATION)."""
    return {**row, "key": format_key(row.get("key"), row.get("camelot"), key_notation)}
