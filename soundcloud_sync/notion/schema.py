"""Which Notion properties we own, what they are called in *this* database, and how
values are written, read back and hashed.

Users' Music Tracks databases are old and varied (``BPM`` instead of ``Tempo``,
``Name`` instead of ``Title``), so each field has a default name, aliases and an
override from the user's mapping; all are resolved against the live data source
schema once, before anything is written, and every misfit is reported at once.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..errors import SoundCloudSyncError

RICH_TEXT_LIMIT = 2000  # characters per rich text element
ARRAY_LIMIT = 100  # elements per array (rich text parts, relation ids, …)
URL_LIMIT = 2000
SELECT_LIMIT = 100  # characters in a select option name
KEY_NOTATIONS = ("standard", "camelot", "both")  # "A minor" | "8A" | "A minor (8A)"


@dataclass(frozen=True)
class Field:
    """One thing we write. ``group`` says when: track metadata, enrichment, at creation
    only, or the playlist relation. The first of ``types`` is what ``init`` creates."""

    key: str
    default: str
    types: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    required: bool = False
    group: str = "track"
    added_when_needed: bool = False  # the sync adds it itself: no warning while missing
    # Our value is the whole truth (djay's playlists of a track): an empty one clears
    # the property instead of being left out.
    clearable: bool = False


TRACK_FIELDS: tuple[Field, ...] = (
    Field("title", "Title", ("title",), ("Name",), required=True),
    Field("artist", "Artist Name", ("rich_text",), ("Artist", "Artists"), required=True),
    Field("album", "Album", ("rich_text",), ("Album Name",)),
    Field("genre", "Genre", ("select", "multi_select", "rich_text"), ("Genres",)),
    Field("url", "SoundCloud URL", ("url", "rich_text"), ("SoundCloud",), required=True),
    Field("soundcloud_id", "SoundCloud ID", ("number", "rich_text"), required=True),
    Field("isrc", "ISRC", ("rich_text",), ("Track ISRC",)),
    Field("spotify_id", "Spotify ID", ("rich_text",), ("Spotify Track ID",)),
    Field("spotify_url", "Spotify URL", ("url", "rich_text"), ("Spotify",)),
    Field(
        "playlists",
        "Playlists",
        ("relation",),
        ("Playlist", "Playlist Relation"),
        required=True,
        group="relation",
    ),
    Field("artwork_url", "Artwork", ("files",)),
    Field("availability", "Availability", ("select",), group="availability"),
    Field("added_at", "Added At", ("date",), ("DateAdded",), group="create"),
    Field("tempo", "Tempo", ("number",), ("BPM", "AverageBpm"), group="enrichment"),
    Field("key", "Key", ("rich_text", "select"), group="enrichment"),
    Field("camelot", "Camelot", ("rich_text", "select"), ("Camelot Key",), group="enrichment"),
    Field("key_confidence", "Audio Key Confidence", ("number",), group="enrichment"),
    Field(
        "duration_s",
        "Audio Duration (seconds)",
        ("number",),
        ("Duration (s)", "TotalTime"),
        group="enrichment",
    ),
    Field("lufs", "Audio LUFS Level", ("number",), ("Loudness Level",), group="enrichment"),
    Field(
        "analysis_version",
        "Audio Analysis Version",
        ("rich_text", "number", "select"),
        group="enrichment",
    ),
    Field("downloaded", "Downloaded", ("checkbox",), ("DL",), group="enrichment"),
    Field("aiff_path", "AIFF File Path", ("rich_text",), ("AIFF",), group="enrichment"),
    Field("wav_path", "WAV File Path", ("rich_text",), ("WAV",), group="enrichment"),
    Field("m4a_path", "M4A File Path", ("rich_text",), ("M4A",), group="enrichment"),
    Field("eagle_id", "Eagle File ID", ("rich_text",), ("Eagle ID", "EagleID"), group="enrichment"),
    Field(
        "processed_at",
        "Processing Timestamp",
        ("date",),
        ("Processed At",),
        group="enrichment",
    ),
)

# What djay Pro knows about a recording (see steps.djay); written by the djay sync.
DJAY_FIELDS: tuple[Field, ...] = (
    Field("djay_tempo", "djay BPM", ("number",), group="djay"),
    Field("djay_key", "djay Key", ("rich_text", "select"), group="djay"),
    Field("djay_camelot", "djay Camelot", ("rich_text", "select"), group="djay"),
    Field("djay_play_count", "djay Play Count", ("number",), ("Play Count (DJ)",), group="djay"),
    Field("djay_last_played", "djay Last Played", ("date",), ("Last Played (DJ)",), group="djay"),
    Field("djay_rating", "djay Rating", ("number",), group="djay"),
    Field("djay_color", "djay Colour", ("number", "rich_text", "select"), ("djay Color",),
          group="djay"),
    Field("djay_playlists", "djay Playlists", ("multi_select", "rich_text"), group="djay",
          clearable=True),  # a track taken out of every djay playlist: emptied
    # where Tempo's value came from: our analysis, or the DJ's correction in djay
    Field("tempo_source", "Tempo Source", ("select", "rich_text"), group="djay"),
)  # fmt: skip
TRACK_FIELDS = TRACK_FIELDS + DJAY_FIELDS

PLAYLIST_FIELDS: tuple[Field, ...] = (
    Field("name", "Name", ("title",), required=True),
    Field("url", "SoundCloud URL", ("url", "rich_text"), ("SoundCloud",), required=True),
    # added to the data source by the first Spotify playlist's sync when missing
    Field("spotify_url", "Spotify URL", ("url",), ("Spotify",), added_when_needed=True),
    Field("curator", "Curator", ("rich_text",)),
    Field("track_count", "Track Count", ("number",)),
    Field("last_synced", "Last Synced", ("date",), required=True),
    Field("sync_status", "Sync Status", ("select", "status"), required=True),
    Field("tracks", "Tracks", ("relation",), group="relation"),
)

SYNC_STATUSES = ("Synced", "Partial", "Failed")

# Availability is written by both writers: the sync (what SoundCloud says) and the
# write-back after download (what the download found), so it has a group of its own.
TRACK_GROUPS = ("track", "availability")
ENRICHMENT_GROUPS = ("enrichment", "availability")
AVAILABILITY = ("available", "preview-only", "geo-blocked", "drm", "gone")
_AVAILABLE_AFTER_DOWNLOAD = ("downloaded", "skipped-existing")


def availability_label(availability: str | None, download_status: str | None = None) -> str | None:
    """What the Availability property shows: the download's verdict when there is one
    (a track SoundCloud lists as playable can still turn out to be a preview), else
    SoundCloud's. A failed download says nothing about availability."""
    if download_status in _AVAILABLE_AFTER_DOWNLOAD:
        return "available"
    if download_status in AVAILABILITY:
        return download_status
    if availability == "ok":
        return "available"
    return availability if availability in AVAILABILITY else None


def format_key(key: str | None, camelot: str | None, notation: str) -> str | None:
    """The Key property in the chosen notation: "A minor", "8A" or "A minor (8A)"."""
    if notation == "camelot":
        return camelot or key
    if notation == "both" and key and camelot:
        return f"{key} ({camelot})"
    return key


class SchemaError(SoundCloudSyncError):
    """The live databases do not fit the mapping. Lists every problem in one message."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Notion schema does not fit ({len(self.problems)} problem(s); fix the "
            f"database or the property mapping, nothing was written):\n{lines}"
        )


@dataclass
class SchemaMapping:
    """User overrides: field key (or default property name) -> property name, or None
    to switch a field off. ``{"tracks": {"tempo": "BPM"}, "playlists": {...}}``."""

    tracks: dict[str, str | None] = field(default_factory=dict)
    playlists: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SchemaMapping:
        data = dict(data or {})
        unknown = set(data) - {"tracks", "playlists"}
        if unknown:
            raise ValueError(
                f"property mapping: unknown section(s) {sorted(unknown)}; use 'tracks'/'playlists'"
            )
        mapping = cls(dict(data.get("tracks") or {}), dict(data.get("playlists") or {}))
        mapping._check(TRACK_FIELDS, mapping.tracks, "tracks")
        mapping._check(PLAYLIST_FIELDS, mapping.playlists, "playlists")
        return mapping

    @classmethod
    def from_yaml(cls, path: str | Path) -> SchemaMapping:
        import yaml

        return cls.from_dict(yaml.safe_load(Path(path).read_text()) or {})

    @staticmethod
    def _check(fields: tuple[Field, ...], overrides: Mapping[str, Any], section: str) -> None:
        names = {f.key for f in fields} | {f.default for f in fields}
        bad = [k for k in overrides if k not in names]
        if bad:
            raise ValueError(
                f"property mapping [{section}]: unknown field(s) {bad}; "
                f"known: {sorted(f.key for f in fields)}"
            )

    def override(self, section: str, f: Field) -> tuple[bool, str | None]:
        table = self.tracks if section == "tracks" else self.playlists
        for k in (f.key, f.default):
            if k in table:
                return True, table[k]
        return False, None


@dataclass(frozen=True)
class Prop:
    """A field resolved against the live schema."""

    key: str
    name: str
    id: str
    type: str
    group: str
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    clearable: bool = False  # see `Field.clearable`


@dataclass
class ResolvedSchema:
    label: str
    data_source_id: str
    props: dict[str, Prop]
    warnings: list[str] = field(default_factory=list)

    def get(self, key: str) -> Prop | None:
        return self.props.get(key)

    def in_group(self, *groups: str) -> list[Prop]:
        return [p for p in self.props.values() if p.group in groups]


def resolve_schema(
    label: str,
    data_source_id: str,
    live_properties: Mapping[str, Mapping[str, Any]],
    fields: tuple[Field, ...],
    mapping: SchemaMapping,
    section: str,
) -> tuple[ResolvedSchema, list[str]]:
    """Match each field to a live property; return the result and the problems found."""
    problems: list[str] = []
    warnings: list[str] = []
    props: dict[str, Prop] = {}
    missing_djay: list[str] = []
    by_lower = {name.lower(): name for name in live_properties}
    for f in fields:
        explicit, override = mapping.override(section, f)
        if explicit and override is None:
            continue  # switched off by the user
        candidates = [override] if explicit else [f.default, *f.aliases]
        found: list[str] = []
        for cand in candidates:
            name = cand if cand in live_properties else by_lower.get(str(cand).lower())
            if name and name not in found:
                found.append(name)
        good = [n for n in found if live_properties[n].get("type") in f.types]
        wanted = " or ".join(f.types)
        if good:
            live = live_properties[good[0]]
            props[f.key] = Prop(
                f.key, good[0], str(live.get("id", good[0])), live["type"], f.group, live,
                clearable=f.clearable,
            )  # fmt: skip
        elif found:
            n = found[0]
            problems.append(
                f"{label}: property '{n}' ({f.key}) has type {live_properties[n].get('type')}, "
                f"expected {wanted}"
            )
        elif explicit or f.required:
            tried = ", ".join(f"'{c}'" for c in candidates)
            problems.append(f"{label}: property {tried} ({f.key}, {wanted}) is missing")
        elif f.group == "djay":
            missing_djay.append(f.default)
        elif not f.added_when_needed:
            warnings.append(f"{label}: no property for {f.key} ('{f.default}'); not written")
    if missing_djay:  # one line for the lot: a database made before djay was read
        names = ", ".join(f"'{n}'" for n in missing_djay)
        warnings.append(
            f"{label}: no properties for djay's facts ({names}); not written "
            "(`soundcloud-sync notion init` creates them in a new database)"
        )
    return ResolvedSchema(label, data_source_id, props, warnings), problems


# -- values ---------------------------------------------------------------------------


def _text_parts(text: str) -> list[dict[str, Any]]:
    text = text[: RICH_TEXT_LIMIT * ARRAY_LIMIT]
    return [
        {"type": "text", "text": {"content": text[i : i + RICH_TEXT_LIMIT]}}
        for i in range(0, len(text), RICH_TEXT_LIMIT)
    ]


def _select_name(value: Any) -> str:
    # Notion refuses commas in option names, and names longer than 100 characters
    return str(value).replace(",", " ").strip()[:SELECT_LIMIT]


def _date(value: Any) -> str | None:
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if len(text) == 10:
        return date.fromisoformat(text).isoformat()
    try:
        return _date(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _number(value: Any) -> int | float | None:
    try:
        num = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(num) or math.isinf(num):
        return None
    return int(num) if num.is_integer() else round(num, 6)


def plain_value(ptype: str, value: Any) -> Any:
    """Our value reduced to what Notion would store, or None when nothing to write."""
    if value is None:
        return None
    if ptype in ("title", "rich_text"):
        if isinstance(value, list | tuple):  # a list in a text property: "a, b"
            value = ", ".join(str(v) for v in value)
        text = str(value)[: RICH_TEXT_LIMIT * ARRAY_LIMIT]
        return text or None
    if ptype == "number":
        return _number(value)
    if ptype in ("select", "status"):
        name = _select_name(value)
        return name or None
    if ptype == "multi_select":
        values = value if isinstance(value, list | tuple) else [value]
        names = sorted({_select_name(v) for v in values if _select_name(v)})
        return names[:ARRAY_LIMIT] or None
    if ptype == "url":
        text = str(value).strip()
        return text if text and len(text) <= URL_LIMIT else None
    if ptype == "date":
        return _date(value)
    if ptype == "checkbox":
        return bool(value)
    if ptype == "files":
        urls = value if isinstance(value, list | tuple) else [value]
        kept = [str(u) for u in urls if u and len(str(u)) <= URL_LIMIT]
        return kept or None
    raise ValueError(f"cannot write Notion property type {ptype}")


def encode(ptype: str, plain: Any) -> dict[str, Any]:
    """The request body for one property from its plain value."""
    if ptype in ("title", "rich_text"):
        return {ptype: _text_parts(plain)}
    if ptype == "number":
        return {"number": plain}
    if ptype in ("select", "status"):
        return {ptype: {"name": plain}}
    if ptype == "multi_select":
        return {"multi_select": [{"name": n} for n in plain]}
    if ptype == "url":
        return {"url": plain}
    if ptype == "date":
        return {"date": {"start": plain}}
    if ptype == "checkbox":
        return {"checkbox": plain}
    if ptype == "files":
        return {
            "files": [
                {"type": "external", "name": f"artwork-{i + 1}", "external": {"url": u}}
                for i, u in enumerate(plain)
            ]
        }
    raise ValueError(f"cannot write Notion property type {ptype}")


def decode(prop_value: Mapping[str, Any] | None) -> Any:
    """A property as read from a page, reduced to the same plain form as ``plain_value``."""
    if not prop_value:
        return None
    ptype = prop_value.get("type")
    raw = prop_value.get(ptype) if ptype else None
    if ptype in ("title", "rich_text"):
        text = "".join(
            part.get("plain_text") or (part.get("text") or {}).get("content", "")
            for part in raw or []
        )
        return text or None
    if ptype == "number":
        return _number(raw)
    if ptype in ("select", "status"):
        return raw.get("name") if raw else None
    if ptype == "multi_select":
        return sorted(o["name"] for o in raw or []) or None
    if ptype == "url":
        return raw or None
    if ptype == "date":
        return _date(raw["start"]) if raw and raw.get("start") else None
    if ptype == "checkbox":
        return bool(raw)
    if ptype == "files":
        urls = [(f.get("external") or f.get("file") or {}).get("url") for f in raw or []]
        return [u for u in urls if u] or None
    if ptype == "relation":
        return [r["id"] for r in raw or []]
    return raw


def owned_values(
    schema: ResolvedSchema, row: Mapping[str, Any], groups: tuple[str, ...]
) -> dict[str, Any]:
    """Plain values of the properties we own in ``groups`` (None values are never sent:
    the sync fills in, it does not erase what a person typed; except a clearable
    property given an empty value, which is sent empty)."""
    values: dict[str, Any] = {}
    for prop in schema.in_group(*groups):
        raw = row.get(prop.key)
        if prop.key == "soundcloud_id" and prop.type == "rich_text" and raw is not None:
            raw = str(raw)
        value = plain_value(prop.type, raw)
        if value is None and prop.clearable and raw is not None:
            value = EMPTY.get(prop.type)
        if value is not None:
            values[prop.name] = value
    return values


# What an emptied property is written as (`Field.clearable`), by type.
EMPTY: dict[str, Any] = {"multi_select": [], "rich_text": ""}


def values_hash(values: Mapping[str, Any]) -> str:
    """Stable fingerprint of owned values: equal hash, nothing to write."""
    blob = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def encode_all(schema: ResolvedSchema, values: Mapping[str, Any]) -> dict[str, Any]:
    by_name = {p.name: p for p in schema.props.values()}
    return {name: encode(by_name[name].type, v) for name, v in values.items()}


def differs(schema: ResolvedSchema, values: Mapping[str, Any], page: Mapping[str, Any]) -> bool:
    """True when the page's current values differ from ``values`` (as read back)."""
    props = page.get("properties") or {}
    return any(
        decode(props.get(name)) != (None if v in ("", []) else v) for name, v in values.items()
    )
