"""The relation between track pages and playlist pages: links added and removed one
page at a time, and a playlist page's Tracks put in playlist order.

Notion replaces a relation in one write (at most 100 pages), so every change is a
read-modify-write: the full current list is read under a machine-wide lock and written
back with the one playlist added or removed, keeping every other link a person made.

A run killed before its playlist page update leaves a local mark ("unordered"), so the
next run still puts the page's Tracks in playlist order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .gateway import NotionError, NotionGateway
from .locks import MachineLocks
from .report import SyncReport
from .schema import ARRAY_LIMIT, ResolvedSchema, encode_all

log = logging.getLogger(__name__)


def playlist_order(current: Sequence[str], ordered: Sequence[str]) -> list[str]:
    """A playlist page's Tracks as the playlist lists them: the pages of ``ordered``
    the relation holds, in that order, then every other page it holds (linked by a
    person) where it was. Never adds or drops a page."""
    held = set(current)
    first = [page for page in dict.fromkeys(ordered) if page in held]
    placed = set(first)
    return [*first, *(page for page in current if page not in placed)]


class TrackLinks:
    """Adds or removes one playlist in track pages' relation, handed the Music Tracks
    schema."""

    def __init__(self, gateway: NotionGateway, locks: MachineLocks, tracks: ResolvedSchema):
        self.gateway = gateway
        self.locks = locks
        self.tracks = tracks

    def write(
        self,
        page_id: str,
        playlist_page_id: str,
        add: bool,
        props: dict[str, Any],
        dry_run: bool,
    ) -> tuple[bool, bool]:
        """Add/remove the playlist in a page's relation, keeping every other playlist,
        with ``props`` (already owned values) in the same write. Reads the full current
        list under a machine-wide lock (relation writes replace the list). Returns
        (something was written or would be, the link changed)."""
        rel = self.tracks.props["playlists"]
        with self.locks.hold("page", page_id):
            current = self.gateway.relation_ids(page_id, rel.id)
            has = playlist_page_id in current
            if add and not has:
                wanted = [*current, playlist_page_id]
            elif not add and has:
                wanted = [i for i in current if i != playlist_page_id]
            else:
                wanted = None
            body = encode_all(self.tracks, props)
            if wanted is not None:
                if len(wanted) > ARRAY_LIMIT:
                    raise NotionError(
                        f"update page {page_id}",
                        f"relation '{rel.name}' would hold {len(wanted)} pages; Notion accepts "
                        f"at most {ARRAY_LIMIT} in one request",
                    )
                body[rel.name] = {"relation": [{"id": i} for i in wanted]}
            if body and not dry_run:
                self.gateway.update_page(page_id, body)
            return bool(body), wanted is not None


class TracksOrder:
    """A playlist page's Tracks in playlist order, handed the Playlists schema."""

    def __init__(self, gateway: NotionGateway, playlists: ResolvedSchema):
        self.gateway = gateway
        self.playlists = playlists

    def pending(self, page_id: str | None, dry_run: bool) -> bool:
        """Whether a run stopped before putting this page's Tracks in order; and marks
        this run's, until its page update lands, so a crash leaves the next run to do it."""
        if page_id is None:
            return False
        key = f"unordered:{page_id}"
        pending = bool(self.gateway.hint(key))
        if not dry_run and not pending:
            self.gateway.set_hint(key, True)
        return pending

    def done(self, page_id: str) -> None:
        """The page update that carried the order landed: no mark left for the next run."""
        self.gateway.set_hint(f"unordered:{page_id}", None)

    def property(
        self, page_id: str, report: SyncReport, dry_run: bool, unordered: bool
    ) -> dict[str, Any]:
        """The playlist page's Tracks, put in playlist order, as a property for the page
        update the sync sends anyway; empty when no link changed (Notion appends each new
        link at the end, in whatever order the writes finished), when already in order,
        or when the Playlists database has no such property. One read when links changed
        (or ``unordered``: a run stopped before its own page update)."""
        prop = self.playlists.get("tracks")
        unlinked = {t.page_id for t in report.unlinked if t.status == "unlinked"}
        changed = unordered or bool(unlinked) or any(t.link_changed for t in report.tracks)
        if prop is None or not changed:
            return {}
        ours = {t.page_id or t.recording_id for t in report.tracks if t.linked}
        if len(ours) > ARRAY_LIMIT:  # no write could take it: spare the read
            return self._too_many(prop.name, page_id, report)
        try:
            current = self.gateway.relation_ids(page_id, prop.id)
        except NotionError as err:  # the order is a nicety: never worth failing the sync
            report.warnings.append(f"Playlists: '{prop.name}' not put in order: {err}")
            return {}
        if dry_run:  # what the relation would hold once this run's links were written
            added = [t.page_id for t in report.tracks if t.link_changed and t.page_id]
            current = [i for i in current if i not in unlinked]
            current += [i for i in dict.fromkeys(added) if i not in current]
        wanted = playlist_order(current, [t.page_id for t in report.tracks if t.page_id])
        if wanted == current:
            return {}
        if len(wanted) > ARRAY_LIMIT:
            return self._too_many(prop.name, page_id, report)
        if dry_run:
            report.warnings.append(f"Playlists: would put '{prop.name}' in playlist order")
            return {}
        return {prop.name: {"relation": [{"id": i} for i in wanted]}}

    @staticmethod
    def _too_many(name: str, page_id: str, report: SyncReport) -> dict[str, Any]:
        """Notion replaces a relation in one write of at most 100 pages: a longer one
        keeps the order its links were made in."""
        message = (
            f"Playlists: '{name}' of page {page_id} left in the order Notion keeps: it holds "
            f"over {ARRAY_LIMIT} pages, and Notion takes at most {ARRAY_LIMIT} in one write"
        )
        log.warning(message)
        report.warnings.append(message)
        return {}
