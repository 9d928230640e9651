"""A local stand-in for the Notion API (version 2025-09-03), reached by the real
notion-client through ``base_url``.

It behaves as ``external-apis.md`` describes: databases holding data sources,
schemas with property ids, Notion-like ``validation_error`` messages (unknown
property, wrong type, 2000-character rich text, 100-element arrays), query filters
(text/url/number/checkbox/select/relation/date, ``or``/``and`` nested two levels,
timestamps) with sorts and cursors, two-way relations kept in sync on both sides,
page reads that stop relations at 25 entries (the rest through the paginated
property endpoint), a token bucket answering 429 ``rate_limited`` with an integer
``Retry-After``, and faults on demand: random 429s, 5xx on any method, slow answers,
and a create that commits and then answers 502 (or hangs).

State lives in this process; a sync under test may run in a child process (it only
talks HTTP), and can be killed at any moment.
"""

from __future__ import annotations

import json
import math
import random
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from soundcloud_sync_tests.emulators.base import BackgroundServer, Meeting

RICH_TEXT_LIMIT = 2000
ARRAY_LIMIT = 100
RELATION_PAGE_LIMIT = 25
PAYLOAD_LIMIT = 500 * 1024
READ_ONLY = {
    "formula",
    "rollup",
    "created_time",
    "last_edited_time",
    "created_by",
    "last_edited_by",
    "unique_id",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def _validation(message: str) -> ApiError:
    return ApiError(400, "validation_error", message)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(ts * 1000) % 1000:03d}Z"
    )


def _parse_time(text: str) -> float:
    text = text.strip()
    if len(text) == 10:
        text += "T00:00:00+00:00"
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _rich(text: str) -> dict[str, Any]:
    return {
        "type": "text",
        "text": {"content": text, "link": None},
        "annotations": {
            "bold": False,
            "italic": False,
            "strikethrough": False,
            "underline": False,
            "code": False,
            "color": "default",
        },
        "plain_text": text,
        "href": None,
    }


def _prop_id() -> str:
    """Notion's property ids are short and often URL-encoded (``%3AUPp``)."""
    core = secrets.token_urlsafe(3).replace("-", "x").replace("_", "y")
    return quote(secrets.choice([":", "|", "", "~"]) + core, safe="")


def _same_id(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and unquote(a) == unquote(b)


@dataclass
class Faults:
    """Probabilities (0..1) of injected faults, drawn per request."""

    rate_limited: float = 0.0  # answer 429 without doing anything
    retry_after: int = 1  # Retry-After of injected 429s
    server_error: float = 0.0  # 500/502/503/504 without doing anything, any method
    commit_then_502: float = 0.0  # POST /v1/pages: commit, then answer 502
    slow: float = 0.0  # answer after ``slow_seconds``
    slow_seconds: float = 0.5


@dataclass
class Scripted:
    method: str
    route: str  # template, e.g. "/v1/pages"
    kind: str  # "429" | "500" | "502" | "503" | "504" | "commit_then_502" | "commit_then_hang"
    times: int = 1
    hang_seconds: float = 3.0


@dataclass
class Page:
    id: str
    data_source_id: str
    created: float
    edited: float
    values: dict[str, Any] = field(default_factory=dict)  # property id -> stored value
    in_trash: bool = False


class NotionEmulator(BackgroundServer):
    """Thread-safe in-memory Notion with an HTTP front. Use as a context manager."""

    def __init__(
        self,
        token: str = "secret_emulator_token",
        *,
        rate: float = 3.0,
        burst: float | None = None,
        seed: int = 0,
    ) -> None:
        self.token = token
        self.rate = rate
        self.burst = burst if burst is not None else max(2.0, rate)
        self.faults = Faults()
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.databases: dict[str, dict[str, Any]] = {}
        self.data_sources: dict[str, dict[str, Any]] = {}
        self.pages: dict[str, Page] = {}
        self.counts: Counter[tuple[str, str]] = Counter()
        self.statuses: Counter[int] = Counter()
        self.log: list[tuple[float, str, str, int]] = []
        self.scripted: list[Scripted] = []
        self.committed_then_failed: list[str] = []  # page ids created whose answer was lost
        self.hanging = threading.Event()  # set while a commit_then_hang answer is held
        self._tokens = self.burst
        self._refilled = time.monotonic()
        self._bucket_lock = threading.Lock()
        self._clock = 0.0
        self.meetings: dict[str, Meeting] = {}  # requests a test holds (hold_until_met)

    # -- server -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> NotionEmulator:
        emulator = self

        class Handler(_Handler):
            emu = emulator

        return self._serve(_Server(("127.0.0.1", port), Handler), "notion-emulator")

    # -- counters ---------------------------------------------------------------------

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()
            self.statuses.clear()
            self.log.clear()

    @property
    def total_requests(self) -> int:
        with self.lock:
            return sum(self.counts.values())

    def count(self, method: str, route: str | None = None) -> int:
        with self.lock:
            return sum(n for (m, r), n in self.counts.items() if m == method and route in (None, r))

    @property
    def writes(self) -> int:
        """Requests that change state (answered or not)."""
        return (
            self.count("POST", "/v1/pages")
            + self.count("PATCH")
            + self.count("POST", "/v1/databases")
        )

    def hold_until_met(
        self,
        method: str,
        route: str,
        count: int,
        within_s: float,
        key: Callable[[str], str | None] | None = None,
    ) -> Meeting:
        """Hold ``method route`` requests (after the rate limit let them in) as `Meeting`
        says; ``key`` names the client of a request from its JSON body (None: not held)."""
        meeting = self.meetings[f"{method} {route}"] = Meeting(count, within_s, key)
        return meeting

    def script(self, method: str, route: str, kind: str, times: int = 1, **kw: Any) -> None:
        with self.lock:
            self.scripted.append(Scripted(method, route, kind, times, **kw))

    # -- rate limit -----------------------------------------------------------------------

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        with self._bucket_lock:
            self.rate = rate
            self.burst = burst if burst is not None else max(2.0, rate)
            self._tokens = self.burst
            self._refilled = time.monotonic()

    def _take_token(self) -> int | None:
        """None when allowed, else the Retry-After seconds."""
        with self._bucket_lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            return max(1, math.ceil((1 - self._tokens) / self.rate))

    # -- building state directly (seeding, inspection) -------------------------------------

    def _now(self) -> float:
        with self.lock:  # strictly increasing, so sorts by time are stable
            self._clock = max(time.time(), self._clock + 0.001)
            return self._clock

    def create_database(
        self,
        title: str,
        properties: Mapping[str, Mapping[str, Any]],
        parent_page_id: str | None = None,
    ) -> tuple[str, str]:
        """Returns (database_id, data_source_id)."""
        with self.lock:
            db_id, ds_id = str(uuid.uuid4()), str(uuid.uuid4())
            self.databases[db_id] = {
                "id": db_id,
                "title": title,
                "parent": {"type": "page_id", "page_id": parent_page_id or str(uuid.uuid4())},
                "data_sources": [ds_id],
                "created": self._now(),
            }
            self.data_sources[ds_id] = {
                "id": ds_id,
                "database_id": db_id,
                "name": title,
                "properties": {},
            }
            for name, spec in properties.items():
                self._add_property(ds_id, name, spec)
            return db_id, ds_id

    def _add_property(self, ds_id: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        ds = self.data_sources[ds_id]
        ptype = spec.get("type") or next(k for k in spec if k not in ("name", "id", "type"))
        if ptype == "title" and any(p["type"] == "title" for p in ds["properties"].values()):
            raise _validation("A data source can only have one title property.")
        pid = "title" if ptype == "title" else _prop_id()
        config = dict(spec.get(ptype) or {})
        if ptype in ("select", "multi_select", "status"):
            config = {"options": [dict(o) for o in config.get("options", [])]}
        prop = {"id": pid, "name": name, "type": ptype, ptype: config}
        ds["properties"][name] = prop
        if ptype == "relation":
            target = config.get("data_source_id")
            if target not in self.data_sources:
                raise _validation(f"Could not find data source with ID: {target}")
            kind = config.get("type") or ("dual_property" if "dual_property" in config else None)
            config["type"] = kind or "single_property"
            if config["type"] == "dual_property":
                dual = config.get("dual_property") or {}
                other_name = dual.get("synced_property_name") or (
                    f"Related to {self.databases[ds['database_id']]['title']} ({name})"
                )
                other = self.data_sources[target]["properties"].get(other_name)
                if other is None:
                    other = {
                        "id": _prop_id(),
                        "name": other_name,
                        "type": "relation",
                        "relation": {
                            "data_source_id": ds_id,
                            "database_id": ds["database_id"],
                            "type": "dual_property",
                            "dual_property": {
                                "synced_property_name": name,
                                "synced_property_id": pid,
                            },
                        },
                    }
                    self.data_sources[target]["properties"][other_name] = other
                config["dual_property"] = {
                    "synced_property_name": other_name,
                    "synced_property_id": other["id"],
                }
            else:
                config["single_property"] = {}
            config["database_id"] = self.data_sources[target]["database_id"]
        return prop

    def relate(
        self, ds_a: str, name_a: str, ds_b: str, name_b: str
    ) -> None:  # a two-way relation between two existing data sources
        with self.lock:
            self._add_property(
                ds_a,
                name_a,
                {
                    "relation": {
                        "data_source_id": ds_b,
                        "type": "dual_property",
                        "dual_property": {"synced_property_name": name_b},
                    }
                },
            )

    def add_page(self, ds_id: str, values: Mapping[str, Any]) -> str:
        """Create a page directly (as a person would): plain values by property name."""
        with self.lock:
            props = {}
            schema = self.data_sources[ds_id]["properties"]
            for name, value in values.items():
                props[name] = _plain_to_write(schema[name]["type"], value)
            return self._create_page(ds_id, props)

    def plain(self, page_id: str) -> dict[str, Any]:
        """Every property of a page as a plain value (relations complete)."""
        with self.lock:
            page = self.pages[page_id]
            schema = self.data_sources[page.data_source_id]["properties"]
            return {
                name: _stored_to_plain(prop["type"], page.values.get(prop["id"]))
                for name, prop in schema.items()
            }

    def pages_in(self, ds_id: str) -> list[str]:
        with self.lock:
            return [
                p.id
                for p in sorted(self.pages.values(), key=lambda p: p.created)
                if p.data_source_id == ds_id and not p.in_trash
            ]

    def rename_property(self, ds_id: str, old: str, new: str) -> None:
        with self.lock:
            props = self.data_sources[ds_id]["properties"]
            prop = props.pop(old)
            prop["name"] = new
            props[new] = prop
            self._fix_dual_names(ds_id, prop)

    def _fix_dual_names(self, ds_id: str, prop: dict[str, Any]) -> None:
        if prop["type"] != "relation" or prop["relation"].get("type") != "dual_property":
            return
        target = prop["relation"]["data_source_id"]
        for other in self.data_sources[target]["properties"].values():
            if (
                other["type"] == "relation"
                and other["relation"].get("dual_property", {}).get("synced_property_id")
                == prop["id"]
            ):
                other["relation"]["dual_property"]["synced_property_name"] = prop["name"]

    # -- request dispatch ------------------------------------------------------------------

    _ROUTES = [
        ("GET", re.compile(r"^/v1/databases/([^/]+)$"), "/v1/databases/{id}", "_get_database"),
        ("POST", re.compile(r"^/v1/databases$"), "/v1/databases", "_post_database"),
        ("GET", re.compile(r"^/v1/data_sources/([^/]+)$"), "/v1/data_sources/{id}", "_get_ds"),
        ("PATCH", re.compile(r"^/v1/data_sources/([^/]+)$"), "/v1/data_sources/{id}", "_patch_ds"),
        (
            "POST",
            re.compile(r"^/v1/data_sources/([^/]+)/query$"),
            "/v1/data_sources/{id}/query",
            "_query",
        ),
        ("POST", re.compile(r"^/v1/pages$"), "/v1/pages", "_post_page"),
        ("GET", re.compile(r"^/v1/pages/([^/]+)$"), "/v1/pages/{id}", "_get_page"),
        ("PATCH", re.compile(r"^/v1/pages/([^/]+)$"), "/v1/pages/{id}", "_patch_page"),
        (
            "GET",
            re.compile(r"^/v1/pages/([^/]+)/properties/([^/]+)$"),
            "/v1/pages/{id}/properties/{property_id}",
            "_get_page_property",
        ),
    ]

    def route_of(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]]:
        for m, pattern, template, handler in self._ROUTES:
            match = pattern.match(path)
            if match and m == method:
                return template, getattr(self, handler), match.groups()
        raise ApiError(400, "invalid_request_url", f"Invalid request URL: {method} {path}")

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes, float]:
        """One request -> (status, headers, body, seconds to wait before answering)."""
        arrived_at = time.time()
        split = urlsplit(raw_path)
        path, query = split.path, parse_qs(split.query)
        template = path
        try:
            template, handler, args = self.route_of(method, path)
        except ApiError as err:
            return self._record(arrived_at, method, template, err)
        try:
            if headers.get("authorization") != f"Bearer {self.token}":
                raise ApiError(401, "unauthorized", "API token is invalid.")
            if not headers.get("notion-version"):
                raise ApiError(400, "missing_version", "Notion-Version header failed validation.")
            retry_after = self._take_token()
            if retry_after is not None:
                raise ApiError(
                    429,
                    "rate_limited",
                    "You have been rate limited. Please try again in a few minutes.",
                    {"Retry-After": str(retry_after)},
                )
            if (meeting := self.meetings.get(f"{method} {template}")) is not None:
                meeting.wait(body.decode(errors="replace"), arrived_at)
            fault, delay = self._draw_fault(method, template)
            if fault in ("429",):
                raise ApiError(
                    429,
                    "rate_limited",
                    "You have been rate limited. Please try again in a few minutes.",
                    {"Retry-After": str(self.faults.retry_after)},
                )
            if fault in ("500", "502", "503", "504"):
                return self._record(arrived_at, method, template, _server_error(int(fault)), delay)
            if len(body) > PAYLOAD_LIMIT:
                raise ApiError(413, "validation_error", "Request body too large.")
            try:
                payload = json.loads(body) if body else {}
            except ValueError:
                raise ApiError(400, "invalid_json", "Error parsing JSON body.") from None
            with self.lock:
                answer = handler(*args, payload=payload, query=query)
            if fault in ("commit_then_502", "commit_then_hang"):
                with self.lock:
                    if isinstance(answer, dict) and answer.get("object") == "page":
                        self.committed_then_failed.append(answer["id"])
                if fault == "commit_then_hang":
                    self.hanging.set()
                return self._record(arrived_at, method, template, _server_error(502), delay)
            return self._record(arrived_at, method, template, answer, delay)
        except ApiError as err:
            return self._record(arrived_at, method, template, err)

    def _record(
        self, arrived_at: float, method: str, template: str, answer: Any, delay: float = 0.0
    ) -> tuple[int, dict[str, str], bytes, float]:
        if isinstance(answer, ApiError):
            status, extra = answer.status, answer.headers
            if answer.code == "bad_gateway":  # proxies answer HTML, not Notion JSON
                data = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                extra = {**extra, "Content-Type": "text/html"}
            else:
                data = json.dumps(
                    {
                        "object": "error",
                        "status": status,
                        "code": answer.code,
                        "message": answer.message,
                        "request_id": str(uuid.uuid4()),
                    }
                ).encode()
        else:
            status, extra, data = 200, {}, json.dumps(answer).encode()
        with self.lock:
            self.counts[(method, template)] += 1
            self.statuses[status] += 1
            # when the request arrived, as Notion counts it at its door: not when the
            # answer left (a held or slow answer would look like a later request)
            self.log.append((arrived_at, method, template, status))
        return status, extra, data, delay

    def _draw_fault(self, method: str, template: str) -> tuple[str | None, float]:
        with self.lock:
            for item in self.scripted:
                if item.method == method and item.route == template and item.times > 0:
                    item.times -= 1
                    delay = item.hang_seconds if item.kind == "commit_then_hang" else 0.0
                    return item.kind, delay
            f, r = self.faults, self.random
            delay = f.slow_seconds if f.slow and r.random() < f.slow else 0.0
            if f.rate_limited and r.random() < f.rate_limited:
                return "429", 0.0
            if f.server_error and r.random() < f.server_error:
                return r.choice(["500", "502", "503", "504"]), delay
            if (
                f.commit_then_502
                and method == "POST"
                and template == "/v1/pages"
                and r.random() < f.commit_then_502
            ):
                return "commit_then_502", delay
            return None, delay

    # -- objects ---------------------------------------------------------------------------

    def _database_json(self, db: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "object": "database",
            "id": db["id"],
            "title": [_rich(db["title"])],
            "parent": db["parent"],
            "is_inline": False,
            "in_trash": False,
            "created_time": _iso(db["created"]),
            "data_sources": [
                {"id": ds, "name": self.data_sources[ds]["name"]} for ds in db["data_sources"]
            ],
            "url": f"https://www.notion.so/{db['id'].replace('-', '')}",
        }

    def _ds_json(self, ds: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "object": "data_source",
            "id": ds["id"],
            "title": [_rich(ds["name"])],
            "parent": {"type": "database_id", "database_id": ds["database_id"]},
            "properties": json.loads(json.dumps(ds["properties"])),
        }

    def _page_json(self, page: Page, only: set[str] | None = None) -> dict[str, Any]:
        ds = self.data_sources[page.data_source_id]
        props: dict[str, Any] = {}
        for name, prop in ds["properties"].items():
            if (
                only is not None
                and name not in only
                and not any(_same_id(prop["id"], o) for o in only)
            ):
                continue
            props[name] = self._value_json(page, prop)
        return {
            "object": "page",
            "id": page.id,
            "created_time": _iso(page.created),
            "last_edited_time": _iso(page.edited),
            "created_by": {"object": "user", "id": "emulator-bot"},
            "last_edited_by": {"object": "user", "id": "emulator-bot"},
            "cover": None,
            "icon": None,
            "parent": {
                "type": "data_source_id",
                "data_source_id": page.data_source_id,
                "database_id": ds["database_id"],
            },
            "archived": page.in_trash,
            "in_trash": page.in_trash,
            "properties": props,
            "url": f"https://www.notion.so/{page.id.replace('-', '')}",
            "public_url": None,
        }

    def _value_json(self, page: Page, prop: Mapping[str, Any]) -> dict[str, Any]:
        ptype, pid = prop["type"], prop["id"]
        stored = page.values.get(pid)
        out: dict[str, Any] = {"id": pid, "type": ptype}
        if ptype in ("title", "rich_text"):
            out[ptype] = [_rich(t) for t in stored or []]
        elif ptype == "relation":
            ids = stored or []
            out["relation"] = [{"id": i} for i in ids[:RELATION_PAGE_LIMIT]]
            out["has_more"] = len(ids) > RELATION_PAGE_LIMIT
        elif ptype in ("multi_select", "files"):
            out[ptype] = list(stored or [])
        elif ptype == "checkbox":
            out[ptype] = bool(stored)
        elif ptype == "formula":
            out[ptype] = {"type": "string", "string": None}
        elif ptype == "created_time":
            out[ptype] = _iso(page.created)
        elif ptype == "last_edited_time":
            out[ptype] = _iso(page.edited)
        elif ptype in ("created_by", "last_edited_by"):
            out[ptype] = {"object": "user", "id": "emulator-bot"}
        else:
            out[ptype] = stored
        return out

    # -- handlers ----------------------------------------------------------------------------

    def _db(self, db_id: str) -> dict[str, Any]:
        db = self.databases.get(db_id)
        if db is None:
            raise ApiError(
                404,
                "object_not_found",
                f"Could not find database with ID: {db_id}. Make sure the relevant pages and "
                "databases are shared with your integration.",
            )
        return db

    def _ds(self, ds_id: str) -> dict[str, Any]:
        ds = self.data_sources.get(ds_id)
        if ds is None:
            raise ApiError(
                404,
                "object_not_found",
                f"Could not find data_source with ID: {ds_id}. Make sure the relevant pages and "
                "databases are shared with your integration.",
            )
        return ds

    def _page(self, page_id: str) -> Page:
        page = self.pages.get(page_id)
        if page is None:
            raise ApiError(
                404,
                "object_not_found",
                f"Could not find page with ID: {page_id}. Make sure the relevant pages and "
                "databases are shared with your integration.",
            )
        return page

    def _get_database(self, db_id: str, **_: Any) -> dict[str, Any]:
        return self._database_json(self._db(db_id))

    def _post_database(self, payload: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        parent = payload.get("parent") or {}
        if parent.get("type") != "page_id" or not parent.get("page_id"):
            raise _validation("body failed validation: body.parent.page_id should be defined.")
        title = "".join(
            (t.get("text") or {}).get("content", "") for t in payload.get("title") or []
        )
        props = (payload.get("initial_data_source") or {}).get("properties") or {}
        if not any((s.get("type") or next(iter(s), None)) == "title" for s in props.values()):
            props = {"Name": {"title": {}}, **props}
        db_id, _ds = self.create_database(title or "Untitled", props, parent["page_id"])
        return self._database_json(self.databases[db_id])

    def _get_ds(self, ds_id: str, **_: Any) -> dict[str, Any]:
        return self._ds_json(self._ds(ds_id))

    def _patch_ds(self, ds_id: str, payload: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        ds = self._ds(ds_id)
        for key, spec in (payload.get("properties") or {}).items():
            prop = ds["properties"].get(key) or next(
                (p for p in ds["properties"].values() if _same_id(p["id"], key)), None
            )
            if spec is None:
                if prop is not None:
                    ds["properties"].pop(prop["name"])
                continue
            if prop is None:
                self._add_property(ds_id, key, spec)
            elif spec.get("name") and spec["name"] != prop["name"]:
                self.rename_property(ds_id, prop["name"], spec["name"])
        return self._ds_json(ds)

    def _get_page(self, page_id: str, query: Mapping[str, list[str]], **_: Any) -> dict[str, Any]:
        only = set(query.get("filter_properties", [])) or None
        return self._page_json(self._page(page_id), only)

    def _get_page_property(
        self, page_id: str, prop_id: str, query: Mapping[str, list[str]], **_: Any
    ) -> dict[str, Any]:
        page = self._page(page_id)
        schema = self.data_sources[page.data_source_id]["properties"]
        prop = next((p for p in schema.values() if _same_id(p["id"], prop_id)), None)
        if prop is None:
            raise ApiError(404, "object_not_found", f"Could not find property with ID: {prop_id}")
        size = int((query.get("page_size") or ["100"])[0])
        if size > 100:
            raise _validation(f"page_size should be ≤ `100`, instead was `{size}`.")
        start = int((query.get("start_cursor") or ["0"])[0] or 0)
        if prop["type"] not in ("relation", "title", "rich_text"):
            item = self._value_json(page, prop)
            return {"object": "property_item", **item}
        stored = page.values.get(prop["id"]) or []
        chunk = stored[start : start + size]
        if prop["type"] == "relation":
            results = [
                {
                    "object": "property_item",
                    "id": prop["id"],
                    "type": "relation",
                    "relation": {"id": i},
                }
                for i in chunk
            ]
        else:
            results = [
                {
                    "object": "property_item",
                    "id": prop["id"],
                    "type": prop["type"],
                    prop["type"]: _rich(t),
                }
                for t in chunk
            ]
        more = start + size < len(stored)
        return {
            "object": "list",
            "results": results,
            "next_cursor": str(start + size) if more else None,
            "has_more": more,
            "type": "property_item",
            "property_item": {
                "id": prop["id"],
                "next_url": None,
                "type": prop["type"],
                prop["type"]: {},
            },
        }

    def _post_page(self, payload: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        parent = payload.get("parent") or {}
        ds_id = parent.get("data_source_id")
        if not ds_id and parent.get("database_id"):
            ds_id = self._db(parent["database_id"])["data_sources"][0]
        if not ds_id:
            raise _validation(
                "body failed validation: body.parent.data_source_id should be defined."
            )
        self._ds(ds_id)
        page_id = self._create_page(ds_id, payload.get("properties") or {})
        return self._page_json(self.pages[page_id])

    def _create_page(self, ds_id: str, properties: Mapping[str, Any]) -> str:
        values = self._validate(ds_id, properties)
        now = self._now()
        page = Page(str(uuid.uuid4()), ds_id, now, now)
        self.pages[page.id] = page
        self._apply(page, values)
        return page.id

    def _patch_page(self, page_id: str, payload: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        page = self._page(page_id)
        if page.in_trash and payload.get("in_trash") is not False:
            raise _validation(
                "Can't edit block that is archived. You must unarchive the block before editing."
            )
        values = self._validate(page.data_source_id, payload.get("properties") or {})
        if "in_trash" in payload or "archived" in payload:
            page.in_trash = bool(payload.get("in_trash", payload.get("archived")))
        self._apply(page, values)
        page.edited = self._now()
        return self._page_json(page)

    def _apply(self, page: Page, values: Mapping[str, Any]) -> None:
        schema = self.data_sources[page.data_source_id]["properties"]
        by_id = {p["id"]: p for p in schema.values()}
        for pid, value in values.items():
            prop = by_id[pid]
            if prop["type"] == "relation":
                old = list(page.values.get(pid) or [])
                page.values[pid] = value
                self._sync_dual(page, prop, old, value)
            else:
                page.values[pid] = value

    def _sync_dual(
        self, page: Page, prop: Mapping[str, Any], old: list[str], new: list[str]
    ) -> None:
        config = prop["relation"]
        if config.get("type") != "dual_property":
            return
        other_pid = config["dual_property"]["synced_property_id"]
        now = self._now()
        for target_id in set(old) - set(new):
            target = self.pages.get(target_id)
            if target is not None:
                target.values[other_pid] = [
                    i for i in target.values.get(other_pid) or [] if i != page.id
                ]
                target.edited = now
        for target_id in new:
            target = self.pages.get(target_id)
            if target is not None and page.id not in (target.values.get(other_pid) or []):
                target.values[other_pid] = [*(target.values.get(other_pid) or []), page.id]
                target.edited = now

    # -- validation ----------------------------------------------------------------------

    def _validate(self, ds_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(properties, Mapping):
            raise _validation("body failed validation: body.properties should be an object.")
        schema = self.data_sources[ds_id]["properties"]
        by_id = {unquote(p["id"]): p for p in schema.values()}
        out: dict[str, Any] = {}
        for key, value in properties.items():
            prop = schema.get(key) or by_id.get(unquote(key))
            if prop is None:
                raise _validation(f"Could not find property with name or id: {key}")
            out[prop["id"]] = self._validate_value(ds_id, prop, value)
        return out

    def _validate_value(self, ds_id: str, prop: Mapping[str, Any], value: Any) -> Any:
        name, ptype = prop["name"], prop["type"]
        where = f"body.properties.{name}"
        if ptype in READ_ONLY:
            raise _validation(f"{name} is a {ptype} property and cannot be updated.")
        if not isinstance(value, Mapping) or ptype not in value:
            given = (
                next((k for k in value if k != "type"), None)
                if isinstance(value, Mapping)
                else None
            )
            raise _validation(
                f"{name} is expected to be {ptype}." + (f" Got {given}." if given else "")
            )
        raw = value[ptype]
        if ptype in ("title", "rich_text"):
            if not isinstance(raw, list):
                raise _validation(f"body failed validation: {where}.{ptype} should be an array.")
            if len(raw) > ARRAY_LIMIT:
                raise _validation(
                    f"body failed validation: {where}.{ptype}.length should be ≤ `{ARRAY_LIMIT}`, "
                    f"instead was `{len(raw)}`."
                )
            texts = []
            for i, part in enumerate(raw):
                content = ((part or {}).get("text") or {}).get("content")
                if not isinstance(content, str):
                    raise _validation(
                        f"body failed validation: {where}.{ptype}[{i}].text.content should be a string."
                    )
                if len(content) > RICH_TEXT_LIMIT:
                    raise _validation(
                        f"body failed validation: {where}.{ptype}[{i}].text.content.length should be "
                        f"≤ `{RICH_TEXT_LIMIT}`, instead was `{len(content)}`."
                    )
                texts.append(content)
            return texts
        if ptype == "number":
            if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
                raise _validation(
                    f"body failed validation: {where}.number should be a number or `null`, "
                    f"instead was `{json.dumps(raw)}`."
                )
            return raw
        if ptype in ("select", "status"):
            if raw is None:
                return None
            option = raw.get("name") if isinstance(raw, Mapping) else None
            if not isinstance(option, str):
                raise _validation(
                    f"body failed validation: {where}.{ptype}.name should be a string."
                )
            return self._option(ds_id, prop, option)
        if ptype == "multi_select":
            if not isinstance(raw, list):
                raise _validation(
                    f"body failed validation: {where}.multi_select should be an array."
                )
            if len(raw) > ARRAY_LIMIT:
                raise _validation(
                    f"body failed validation: {where}.multi_select.length should be ≤ `{ARRAY_LIMIT}`, "
                    f"instead was `{len(raw)}`."
                )
            return [self._option(ds_id, prop, (o or {}).get("name")) for o in raw]
        if ptype == "url":
            if raw is not None and not isinstance(raw, str):
                raise _validation(
                    f"body failed validation: {where}.url should be a string or `null`."
                )
            if raw is not None and len(raw) > 2000:
                raise _validation(
                    f"body failed validation: {where}.url.length should be ≤ `2000`, "
                    f"instead was `{len(raw)}`."
                )
            return raw
        if ptype == "checkbox":
            if not isinstance(raw, bool):
                raise _validation(f"body failed validation: {where}.checkbox should be a boolean.")
            return raw
        if ptype == "date":
            if raw is None:
                return None
            start = raw.get("start") if isinstance(raw, Mapping) else None
            try:
                _parse_time(str(start))
            except (ValueError, TypeError):
                raise _validation(
                    f"body failed validation: {where}.date.start should be a valid ISO 8601 date "
                    f"string, instead was `{json.dumps(start)}`."
                ) from None
            return {"start": _normalize_date(start), "end": raw.get("end"), "time_zone": None}
        if ptype == "files":
            if not isinstance(raw, list) or len(raw) > ARRAY_LIMIT:
                raise _validation(
                    f"body failed validation: {where}.files should be an array of ≤ 100."
                )
            files = []
            for f in raw:
                url = ((f or {}).get("external") or {}).get("url")
                if not isinstance(url, str):
                    raise _validation(
                        f"body failed validation: {where}.files[].external.url should be defined."
                    )
                files.append(
                    {
                        "name": f.get("name") or url[:100],
                        "type": "external",
                        "external": {"url": url},
                    }
                )
            return files
        if ptype == "relation":
            if not isinstance(raw, list):
                raise _validation(f"body failed validation: {where}.relation should be an array.")
            if len(raw) > ARRAY_LIMIT:
                raise _validation(
                    f"body failed validation: {where}.relation.length should be ≤ `{ARRAY_LIMIT}`, "
                    f"instead was `{len(raw)}`."
                )
            target = prop["relation"]["data_source_id"]
            ids: list[str] = []
            for item in raw:
                rid = (item or {}).get("id")
                page = self.pages.get(rid or "")
                if page is None or page.data_source_id != target:
                    raise _validation(
                        f"Could not find page with ID: {rid} in the related data source of {name}."
                    )
                if rid not in ids:
                    ids.append(rid)
            return ids
        raise _validation(f"{name}: writing {ptype} properties is not supported by this emulator.")

    def _option(self, ds_id: str, prop: Mapping[str, Any], option: Any) -> Any:
        if not isinstance(option, str) or not option:
            raise _validation(
                f"body failed validation: {prop['name']} option name should be a string."
            )
        if "," in option:
            raise _validation(f"Invalid select option, commas not allowed: {option}")
        if len(option) > 100:
            raise _validation(f"Select option name is longer than 100 characters: {option[:20]}…")
        options = prop[prop["type"]].setdefault("options", [])
        for o in options:
            if o["name"] == option:
                return dict(o)
        new = {"id": _prop_id(), "name": option, "color": "default"}
        options.append(new)
        return dict(new)

    # -- query -----------------------------------------------------------------------------

    def _query(
        self, ds_id: str, payload: Mapping[str, Any], query: Mapping[str, list[str]]
    ) -> dict:
        ds = self._ds(ds_id)
        size = payload.get("page_size", 100)
        if not isinstance(size, int) or size < 1 or size > 100:
            raise _validation(
                f"body failed validation: body.page_size should be ≤ `100`, instead was `{size}`."
            )
        flt = payload.get("filter")
        if flt is not None:
            self._check_filter(ds, flt, 0, "body.filter")
        pages = [p for p in self.pages.values() if p.data_source_id == ds_id and not p.in_trash]
        if flt is not None:
            predicate = self._compile(ds, flt)
            pages = [p for p in pages if predicate(p)]
        pages = self._sort(ds, pages, payload.get("sorts"))
        start = 0
        cursor = payload.get("start_cursor")
        if cursor:
            ids = [p.id for p in pages]
            if cursor not in ids:
                raise _validation(f"start_cursor provided is invalid: {cursor}")
            start = ids.index(cursor)
        chunk = pages[start : start + size]
        more = start + size < len(pages)
        only = set(query.get("filter_properties", [])) or None
        return {
            "object": "list",
            "results": [self._page_json(p, only) for p in chunk],
            "next_cursor": pages[start + size].id if more else None,
            "has_more": more,
            "type": "page_or_data_source",
            "page_or_data_source": {},
        }

    def _sort(self, ds: Mapping[str, Any], pages: list[Page], sorts: Any) -> list[Page]:
        # unsure how Notion orders unsorted results: newest first here; callers must not care
        ordered = sorted(pages, key=lambda p: p.created, reverse=True)
        for spec in reversed(sorts or []):
            desc = spec.get("direction") == "descending"
            if "timestamp" in spec:
                attr = "created" if spec["timestamp"] == "created_time" else "edited"
                ordered.sort(key=lambda p, a=attr: getattr(p, a), reverse=desc)
            else:
                prop = self._find_prop(ds, spec.get("property"), "body.sorts")
                ordered.sort(
                    key=lambda p, pr=prop: _sort_key(
                        _stored_to_plain(pr["type"], p.values.get(pr["id"]))
                    ),
                    reverse=desc,
                )
        return ordered

    def _find_prop(self, ds: Mapping[str, Any], key: Any, where: str) -> dict[str, Any]:
        prop = ds["properties"].get(key) or next(
            (p for p in ds["properties"].values() if _same_id(p["id"], key)), None
        )
        if prop is None:
            raise _validation(f"Could not find property with name or id: {key}")
        return prop

    def _check_filter(self, ds: Mapping[str, Any], flt: Any, depth: int, where: str) -> None:
        if not isinstance(flt, Mapping):
            raise _validation(f"body failed validation: {where} should be an object.")
        for op in ("or", "and"):
            if op in flt:
                if depth >= 2:
                    raise _validation(
                        f"body failed validation: {where}.{op} should be not present "
                        "(compound filters nest at most two levels)."
                    )
                items = flt[op]
                if not isinstance(items, list):
                    raise _validation(f"body failed validation: {where}.{op} should be an array.")
                if len(items) > ARRAY_LIMIT:
                    raise _validation(
                        f"body failed validation: {where}.{op}.length should be ≤ `{ARRAY_LIMIT}`, "
                        f"instead was `{len(items)}`."
                    )
                for i, item in enumerate(items):
                    self._check_filter(ds, item, depth + 1, f"{where}.{op}[{i}]")
                return
        if "timestamp" in flt:
            if (
                flt["timestamp"] not in ("created_time", "last_edited_time")
                or flt["timestamp"] not in flt
            ):
                raise _validation(f"body failed validation: {where}.timestamp is invalid.")
            return
        prop = self._find_prop(ds, flt.get("property"), where)
        allowed = {prop["type"]}
        if prop["type"] == "title":
            allowed.add("rich_text")
        kinds = [k for k in flt if k != "property"]
        if len(kinds) != 1 or kinds[0] not in allowed:
            raise _validation(
                f"body failed validation: {where} for property {prop['name']} of type "
                f"{prop['type']} should use the {prop['type']} filter, instead was {kinds}."
            )

    def _compile(self, ds: Mapping[str, Any], flt: Mapping[str, Any]) -> Any:
        """A checked filter as a predicate over pages (resolved once per query)."""
        if "or" in flt:
            # many `equals` on one property (a bulk lookup) become one set membership test
            equals: dict[tuple[str, str], set[Any]] = {}
            parts = []
            for f in flt["or"]:
                kind = next((k for k in f if k != "property"), None)
                cond = f.get(kind) if kind else None
                prop = self._find_prop(ds, f["property"], "filter") if "property" in f else None
                simple = isinstance(cond, Mapping) and list(cond) == ["equals"]
                if prop and simple and prop["type"] in ("title", "rich_text", "url", "number"):
                    equals.setdefault((prop["id"], prop["type"]), set()).add(cond["equals"])
                    continue
                parts.append(self._compile(ds, f))
            for (pid, ptype), wanted in equals.items():
                parts.append(
                    lambda page, pid=pid, ptype=ptype, wanted=wanted: (
                        _stored_to_plain(ptype, page.values.get(pid)) in wanted
                    )
                )
            return lambda page: any(p(page) for p in parts)
        if "and" in flt:
            parts = [self._compile(ds, f) for f in flt["and"]]
            return lambda page: all(p(page) for p in parts)
        if "timestamp" in flt:
            which, cond = flt["timestamp"], flt[flt["timestamp"]]
            return lambda page: _compare_time(
                page.created if which == "created_time" else page.edited, cond
            )
        prop = self._find_prop(ds, flt.get("property"), "filter")
        ptype, pid = prop["type"], prop["id"]
        cond = flt[next(k for k in flt if k != "property")]
        return lambda page: _condition(ptype, _stored_to_plain(ptype, page.values.get(pid)), cond)


def _normalize_date(start: str) -> str:
    start = str(start)
    if len(start) == 10:
        return start
    dt = datetime.fromisoformat(start.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    # Notion answers datetimes in this shape, whatever was sent
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def _server_error(status: int) -> ApiError:
    codes = {
        500: ("internal_server_error", "Unexpected error occurred."),
        502: ("bad_gateway", "Bad gateway."),
        503: ("service_unavailable", "Notion is unavailable, please try again later."),
        504: ("gateway_timeout", "Notion timed out while processing the request."),
    }
    code, message = codes[status]
    return ApiError(status, code, message)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")
    if isinstance(value, int | float | bool):
        return (0, float(value))
    return (0, str(value))


def _stored_to_plain(ptype: str, stored: Any) -> Any:
    if ptype in ("title", "rich_text"):
        return "".join(stored or [])
    if ptype in ("select", "status"):
        return stored["name"] if stored else None
    if ptype == "multi_select":
        return [o["name"] for o in stored or []]
    if ptype == "date":
        return stored["start"] if stored else None
    if ptype == "files":
        return [f["external"]["url"] for f in stored or []]
    if ptype == "relation":
        return list(stored or [])
    if ptype == "checkbox":
        return bool(stored)
    return stored


def _plain_to_write(ptype: str, value: Any) -> dict[str, Any]:
    if ptype in ("title", "rich_text"):
        return {ptype: [{"type": "text", "text": {"content": str(value)}}]}
    if ptype in ("select", "status"):
        return {ptype: {"name": value} if value is not None else None}
    if ptype == "multi_select":
        return {ptype: [{"name": v} for v in value]}
    if ptype == "date":
        return {ptype: {"start": value} if value else None}
    if ptype == "files":
        return {ptype: [{"type": "external", "name": "f", "external": {"url": u}} for u in value]}
    if ptype == "relation":
        return {ptype: [{"id": i} for i in value]}
    return {ptype: value}


def _compare_time(value: float, cond: Mapping[str, Any]) -> bool:
    for op, arg in cond.items():
        if op in ("is_empty", "is_not_empty"):
            return op == "is_not_empty"
        t = _parse_time(str(arg))
        if op == "equals":
            return abs(value - t) < 1
        if op == "before":
            return value < t
        if op == "after":
            return value > t
        if op == "on_or_before":
            return value <= t
        if op == "on_or_after":
            return value >= t
    raise _validation(f"body failed validation: unknown date condition {list(cond)}")


def _condition(ptype: str, value: Any, cond: Mapping[str, Any]) -> bool:
    if not isinstance(cond, Mapping) or len(cond) != 1:
        raise _validation("body failed validation: a filter condition needs exactly one operator.")
    op, arg = next(iter(cond.items()))
    empty = value in (None, "", [], False) if ptype != "checkbox" else False
    if op == "is_empty":
        return empty
    if op == "is_not_empty":
        return not empty
    if ptype in ("title", "rich_text", "url", "select", "status", "email", "phone_number"):
        text = value or ""
        arg = str(arg)
        if op == "equals":  # unsure whether Notion's equals ignores case: strict here
            return text == arg
        if op == "does_not_equal":
            return text != arg
        if op == "contains":
            return arg.lower() in text.lower()
        if op == "does_not_contain":
            return arg.lower() not in text.lower()
        if op == "starts_with":
            return text.lower().startswith(arg.lower())
        if op == "ends_with":
            return text.lower().endswith(arg.lower())
    elif ptype == "number":
        if value is None:
            return False
        ops = {
            "equals": value == arg,
            "does_not_equal": value != arg,
            "greater_than": value > arg,
            "less_than": value < arg,
            "greater_than_or_equal_to": value >= arg,
            "less_than_or_equal_to": value <= arg,
        }
        if op in ops:
            return ops[op]
    elif ptype == "checkbox":
        if op == "equals":
            return bool(value) == bool(arg)
        if op == "does_not_equal":
            return bool(value) != bool(arg)
    elif ptype == "relation" or ptype == "multi_select":
        if op == "contains":
            return arg in (value or [])
        if op == "does_not_contain":
            return arg not in (value or [])
    elif ptype == "date":
        return value is not None and _compare_time(_parse_time(value), {op: arg})
    raise _validation(f"body failed validation: {op} is not a valid {ptype} filter condition.")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):  # a killed client is not news
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emu: NotionEmulator

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK
        # add ~40 ms to some answers
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, data, delay = self.emu.handle(self.command, self.path, headers, body)
        if delay:
            time.sleep(delay)
            self.emu.hanging.clear()
        try:
            self.send_response(status)
            self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client went away (killed mid-request)
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = _serve


def legacy_track_properties(variant: str = "default") -> dict[str, dict[str, Any]]:
    """A Music Tracks schema as our users have it: ours, legacy duplicates, Spotify
    fields, formulas, dozens of ``Audio …`` metrics. ``variant="aliases"`` uses the
    alias names (``Name``, ``Artist``, ``BPM``, ``DL``, …) and a text SoundCloud ID."""
    if variant == "aliases":
        ours = {
            "Name": {"title": {}},
            "Artist": {"rich_text": {}},
            "Album Name": {"rich_text": {}},
            "Genres": {"multi_select": {"options": []}},
            "SoundCloud": {"url": {}},
            "SoundCloud ID": {"rich_text": {}},
            "Track ISRC": {"rich_text": {}},
            "BPM": {"number": {"format": "number"}},
            "Key": {"select": {"options": []}},
            "Audio Key Confidence": {"number": {}},
            "Duration (s)": {"number": {}},
            "Loudness Level": {"number": {}},
            "DL": {"checkbox": {}},
            "AIFF": {"rich_text": {}},
            "WAV": {"rich_text": {}},
            "M4A": {"rich_text": {}},
            "EagleID": {"rich_text": {}},
            "Processed At": {"date": {}},
            "DateAdded": {"date": {}},
            "Artwork": {"files": {}},
        }
    else:
        ours = {
            "Title": {"title": {}},
            "Artist Name": {"rich_text": {}},
            "Album": {"rich_text": {}},
            "Genre": {"select": {"options": [{"name": "House", "color": "blue"}]}},
            "SoundCloud URL": {"url": {}},
            "SoundCloud ID": {"number": {"format": "number"}},
            "ISRC": {"rich_text": {}},
            "Tempo": {"number": {"format": "number"}},
            "Key": {"rich_text": {}},
            "Audio Key Confidence": {"number": {}},
            "Audio Duration (seconds)": {"number": {}},
            "Audio LUFS Level": {"number": {}},
            "Downloaded": {"checkbox": {}},
            "AIFF File Path": {"rich_text": {}},
            "WAV File Path": {"rich_text": {}},
            "M4A File Path": {"rich_text": {}},
            "Eagle File ID": {"rich_text": {}},
            "Processing Timestamp": {"date": {}},
            "Added At": {"date": {}},
            "Artwork": {"files": {}},
            "BPM": {"number": {}},  # legacy duplicate of Tempo: must stay untouched
        }
    legacy = {
        "Audio Analysis Version": {"rich_text": {}},  # which analysis measured the row
        "Spotify ID": {"rich_text": {}},
        "Spotify URL": {"url": {}},
        "Spotify Popularity": {"number": {}},
        "Fingerprint": {"rich_text": {}},
        "Duration (min)": {"formula": {"expression": 'prop("TotalTime") / 60'}},
        "Created time": {"created_time": {}},
        "Last edited time": {"last_edited_time": {}},
        "Rating": {"select": {"options": [{"name": "★★★", "color": "yellow"}]}},
        "Notes": {"rich_text": {}},
    }
    for metric in (
        "Energy",
        "Danceability",
        "Valence",
        "Acousticness",
        "Instrumentalness",
        "Speechiness",
        "Liveness",
        "Spectral Centroid",
        "Spectral Rolloff",
        "Zero Crossing Rate",
        "Onset Rate",
        "Dynamic Range",
    ):
        legacy[f"Audio {metric}"] = {"number": {}}
    return {**ours, **legacy}


PLAYLIST_PROPERTIES: dict[str, dict[str, Any]] = {
    "Name": {"title": {}},
    "SoundCloud URL": {"url": {}},
    "Curator": {"rich_text": {}},
    "Track Count": {"number": {}},
    "Last Synced": {"date": {}},
    "Sync Status": {
        "select": {
            "options": [
                {"name": "Synced", "color": "green"},
                {"name": "Partial", "color": "yellow"},
                {"name": "Failed", "color": "red"},
            ]
        }
    },
    "Description": {"rich_text": {}},
}


@dataclass(frozen=True)
class SeededCatalog:
    tracks_database_id: str
    playlists_database_id: str
    tracks_data_source_id: str
    playlists_data_source_id: str
    relation: str  # the Tracks-side relation property name


def track_pages(notion: NotionEmulator, catalog: SeededCatalog) -> list[dict[str, Any]]:
    """Every live page of Music Tracks as plain values, oldest first."""
    return [notion.plain(p) for p in notion.pages_in(catalog.tracks_data_source_id)]


def track_pages_by_title(
    notion: NotionEmulator, catalog: SeededCatalog
) -> dict[str, dict[str, Any]]:
    return {page["Title"]: page for page in track_pages(notion, catalog)}


def soundcloud_id_counts(notion: NotionEmulator, catalog: SeededCatalog) -> Counter[Any]:
    """How many live pages carry each SoundCloud ID: any count above one is a duplicate."""
    return Counter(page["SoundCloud ID"] for page in track_pages(notion, catalog))


def seed_music_catalog(
    emulator: NotionEmulator,
    *,
    variant: str = "default",
    hand_made: Iterable[Mapping[str, Any]] = (),
) -> SeededCatalog:
    """Music Tracks + Playlists as our users have them, two-way related; optional
    hand-made pages (plain values by property name)."""
    tracks_props = legacy_track_properties(variant)
    tracks_db, tracks_ds = emulator.create_database("Music Tracks", tracks_props)
    playlists_db, playlists_ds = emulator.create_database("Playlists", PLAYLIST_PROPERTIES)
    relation = "Playlist" if variant == "aliases" else "Playlists"
    emulator.relate(tracks_ds, relation, playlists_ds, "Tracks")
    for values in hand_made:
        emulator.add_page(tracks_ds, values)
    return SeededCatalog(tracks_db, playlists_db, tracks_ds, playlists_ds, relation)


def main(argv: list[str] | None = None) -> None:
    """Serve a seeded emulator (for the offline demo): prints the settings to use."""
    import argparse

    parser = argparse.ArgumentParser(description="Local Notion API emulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=3.0, help="requests per second")
    parser.add_argument("--variant", choices=["default", "aliases"], default="default")
    args = parser.parse_args(argv)
    emulator = NotionEmulator(rate=args.rate).start(args.port)
    catalog = seed_music_catalog(emulator, variant=args.variant)
    settings = {
        "NOTION_BASE_URL": emulator.base_url,
        "NOTION_TOKEN": emulator.token,
        "NOTION_TRACKS_DATABASE_ID": catalog.tracks_database_id,
        "NOTION_PLAYLISTS_DATABASE_ID": catalog.playlists_database_id,
    }
    print(json.dumps(settings), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
