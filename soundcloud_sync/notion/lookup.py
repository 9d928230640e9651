"""Finding the pages that already exist for tracks: in bulk, never one query per track.

Rows are keyed by recording id; a page is matched by the row's SoundCloud id, then its
Spotify id, then its URL, then (pages a person made, without an id) its normalised
title and artist. Existing duplicates: the
oldest page wins, and a warning names the others.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..matching import normalize
from .gateway import NotionGateway
from .schema import ARRAY_LIMIT, TRACK_GROUPS, ResolvedSchema, decode


def normalize_url(url: str | None) -> str:
    text = (url or "").strip().lower().split("?")[0].split("#")[0].rstrip("/")
    text = re.sub(r"^https?://", "", text)
    return re.sub(r"^(www\.|m\.)", "", text)


def _title_core(title: str) -> str:
    core = re.split(r"[\(\[]", title, maxsplit=1)[0].strip()
    return core or title.strip()


def as_id(value: Any) -> int | None:
    """A SoundCloud id as stored (number or text), or None."""
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def track_name(recording_id: int, row: Mapping[str, Any]) -> str:
    """How messages name a track: by a service's id it has, else by the recording's."""
    if row.get("soundcloud_id"):
        return f"SoundCloud id {row['soundcloud_id']}"
    if row.get("spotify_id"):
        return f"Spotify id {row['spotify_id']}"
    return f"recording {recording_id}"


class PageLookup:
    """Looks up Music Tracks pages, handed the data source's resolved schema."""

    def __init__(self, gateway: NotionGateway, tracks: ResolvedSchema, concurrency: int = 4):
        self.gateway = gateway
        self.tracks = tracks
        self.concurrency = concurrency  # queries in flight at once (the limiter paces them)

    def _id_filter(self, soundcloud_id: int) -> dict[str, Any]:
        prop = self.tracks.props["soundcloud_id"]
        value: Any = soundcloud_id if prop.type == "number" else str(soundcloud_id)
        return {"property": prop.id, prop.type: {"equals": value}}

    def _lookup_props(self) -> list[str]:
        """Only what matching and comparing need: legacy pages carry dozens of others."""
        return [p.id for p in self.tracks.in_group(*TRACK_GROUPS, "relation")]

    def _query_chunks(self, conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Pages matching any condition: ``or`` filters of up to 100, every answer page."""
        props = self._lookup_props()
        chunks = [
            conditions[start : start + ARRAY_LIMIT]
            for start in range(0, len(conditions), ARRAY_LIMIT)
        ]

        def one(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
            flt = chunk[0] if len(chunk) == 1 else {"or": chunk}
            found: list[dict[str, Any]] = []
            for answer in self.gateway.query(
                self.tracks.data_source_id, flt, filter_properties=props
            ):
                found.extend(answer.get("results") or [])
            return found

        if len(chunks) <= 1:
            return [p for chunk in chunks for p in one(chunk)]
        # in parallel: the limiter keeps the pace, Notion's time per query overlaps
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chunks))) as pool:
            return [p for part in pool.map(one, chunks) for p in part]

    def _foreign_conditions(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Conditions that find a track's page made by a person or an older script (no
        SoundCloud id): its URL in any of its raw forms, or its title."""
        conditions: list[dict[str, Any]] = []
        url_prop, id_prop = self.tracks.get("url"), self.tracks.props["soundcloud_id"]
        path = normalize_url(row.get("url")).partition("/")[2]
        if url_prop is not None and path:
            conditions.append({"property": url_prop.id, url_prop.type: {"contains": path}})
        if row.get("title"):
            core = _title_core(str(row["title"]))
            conditions.append(
                {
                    "and": [
                        {"property": self.tracks.props["title"].id, "title": {"contains": core}},
                        {"property": id_prop.id, id_prop.type: {"is_empty": True}},
                    ]
                }
            )
        return conditions

    def find(
        self, rows: Mapping[int, Mapping[str, Any]], warnings: list[str] | None = None
    ) -> dict[int, dict[str, Any]]:
        """Find the existing pages of ``rows`` (recording_id -> row) in bulk.

        When the database fits in one answer page, that one scan answers everything.
        Otherwise: ``or`` filters of 100 SoundCloud ids, then, for what is still
        missing, URL / title conditions (matched locally, normalized) — never one
        query per track."""
        if not rows:
            return {}
        warnings = warnings if warnings is not None else []
        ds = self.tracks.data_source_id
        foreign = {rid: self._foreign_conditions(row) for rid, row in rows.items()}
        cost = math.ceil(len(rows) / ARRAY_LIMIT) + math.ceil(
            sum(map(len, foreign.values())) / ARRAY_LIMIT
        )
        if cost >= 3 and not self.gateway.hint(f"large:{ds}"):
            first = next(
                iter(
                    self.gateway.query(
                        ds, None, filter_properties=self._lookup_props(), max_pages=1
                    )
                )
            )
            if not first.get("has_more"):
                return self._match(rows, first.get("results") or [], True, warnings)
            self.gateway.set_hint(f"large:{ds}", True)  # no more probing this database

        conditions = [
            self._id_filter(int(row["soundcloud_id"]))
            for row in rows.values()
            if row.get("soundcloud_id")
        ]
        spotify = self.tracks.get("spotify_id")
        if spotify is not None:
            conditions += [
                {"property": spotify.id, spotify.type: {"equals": str(row["spotify_id"])}}
                for row in rows.values()
                if row.get("spotify_id")
            ]
        pages = self._query_chunks(conditions) if conditions else []
        found = self._match(rows, pages, False, warnings)
        missing = {rid: row for rid, row in rows.items() if rid not in found}
        conditions = [c for rid in missing for c in foreign[rid]]
        if conditions:
            pages = self._query_chunks(conditions)
            found.update(self._match(missing, pages, True, warnings))
        return found

    def _match(
        self,
        rows: Mapping[int, Mapping[str, Any]],
        pages: Iterable[dict[str, Any]],
        by_title: bool,
        warnings: list[str],
    ) -> dict[int, dict[str, Any]]:
        """Pair rows with pages: SoundCloud id, then URL, then (pages without an id)
        normalized title + artist. Existing duplicates: the oldest page wins."""
        names = {k: p.name for k, p in self.tracks.props.items()}
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
            page_sid = as_id(decode(props.get(names["soundcloud_id"])))
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
        for rid, row in rows.items():
            sid = as_id(row.get("soundcloud_id"))
            candidates = by_id.get(sid, []) if sid is not None else []
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
                warnings.append(f"{track_name(rid, row)}: several pages ({ids}); using the oldest")
            found[rid] = candidates[0]
            claimed.add(candidates[0]["id"])
        return found

    def playlist_members(self, playlist_page_id: str) -> dict[int | None, list[str]]:
        """SoundCloud id -> track pages linked to the playlist page (None: pages without
        an id). More than one page for an id is a duplicate. Costs one query per 100."""
        rel, id_prop = self.tracks.props["playlists"], self.tracks.props["soundcloud_id"]
        flt = {"property": rel.id, "relation": {"contains": playlist_page_id}}
        members: dict[int | None, list[str]] = {}
        for answer in self.gateway.query(
            self.tracks.data_source_id, flt, filter_properties=[id_prop.id]
        ):
            for page in answer.get("results") or []:
                sid = as_id(decode((page.get("properties") or {}).get(id_prop.name)))
                members.setdefault(sid, []).append(page["id"])
        return members
