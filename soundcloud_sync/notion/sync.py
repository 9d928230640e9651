"""Idempotent batch upsert of a playlist and its tracks into Music Tracks / Playlists.

Plain rows in, a report out: this package knows nothing of SoundCloud modules or
Dagster. The dedup key is the SoundCloud id (then the URL); title + artist is only
a fallback for pages a person made, which are then filled in and linked.

Crash safety: every created page is handed to ``on_page`` as soon as Notion
answers, and pages the caller does not know are always looked up (in bulk) before
anything is created, so a run killed at any point, even between Notion committing
a create and the caller recording it, is finished by the next run without
duplicates. A run killed before its playlist page update leaves a local mark, so
the next run still puts the page's Tracks in playlist order.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import KEY_NOTATIONS
from ..matching import normalize
from .gateway import AmbiguousCreate, NotionError, NotionGateway
from .locks import MachineLocks
from .schema import (
    ARRAY_LIMIT,
    ENRICHMENT_GROUPS,
    PLAYLIST_FIELDS,
    SYNC_STATUSES,
    TRACK_FIELDS,
    TRACK_GROUPS,
    ResolvedSchema,
    SchemaError,
    SchemaMapping,
    decode,
    differs,
    encode_all,
    format_key,
    owned_values,
    resolve_schema,
    values_hash,
)

log = logging.getLogger(__name__)

MAX_ROUNDS = 4  # lookup/write rounds: lost creates and stale page ids go round again
_SPOTIFY_URL_FIELD = next(f for f in PLAYLIST_FIELDS if f.key == "spotify_url")


@dataclass(frozen=True)
class KnownPage:
    """What the catalog remembers of a track's page."""

    page_id: str
    hash: str | None = None  # values_hash of the track properties last written
    linked: bool = False  # already related to this playlist's page


@dataclass
class TrackResult:
    soundcloud_id: int
    status: str  # created | updated | skipped | unlinked | unreadable | error
    page_id: str | None = None
    hash: str | None = None  # store it: equal hash next time means nothing to write
    linked: bool = False
    message: str = ""
    title: str | None = None
    link_changed: bool = False  # this run added its link (or would, in a dry run)


UNREADABLE = "SoundCloud gives no title for it (deleted by its uploader, or private): no page made"


def readable(row: Mapping[str, Any]) -> bool:
    """A track SoundCloud let us read. A deleted or private track of a public set
    comes back as a bare id: a page for it would have no title, so none is made."""
    return bool(row.get("title"))


@dataclass
class SyncReport:
    playlist_url: str | None = None
    playlist_name: str | None = None
    playlist_page_id: str | None = None
    playlist_page_url: str | None = None
    sync_status: str | None = None
    dry_run: bool = False
    tracks: list[TrackResult] = field(default_factory=list)
    unlinked: list[TrackResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    requests: int = 0
    rate_limited: int = 0

    def count(self, status: str) -> int:
        return sum(1 for t in self.tracks if t.status == status)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def errors(self) -> int:
        return self.count("error") + sum(1 for t in self.unlinked if t.status == "error")

    def failed_tracks(self) -> list[dict[str, Any]]:
        """Each track left without its page (or its unlink), and why."""
        return [
            {"soundcloud_id": t.soundcloud_id, "title": t.title, "reason": t.message}
            for t in [*self.tracks, *self.unlinked]
            if t.status == "error"
        ]

    def unreadable_tracks(self) -> list[dict[str, Any]]:
        """Tracks SoundCloud would not let us read, so no page was made for them."""
        return [
            {"soundcloud_id": t.soundcloud_id, "reason": t.message}
            for t in self.tracks
            if t.status == "unreadable"
        ]

    def stats(self) -> dict[str, Any]:
        """The stats object: the counts the API promises, plus what went wrong, by track."""
        return {
            "playlist_url": self.playlist_url,
            "playlist_name": self.playlist_name,
            "playlist_page_id": self.playlist_page_id,
            "playlist_page_url": self.playlist_page_url,
            "sync_status": self.sync_status,
            "dry_run": self.dry_run,
            "total_tracks": len(self.tracks),
            "tracks_added": self.created,
            "tracks_updated": self.updated,
            "tracks_skipped": self.skipped,
            "tracks_unlinked": sum(1 for t in self.unlinked if t.status == "unlinked"),
            "errors": self.errors,
            "failed_tracks": self.failed_tracks(),
            "unreadable": self.count("unreadable"),
            "unreadable_tracks": self.unreadable_tracks(),
            "track_ids": {t.soundcloud_id: t.page_id for t in self.tracks if t.page_id},
            "notion_requests": self.requests,
            "rate_limited": self.rate_limited,
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- matching helpers -------------------------------------------------------------------


def normalize_url(url: str | None) -> str:
    text = (url or "").strip().lower().split("?")[0].split("#")[0].rstrip("/")
    text = re.sub(r"^https?://", "", text)
    return re.sub(r"^(www\.|m\.)", "", text)


def _title_core(title: str) -> str:
    core = re.split(r"[\(\[]", title, maxsplit=1)[0].strip()
    return core or title.strip()


def _as_id(value: Any) -> int | None:
    """A SoundCloud id as stored (number or text), or None."""
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def _gone(err: NotionError) -> bool:
    """The page no longer exists for us: deleted, unshared, or in the trash."""
    return err.status == 404 or (err.status == 400 and "archived" in str(err))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def playlist_order(current: Sequence[str], ordered: Sequence[str]) -> list[str]:
    """A playlist page's Tracks as the playlist lists them: the pages of ``ordered``
    the relation holds, in that order, then every other page it holds (linked by a
    person) where it was. Never adds or drops a page."""
    held = set(current)
    first = [page for page in dict.fromkeys(ordered) if page in held]
    placed = set(first)
    return [*first, *(page for page in current if page not in placed)]


def _rows_and_known(
    tracks: Sequence[Mapping[str, Any]],
    known: Mapping[int, KnownPage | str] | None,
    linked: bool = False,
) -> tuple[dict[int, Mapping[str, Any]], dict[int, KnownPage]]:
    """Rows by SoundCloud id (first wins), and the catalog's pages as KnownPage."""
    rows: dict[int, Mapping[str, Any]] = {}
    for row in tracks:
        rows.setdefault(int(row["soundcloud_id"]), row)
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
                self._schemas = self._load_schemas()
            return self._schemas

    def _source(self, database_id: str | None, data_source_id: str | None) -> dict[str, Any]:
        if data_source_id:
            return self.gateway.retrieve_data_source(data_source_id)
        assert database_id
        ds_id = self.gateway.data_source_id(database_id)
        try:
            return self.gateway.retrieve_data_source(ds_id)
        except NotionError as err:
            if err.status != 404:
                raise
            self.gateway.forget_data_source(database_id)  # stale cache: ask the database
            return self.gateway.retrieve_data_source(self.gateway.data_source_id(database_id))

    def _load_schemas(self) -> tuple[ResolvedSchema, ResolvedSchema]:
        tracks_live = self._source(self.tracks_database_id, self._tracks_ds)
        playlists_live = self._source(self.playlists_database_id, self._playlists_ds)
        tracks, problems = resolve_schema(
            "Music Tracks",
            tracks_live["id"],
            tracks_live.get("properties") or {},
            TRACK_FIELDS,
            self.mapping,
            "tracks",
        )
        playlists, more = resolve_schema(
            "Playlists",
            playlists_live["id"],
            playlists_live.get("properties") or {},
            PLAYLIST_FIELDS,
            self.mapping,
            "playlists",
        )
        problems += more
        rel = tracks.get("playlists")
        if rel is not None:
            config = rel.config.get("relation") or {}
            target = config.get("data_source_id") or config.get("database_id")
            if target not in (playlists.data_source_id, self.playlists_database_id):
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

    # -- helpers ----------------------------------------------------------------------

    def _emit(self, on_page: Callable[[TrackResult], None] | None, result: TrackResult) -> None:
        if on_page is not None:
            with self._callback_lock:
                on_page(result)

    def _request_counts(self) -> tuple[int, int]:
        return self.gateway.stats["requests"], self.gateway.stats["rate_limited"]

    def track_hash(self, row: Mapping[str, Any]) -> str:
        """The hash ``upsert_playlist`` reports for a row (what the catalog stores)."""
        tracks, _ = self.schemas()
        return values_hash(owned_values(tracks, row, TRACK_GROUPS))

    # -- playlist page --------------------------------------------------------------------

    def _playlist_values(
        self, playlists: ResolvedSchema, playlist: Mapping[str, Any], status: str
    ) -> dict[str, Any]:
        row = {
            "name": playlist.get("name") or playlist.get("title") or playlist.get("url"),
            "url": playlist.get("url"),
            "spotify_url": playlist.get("spotify_url"),
            "curator": playlist.get("curator"),
            "track_count": playlist.get("track_count"),
            "last_synced": _now(),
            "sync_status": status,
        }
        return owned_values(playlists, row, ("track",))

    def find_playlist_page(self, playlist_url: str, field: str = "url") -> dict[str, Any] | None:
        """The oldest Playlists page whose ``field`` (SoundCloud or Spotify URL) is the URL."""
        _, playlists = self.schemas()
        if field not in playlists.props:
            return None
        url_prop = playlists.props[field]
        flt = {"property": url_prop.id, url_prop.type: {"equals": playlist_url}}
        pages: list[dict[str, Any]] = []
        for answer in self.gateway.query(playlists.data_source_id, flt):
            pages.extend(answer.get("results") or [])
        pages.sort(key=lambda p: p.get("created_time") or "")
        return pages[0] if pages else None

    def _ensure_playlist_page(
        self, playlist: Mapping[str, Any], known_id: str | None, dry_run: bool
    ) -> tuple[str | None, str | None]:
        if known_id:
            return known_id, None
        field = "spotify_url" if playlist.get("spotify_url") else "url"
        page = self.find_playlist_page(str(playlist[field]), field)
        if page is not None:
            return page["id"], page.get("url")
        if dry_run:
            return None, None
        _, playlists = self.schemas()
        body = encode_all(playlists, self._playlist_values(playlists, playlist, "Partial"))
        for _ in range(MAX_ROUNDS):
            try:
                page = self.gateway.create_page(playlists.data_source_id, body)
                return page["id"], page.get("url")
            except AmbiguousCreate:
                page = self.find_playlist_page(str(playlist[field]), field)
                if page is not None:
                    return page["id"], page.get("url")
        raise NotionError("create playlist page", f"gave up after {MAX_ROUNDS} lost answers")

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

    # -- lookup ---------------------------------------------------------------------------

    def _id_filter(self, tracks: ResolvedSchema, sid: int) -> dict[str, Any]:
        prop = tracks.props["soundcloud_id"]
        value: Any = sid if prop.type == "number" else str(sid)
        return {"property": prop.id, prop.type: {"equals": value}}

    def _lookup_props(self, tracks: ResolvedSchema) -> list[str]:
        """Only what matching and comparing need: legacy pages carry dozens of others."""
        return [p.id for p in tracks.in_group(*TRACK_GROUPS, "relation")]

    def _query_chunks(
        self, tracks: ResolvedSchema, conditions: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Pages matching any condition: ``or`` filters of up to 100, every answer page."""
        props = self._lookup_props(tracks)
        chunks = [
            conditions[start : start + ARRAY_LIMIT]
            for start in range(0, len(conditions), ARRAY_LIMIT)
        ]

        def one(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
            flt = chunk[0] if len(chunk) == 1 else {"or": chunk}
            found: list[dict[str, Any]] = []
            for answer in self.gateway.query(tracks.data_source_id, flt, filter_properties=props):
                found.extend(answer.get("results") or [])
            return found

        if len(chunks) <= 1:
            return [p for chunk in chunks for p in one(chunk)]
        # in parallel: the limiter keeps the pace, Notion's time per query overlaps
        with ThreadPoolExecutor(max_workers=min(self.lookup_concurrency, len(chunks))) as pool:
            return [p for part in pool.map(one, chunks) for p in part]

    def _foreign_conditions(
        self, tracks: ResolvedSchema, row: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Conditions that find a track's page made by a person or an older script (no
        SoundCloud id): its URL in any of its raw forms, or its title."""
        conditions: list[dict[str, Any]] = []
        url_prop, id_prop = tracks.get("url"), tracks.props["soundcloud_id"]
        path = normalize_url(row.get("url")).partition("/")[2]
        if url_prop is not None and path:
            conditions.append({"property": url_prop.id, url_prop.type: {"contains": path}})
        if row.get("title"):
            core = _title_core(str(row["title"]))
            conditions.append(
                {
                    "and": [
                        {"property": tracks.props["title"].id, "title": {"contains": core}},
                        {"property": id_prop.id, id_prop.type: {"is_empty": True}},
                    ]
                }
            )
        return conditions

    def lookup(
        self, rows: Mapping[int, Mapping[str, Any]], warnings: list[str] | None = None
    ) -> dict[int, dict[str, Any]]:
        """Find the existing pages of ``rows`` (soundcloud_id -> row) in bulk.

        When the database fits in one answer page, that one scan answers everything.
        Otherwise: ``or`` filters of 100 SoundCloud ids, then, for what is still
        missing, URL / title conditions (matched locally, normalized) — never one
        query per track."""
        if not rows:
            return {}
        tracks, _ = self.schemas()
        warnings = warnings if warnings is not None else []
        ds = tracks.data_source_id
        foreign = {sid: self._foreign_conditions(tracks, row) for sid, row in rows.items()}
        cost = math.ceil(len(rows) / ARRAY_LIMIT) + math.ceil(
            sum(map(len, foreign.values())) / ARRAY_LIMIT
        )
        if cost >= 3 and not self.gateway.hint(f"large:{ds}"):
            first = next(
                iter(
                    self.gateway.query(
                        ds, None, filter_properties=self._lookup_props(tracks), max_pages=1
                    )
                )
            )
            if not first.get("has_more"):
                return self._match(tracks, rows, first.get("results") or [], True, warnings)
            self.gateway.set_hint(f"large:{ds}", True)  # no more probing this database

        conditions = [self._id_filter(tracks, sid) for sid in rows if sid > 0]
        spotify = tracks.get("spotify_id")
        if spotify is not None:
            conditions += [
                {"property": spotify.id, spotify.type: {"equals": str(row["spotify_id"])}}
                for row in rows.values()
                if row.get("spotify_id")
            ]
        pages = self._query_chunks(tracks, conditions) if conditions else []
        found = self._match(tracks, rows, pages, False, warnings)
        missing = {sid: row for sid, row in rows.items() if sid not in found}
        conditions = [c for sid in missing for c in foreign[sid]]
        if conditions:
            pages = self._query_chunks(tracks, conditions)
            found.update(self._match(tracks, missing, pages, True, warnings))
        return found

    def _match(
        self,
        tracks: ResolvedSchema,
        rows: Mapping[int, Mapping[str, Any]],
        pages: Iterable[dict[str, Any]],
        by_title: bool,
        warnings: list[str],
    ) -> dict[int, dict[str, Any]]:
        """Pair rows with pages: SoundCloud id, then URL, then (pages without an id)
        normalized title + artist. Existing duplicates: the oldest page wins."""
        names = {k: p.name for k, p in tracks.props.items()}
        by_id: dict[int, list[dict[str, Any]]] = {}
        by_spotify: dict[str, list[dict[str, Any]]] = {}
        by_url: dict[str, list[tuple[int | None, dict[str, Any]]]] = {}
        by_ta: dict[tuple[str, str], list[tuple[str | None, dict[str, Any]]]] = {}
        seen: set[str] = set()
        for page in sorted(pages, key=lambda p: p.get("created_time") or ""):
            if page["id"] in seen or page.get("in_trash") or page.get("archived"):
                continue
            seen.add(page["id"])
            props = page.get("properties") or {}
            page_sid = _as_id(decode(props.get(names["soundcloud_id"])))
            if page_sid is not None:
                by_id.setdefault(page_sid, []).append(page)
            page_spotify = decode(props.get(names["spotify_id"])) if "spotify_id" in names else None
            if page_spotify:
                by_spotify.setdefault(str(page_spotify), []).append(page)
            url = decode(props.get(names["url"])) if "url" in names else None
            if url:
                by_url.setdefault(normalize_url(url), []).append((page_sid, page))
            if page_sid is None:
                title = decode(props.get(names["title"]))
                artist = decode(props.get(names["artist"])) if "artist" in names else None
                by_ta.setdefault((normalize(title), normalize(artist)), []).append(
                    (str(page_spotify) if page_spotify else None, page)
                )
        found: dict[int, dict[str, Any]] = {}
        claimed: set[str] = set()
        for sid, row in rows.items():
            candidates = by_id.get(sid, []) if sid > 0 else []
            if not candidates and row.get("spotify_id"):
                candidates = by_spotify.get(str(row["spotify_id"]), [])
            if not candidates and row.get("url"):
                candidates = [
                    p
                    for psid, p in by_url.get(normalize_url(row["url"]), [])
                    if psid in (None, sid)  # a page of another upload is not this track
                ]
            if not candidates and by_title and row.get("title"):
                key = (normalize(row.get("title")), normalize(row.get("artist")))
                candidates = [  # a page of another Spotify track is not this one
                    p
                    for ps, p in by_ta.get(key, [])
                    if p["id"] not in claimed and ps in (None, row.get("spotify_id"))
                ]
            candidates = [p for p in candidates if p["id"] not in claimed]
            if not candidates:
                continue
            if len(candidates) > 1:
                ids = ", ".join(p["id"] for p in candidates)
                warnings.append(f"SoundCloud id {sid}: several pages ({ids}); using the oldest")
            found[sid] = candidates[0]
            claimed.add(candidates[0]["id"])
        return found

    # -- relation read-modify-write -----------------------------------------------------

    def _relation_write(
        self,
        page_id: str,
        playlist_page_id: str,
        add: bool,
        props: dict[str, Any],
        dry_run: bool,
    ) -> tuple[bool, bool]:
        """Add/remove the playlist in a page's relation, keeping every other playlist.
        Reads the full current list under a machine-wide lock (relation writes replace
        the list). Returns (something was written or would be, the link changed)."""
        tracks, _ = self.schemas()
        rel = tracks.props["playlists"]
        with self.locks.hold("page", page_id):
            current = self.gateway.relation_ids(page_id, rel.id)
            has = playlist_page_id in current
            if add and not has:
                wanted = [*current, playlist_page_id]
            elif not add and has:
                wanted = [i for i in current if i != playlist_page_id]
            else:
                wanted = None
            body = encode_all(tracks, props)
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

    # -- the upsert -----------------------------------------------------------------------

    def upsert_playlist(
        self,
        playlist: Mapping[str, Any],
        tracks: Sequence[Mapping[str, Any]],
        *,
        known: Mapping[int, KnownPage | str] | None = None,
        playlist_page_id: str | None = None,
        removed: Mapping[int, str | None] | Iterable[int] = (),
        dry_run: bool = False,
        max_concurrent: int = 4,
        on_page: Callable[[TrackResult], None] | None = None,
    ) -> SyncReport:
        """Create/update/link the playlist's track pages and its playlist page.

        ``known``: soundcloud_id -> KnownPage (or just a page id) from the catalog; those
        need no lookup, and a known page with an equal hash, already linked, costs
        nothing. ``removed``: ids (or id -> page id) that left the playlist; unlinked
        only when ``playlist["ids_complete"]`` is true. ``on_page`` receives each
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
        removed_map = (
            {int(k): v for k, v in removed.items()}
            if isinstance(removed, Mapping)
            else {int(k): None for k in removed}
        )
        removed_map = {k: v for k, v in removed_map.items() if k not in rows}
        if removed_map and playlist.get("ids_complete") is False:
            report.warnings.append(
                f"{len(removed_map)} track(s) not unlinked: the playlist's id list was "
                "incomplete, so removals cannot be trusted"
            )
            removed_map = {}

        try:
            if playlist.get("spotify_url"):
                self._ensure_spotify_url_property(dry_run, report.warnings)
            page_id, page_url = self._ensure_playlist_page(playlist, playlist_page_id, dry_run)
            report.playlist_page_id, report.playlist_page_url = page_id, page_url
            unordered = self._order_pending(page_id, dry_run)
            results = self._sync_tracks(
                rows, known_pages, page_id, dry_run, max_concurrent, on_page, report.warnings
            )
            report.tracks = [results[sid] for sid in rows]
            report.unlinked = self._unlink(
                removed_map, page_id, dry_run, max_concurrent, report.warnings
            )
            status = self._status(report, playlist)
            report.sync_status = status
            order = self._tracks_in_order(page_id, report, dry_run, unordered) if page_id else {}
            if not dry_run and page_id:
                values = self._playlist_values(playlists_schema, playlist, status)
                self.gateway.update_page(page_id, {**encode_all(playlists_schema, values), **order})
                self.gateway.set_hint(f"unordered:{page_id}", None)
        except Exception:
            report.sync_status = "Failed"
            if not dry_run and report.playlist_page_id:
                self._mark_failed(report.playlist_page_id, playlist)
            raise
        finally:
            requests1, limited1 = self._request_counts()
            report.requests, report.rate_limited = requests1 - requests0, limited1 - limited0
        return report

    def _order_pending(self, page_id: str | None, dry_run: bool) -> bool:
        """Whether a run stopped before putting this page's Tracks in order; and marks
        this run's, until its page update lands, so a crash leaves the next run to do it."""
        if page_id is None:
            return False
        key = f"unordered:{page_id}"
        pending = bool(self.gateway.hint(key))
        if not dry_run and not pending:
            self.gateway.set_hint(key, True)
        return pending

    def _tracks_in_order(
        self, page_id: str, report: SyncReport, dry_run: bool, unordered: bool
    ) -> dict[str, Any]:
        """The playlist page's Tracks, put in playlist order, as a property for the page
        update the sync sends anyway; empty when no link changed (Notion appends each new
        link at the end, in whatever order the writes finished), when already in order,
        or when the Playlists database has no such property. One read when links changed
        (or ``unordered``: a run stopped before its own page update)."""
        _, playlists = self.schemas()
        prop = playlists.get("tracks")
        unlinked = {t.page_id for t in report.unlinked if t.status == "unlinked"}
        changed = unordered or bool(unlinked) or any(t.link_changed for t in report.tracks)
        if prop is None or not changed:
            return {}
        ours = {t.page_id or t.soundcloud_id for t in report.tracks if t.linked}
        if len(ours) > ARRAY_LIMIT:  # no write could take it: spare the read
            return self._too_many_to_order(prop.name, page_id, report)
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
            return self._too_many_to_order(prop.name, page_id, report)
        if dry_run:
            report.warnings.append(f"Playlists: would put '{prop.name}' in playlist order")
            return {}
        return {prop.name: {"relation": [{"id": i} for i in wanted]}}

    @staticmethod
    def _too_many_to_order(name: str, page_id: str, report: SyncReport) -> dict[str, Any]:
        """Notion replaces a relation in one write of at most 100 pages: a longer one
        keeps the order its links were made in."""
        message = (
            f"Playlists: '{name}' of page {page_id} left in the order Notion keeps: it holds "
            f"over {ARRAY_LIMIT} pages, and Notion takes at most {ARRAY_LIMIT} in one write"
        )
        log.warning(message)
        report.warnings.append(message)
        return {}

    def _mark_failed(self, page_id: str, playlist: Mapping[str, Any]) -> None:
        try:
            _, playlists = self.schemas()
            values = self._playlist_values(playlists, playlist, "Failed")
            self.gateway.update_page(page_id, encode_all(playlists, values))
        except Exception as err:  # the original error matters more
            log.warning("could not mark playlist page %s Failed: %s", page_id, err)

    @staticmethod
    def _status(report: SyncReport, playlist: Mapping[str, Any]) -> str:
        errors = report.errors
        if report.tracks and errors >= len(report.tracks):
            return "Failed"
        if errors or playlist.get("ids_complete") is False:
            return "Partial"
        return "Synced"

    def _sync_tracks(
        self,
        rows: Mapping[int, Mapping[str, Any]],
        known: Mapping[int, KnownPage],
        playlist_page_id: str | None,
        dry_run: bool,
        max_concurrent: int,
        on_page: Callable[[TrackResult], None] | None,
        warnings: list[str],
    ) -> dict[int, TrackResult]:
        tracks, _ = self.schemas()
        values = {sid: owned_values(tracks, row, TRACK_GROUPS) for sid, row in rows.items()}
        hashes = {sid: values_hash(v) for sid, v in values.items()}
        results: dict[int, TrackResult] = {}
        jobs: list[tuple[str, int, Any]] = []
        unknown: list[int] = []
        lost: dict[int, str] = {}  # why the last try of a track went round again
        sent: set[int] = set()  # creates whose answer was lost: a page found is ours
        for sid in rows:
            k = known.get(sid)
            if k is None and not readable(rows[sid]):
                # nothing to find it by but its id, nothing to make a page of: no request
                results[sid] = TrackResult(sid, "unreadable", message=UNREADABLE)
            elif k is None:
                unknown.append(sid)
            elif k.linked and k.hash == hashes[sid]:
                results[sid] = TrackResult(sid, "skipped", k.page_id, hashes[sid], True)
            else:
                jobs.append(("known", sid, k))

        def run(job: tuple[str, int, Any]) -> tuple[int, TrackResult | None]:
            kind, sid, data = job
            try:
                result = self._track_job(
                    kind, sid, data, rows[sid], values[sid], hashes[sid], playlist_page_id, dry_run
                )
                if kind == "found" and sid in sent:
                    result.status = "created"  # this run made it; only the answer was lost
            except AmbiguousCreate as err:
                log.info("create of SoundCloud id %s lost its answer; looking it up", sid)
                warnings.append(f"SoundCloud id {sid}: {err}; reconciled by lookup")
                lost[sid] = str(err)
                sent.add(sid)
                return sid, None
            except NotionError as err:
                if kind != "create" and _gone(err):
                    lost[sid] = str(err)
                    return sid, None  # stale page id (deleted or trashed): look it up again
                result = TrackResult(sid, "error", getattr(data, "page_id", None), message=str(err))
            except Exception as err:
                result = TrackResult(sid, "error", message=f"{type(err).__name__}: {err}")
            if not dry_run:
                self._emit(on_page, result)
            return sid, result

        rounds = 0
        with ThreadPoolExecutor(max_workers=max(1, max_concurrent)) as pool:
            while jobs or unknown:
                rounds += 1
                if unknown:
                    found = self.lookup({sid: rows[sid] for sid in unknown}, warnings)
                    for sid in unknown:
                        if sid in found:
                            jobs.append(("found", sid, found[sid]))
                        elif readable(rows[sid]):
                            jobs.append(("create", sid, None))
                        else:  # a page found before, now lost again: nothing to create
                            results[sid] = TrackResult(sid, "unreadable", message=UNREADABLE)
                    unknown = []
                retry: list[int] = []
                for sid, result in pool.map(run, jobs):
                    if result is None:
                        retry.append(sid)
                    else:
                        results[sid] = result
                jobs = []
                if retry and rounds >= MAX_ROUNDS:
                    for sid in retry:
                        results[sid] = TrackResult(
                            sid,
                            "error",
                            message=f"{lost.get(sid, 'no answer')} (gave up after {MAX_ROUNDS} "
                            "tries, each checked first: no page was made twice)",
                        )
                        if not dry_run:
                            self._emit(on_page, results[sid])
                    break
                unknown = retry
        for sid, result in results.items():
            result.title = rows[sid].get("title")
            if not dry_run and result.status != "unreadable" and not result.page_id:
                result.status, result.message = "error", result.message or "no page after sync"
        return results

    def _track_job(
        self,
        kind: str,
        sid: int,
        data: Any,
        row: Mapping[str, Any],
        values: dict[str, Any],
        props_hash: str,
        playlist_page_id: str | None,
        dry_run: bool,
    ) -> TrackResult:
        tracks, _ = self.schemas()
        if kind == "create":
            return self._create(tracks, sid, row, values, props_hash, playlist_page_id, dry_run)
        if kind == "known":
            page_id, linked = data.page_id, data.linked
            send = values if data.hash != props_hash else {}
        else:  # found by lookup: compare with what the page holds now
            page_id = data["id"]
            send = values if differs(tracks, values, data) else {}
            rel = (data.get("properties") or {}).get(tracks.props["playlists"].name) or {}
            # a truncated list (has_more) without us: the locked write reads it in full
            linked = playlist_page_id in [r["id"] for r in rel.get("relation") or []]
        if playlist_page_id is None or linked:  # no relation change needed (or possible)
            if send and not dry_run:
                self.gateway.update_page(page_id, encode_all(tracks, send))
            return TrackResult(sid, "updated" if send else "skipped", page_id, props_hash, linked)
        wrote, changed = self._relation_write(page_id, playlist_page_id, True, send, dry_run)
        status = "updated" if wrote else "skipped"
        return TrackResult(sid, status, page_id, props_hash, True, link_changed=changed)

    def _create(
        self,
        tracks: ResolvedSchema,
        sid: int,
        row: Mapping[str, Any],
        values: dict[str, Any],
        props_hash: str,
        playlist_page_id: str | None,
        dry_run: bool,
    ) -> TrackResult:
        linked = playlist_page_id is not None
        if dry_run:
            return TrackResult(sid, "created", None, props_hash, linked, link_changed=linked)
        ds = tracks.data_source_id
        # the catalog's own ids (below zero) differ between catalogs: a recording known
        # only from Spotify is remembered by its Spotify id
        ident: object = (
            f"spotify:{row['spotify_id']}" if sid <= 0 and row.get("spotify_id") else sid
        )
        with self.locks.hold("create", f"{ds}:{ident}"):
            other = self.locks.created_page(ds, ident)
            if other is not None:
                # another run on this machine created it a moment ago: fill in and link
                try:
                    return self._track_job(
                        "known",
                        sid,
                        KnownPage(other),
                        row,
                        values,
                        props_hash,
                        playlist_page_id,
                        dry_run,
                    )
                except NotionError as err:
                    if not _gone(err):
                        raise
                    self.locks.forget_created(ds, ident)  # trashed since: create it anew
            body = encode_all(tracks, values)
            extra = owned_values(tracks, {"added_at": row.get("added_at") or _now()}, ("create",))
            body.update(encode_all(tracks, extra))
            if playlist_page_id:
                body[tracks.props["playlists"].name] = {"relation": [{"id": playlist_page_id}]}
            page = self.gateway.create_page(ds, body)
            self.locks.record_created(ds, ident, page["id"])
            return TrackResult(sid, "created", page["id"], props_hash, linked, link_changed=linked)

    def _unlink(
        self,
        removed: Mapping[int, str | None],
        playlist_page_id: str | None,
        dry_run: bool,
        max_concurrent: int,
        warnings: list[str],
    ) -> list[TrackResult]:
        if not removed or not playlist_page_id:
            return []
        pages = {sid: pid for sid, pid in removed.items() if pid}
        unknown = {sid: {"soundcloud_id": sid} for sid, pid in removed.items() if not pid}
        if unknown:
            for sid, page in self.lookup(unknown, warnings).items():
                pages[sid] = page["id"]

        def run(item: tuple[int, str]) -> TrackResult:
            sid, page_id = item
            try:
                wrote, _ = self._relation_write(page_id, playlist_page_id, False, {}, dry_run)
            except NotionError as err:
                return TrackResult(sid, "error", page_id, message=str(err))
            return TrackResult(sid, "unlinked" if wrote else "skipped", page_id, linked=False)

        with ThreadPoolExecutor(max_workers=max(1, max_concurrent)) as pool:
            return list(pool.map(run, sorted(pages.items())))

    # -- audit (asset checks) ---------------------------------------------------------------

    def playlist_members(self, playlist_page_id: str) -> dict[int | None, list[str]]:
        """SoundCloud id -> track pages linked to the playlist page (None: pages without
        an id). More than one page for an id is a duplicate. Costs one query per 100."""
        tracks, _ = self.schemas()
        rel, id_prop = tracks.props["playlists"], tracks.props["soundcloud_id"]
        flt = {"property": rel.id, "relation": {"contains": playlist_page_id}}
        members: dict[int | None, list[str]] = {}
        for answer in self.gateway.query(
            tracks.data_source_id, flt, filter_properties=[id_prop.id]
        ):
            for page in answer.get("results") or []:
                sid = _as_id(decode((page.get("properties") or {}).get(id_prop.name)))
                members.setdefault(sid, []).append(page["id"])
        return members

    # -- enrichment write-back ---------------------------------------------------------------

    def _enrichment_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The row with Key written in the user's notation (NOTION_KEY_NOTATION)."""
        return {**row, "key": format_key(row.get("key"), row.get("camelot"), self.key_notation)}

    def enrichment_hash(self, row: Mapping[str, Any]) -> str:
        tracks, _ = self.schemas()
        return values_hash(owned_values(tracks, self._enrichment_row(row), ENRICHMENT_GROUPS))

    def upsert_tracks(
        self,
        tracks: Sequence[Mapping[str, Any]],
        *,
        known: Mapping[int, KnownPage | str] | None = None,
        dry_run: bool = False,
        max_concurrent: int = 4,
        on_page: Callable[[TrackResult], None] | None = None,
    ) -> SyncReport:
        """Tracks with no playlist: found in bulk, created or filled in, never duplicated."""
        requests0, limited0 = self._request_counts()
        tracks_schema, _ = self.schemas()
        report = SyncReport(dry_run=dry_run, warnings=list(tracks_schema.warnings))
        rows, known_pages = _rows_and_known(tracks, known, linked=True)
        try:
            results = self._sync_tracks(
                rows, known_pages, None, dry_run, max_concurrent, on_page, report.warnings
            )
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
    ) -> SyncReport:
        """Write analysis values (tempo, key, paths, …) to pages whose values changed.

        Each row: ``page_id``, ``soundcloud_id``, optional ``enrichment_hash`` (what was
        written last time), and the enrichment keys. Returns per-row results whose
        ``hash`` is the new enrichment hash to store."""
        requests0, limited0 = self._request_counts()
        tracks, _ = self.schemas()
        report = SyncReport(dry_run=dry_run, warnings=list(tracks.warnings))

        def run(row: Mapping[str, Any]) -> TrackResult:
            sid = int(row.get("soundcloud_id") or 0)
            values = owned_values(tracks, self._enrichment_row(row), ENRICHMENT_GROUPS)
            new_hash = values_hash(values)
            page_id = row.get("page_id")
            if not page_id:
                return TrackResult(sid, "error", None, message="no Notion page id")
            if not values or row.get("enrichment_hash") == new_hash:
                return TrackResult(sid, "skipped", page_id, new_hash)
            try:
                if not dry_run:
                    self.gateway.update_page(page_id, encode_all(tracks, values))
            except NotionError as err:
                return TrackResult(sid, "error", page_id, message=str(err))
            result = TrackResult(sid, "updated", page_id, new_hash)
            if not dry_run:
                self._emit(on_page, result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, max_concurrent)) as pool:
            report.tracks = list(pool.map(run, rows))
        requests1, limited1 = self._request_counts()
        report.requests, report.rate_limited = requests1 - requests0, limited1 - limited0
        return report
