"""The one door to Notion: every request goes through the shared rate limiter and a
retry policy that knows which calls are safe to repeat.

notion-client's own retry is switched off: it would repeat blindly, and it never
tells a lost create from a failed one. Here, reads, queries and property updates
(PATCH replaces values: repeating it is harmless) are retried on 429, 5xx and
timeouts. A create is retried only on 429 or 409 (Notion did nothing); when its
answer is lost (timeout, 5xx) it raises :class:`AmbiguousCreate` and the caller
looks the page up before trying again, because Notion has no idempotency keys.

A 429 means "not now", never "no": it is waited out (Retry-After) without using up
the attempts kept for real failures, for as long as ``rate_limit_budget_s`` allows.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from filelock import FileLock
from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from ..errors import SoundCloudSyncError
from .limiter import SharedRateLimiter

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {409, 500, 502, 503, 504, 529}
AMBIGUOUS_STATUS = {500, 502, 503, 504, 529}


class NotionError(SoundCloudSyncError):
    """A Notion request that failed for good. Never carries the token."""

    def __init__(self, operation: str, message: str, status: int | None = None, code: str = ""):
        self.operation = operation
        self.status = status
        self.code = code
        where = f" ({status} {code})" if status else ""
        super().__init__(f"Notion {operation} failed{where}: {message}")


class AmbiguousCreate(NotionError):
    """A create whose answer was lost: the page may or may not exist now."""


class NotionGateway:
    """Rate-limited, retrying access to the Notion API (API version 2025-09-03).

    Build it from plain values; ``state_dir`` (SOUNDCLOUD_SYNC_HOME) holds the shared
    rate-limit state and a cache of database -> data source ids.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://api.notion.com",
        requests_per_second: float = 3.0,
        state_dir: str | Path | None = None,
        limiter: SharedRateLimiter | None = None,
        limits_store: str | None = None,
        timeout_s: float = 60.0,
        max_attempts: int = 8,
        max_backoff_s: float = 30.0,
        rate_limit_budget_s: float = 900.0,
    ) -> None:
        if not token:
            raise ValueError("Notion token is empty: set NOTION_TOKEN")
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.state_dir = Path(state_dir) if state_dir else None
        # the bucket: in the catalog's PostgreSQL when given (every machine), else this
        # machine's state folder
        self.limiter = limiter or SharedRateLimiter.shared(
            requests_per_second, limits_store or state_dir
        )
        self.max_attempts = max_attempts
        self.max_backoff_s = max_backoff_s
        self.rate_limit_budget_s = rate_limit_budget_s
        quiet = logging.getLogger("soundcloud_sync.notion.client")
        self.client = Client(
            auth=token,
            base_url=self.base_url,
            timeout_ms=int(timeout_s * 1000),
            retry=False,
            logger=quiet,
            log_level=logging.CRITICAL,
        )
        self._stats_lock = threading.Lock()
        self.stats: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"NotionGateway(base_url={self.base_url!r}, limiter={self.limiter!r})"

    # -- the retry loop -------------------------------------------------------------

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def call(self, operation: str, fn: Any, *args: Any, create: bool = False, **kwargs: Any):
        """Send one logical request, retrying what is safe to retry.

        429s are waited out and do not count as attempts: only real failures (5xx,
        timeouts, 409) use up ``max_attempts``; a request still refused after
        ``rate_limit_budget_s`` of 429 pauses fails with a message saying so."""
        attempt = 0  # failed attempts other than 429
        limited = 0  # 429 answers to this request
        first_429 = 0.0
        while True:
            self.limiter.acquire()
            self._count("requests")
            try:
                return fn(*args, **kwargs)
            except HTTPResponseError as err:  # APIResponseError, or a proxy's non-JSON page
                status = err.status
                code = str(getattr(err.code, "value", err.code))
                message = self._redact(str(err))
                failure = NotionError(operation, message, status, code)
                if status == 429:
                    self._count("rate_limited")
                    limited += 1
                    now = time.monotonic()
                    first_429 = first_429 if limited > 1 else now
                    wait = self._retry_after(err.headers, limited)
                    if now + wait - first_429 > self.rate_limit_budget_s:
                        raise NotionError(
                            operation,
                            f"still rate limited (429) after {limited} answers over "
                            f"{now - first_429:.0f} s",
                            429,
                            code,
                        ) from None
                    self.limiter.pause(wait)
                    continue
                if create and status in AMBIGUOUS_STATUS:
                    self._count("ambiguous_creates")
                    raise AmbiguousCreate(operation, message, status, code) from None
                if status not in RETRYABLE_STATUS:
                    raise failure from None
            except (RequestTimeoutError, httpx.TransportError) as err:
                message = self._redact(f"{type(err).__name__}: {err}")
                failure = NotionError(operation, message)
                if create and not isinstance(err, httpx.ConnectError):  # may have been sent
                    self._count("ambiguous_creates")
                    raise AmbiguousCreate(operation, message) from None
            attempt += 1
            self._count("retries")
            if attempt >= self.max_attempts:
                raise failure
            time.sleep(self._backoff(attempt))
            log.info("retrying Notion %s (attempt %d): %s", operation, attempt + 1, failure)

    def _retry_after(self, headers: Mapping[str, str] | None, attempt: int) -> float:
        try:
            value = float((headers or {}).get("retry-after", ""))
        except ValueError:
            return self._backoff(attempt)  # no (or an unreadable) Retry-After
        return max(0.0, value)

    def _backoff(self, attempt: int) -> float:
        base = min(self.max_backoff_s, 0.25 * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)

    # -- endpoints ------------------------------------------------------------------

    def retrieve_database(self, database_id: str) -> dict[str, Any]:
        return self.call(f"GET database {database_id}", self.client.databases.retrieve, database_id)

    def retrieve_data_source(self, data_source_id: str) -> dict[str, Any]:
        return self.call(
            f"GET data source {data_source_id}",
            self.client.data_sources.retrieve,
            data_source_id,
        )

    def add_property(self, data_source_id: str, name: str, spec: Mapping[str, Any]) -> None:
        """Add one property to a data source's schema (the sync's only schema change)."""
        self.call(
            f"PATCH data source {data_source_id}",
            self.client.data_sources.update,
            data_source_id=data_source_id,
            properties={name: spec},
        )

    def data_source_id(self, database_id: str) -> str:
        """The (first) data source of a database, cached on disk: it never changes."""
        cache = self._load_cache()
        if database_id in cache:
            return cache[database_id]
        db = self.retrieve_database(database_id)
        sources = db.get("data_sources") or []
        if not sources:
            raise NotionError(f"GET database {database_id}", "the database has no data source")
        self.set_hint(database_id, sources[0]["id"])
        return str(sources[0]["id"])

    def hint(self, key: str) -> Any:
        """A remembered fact about the databases (e.g. 'too large to scan')."""
        return self._load_cache().get(key)

    def set_hint(self, key: str, value: Any) -> None:
        """Remember ``value`` for ``key``; None forgets the key."""
        with self._cache_turn():
            cache = self._load_cache()
            if value is None:
                cache.pop(key, None)
            else:
                cache[key] = value
            self._save_cache(cache)

    def forget_data_source(self, database_id: str) -> None:
        with self._cache_turn():
            cache = self._load_cache()
            if cache.pop(database_id, None) is not None:
                self._save_cache(cache)

    @contextmanager
    def _cache_turn(self) -> Iterator[None]:
        """One writer of the cache file at a time, across threads and processes (two runs
        changing different keys at once must not write back each other's stale copy)."""
        path = self._cache_path()
        with self._stats_lock:
            if path is None:
                yield
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(f"{path}.lock"):
                yield

    def query(
        self,
        data_source_id: str,
        filter: Mapping[str, Any] | None = None,
        *,
        page_size: int = 100,
        filter_properties: list[str] | None = None,
        sorts: list[Mapping[str, Any]] | None = None,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield each answer page of a data source query (follows the cursor)."""
        cursor: str | None = None
        pages = 0
        while True:
            body: dict[str, Any] = {"page_size": page_size}
            if filter:
                body["filter"] = filter
            if sorts:
                body["sorts"] = sorts
            if cursor:
                body["start_cursor"] = cursor
            if filter_properties:  # ids come URL-encoded (%3AUPp): send them encoded once
                body["filter_properties"] = [unquote(p) for p in filter_properties]
            answer = self.call(
                f"query data source {data_source_id}",
                self.client.data_sources.query,
                data_source_id,
                **body,
            )
            pages += 1
            yield answer
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return
            if max_pages is not None and pages >= max_pages:
                return

    def create_page(self, data_source_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        return self.call(
            "create page",
            self.client.pages.create,
            parent={"type": "data_source_id", "data_source_id": data_source_id},
            properties=dict(properties),
            create=True,
        )

    def update_page(self, page_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        return self.call(
            f"update page {page_id}",
            self.client.pages.update,
            page_id,
            properties=dict(properties),
        )

    def retrieve_page(self, page_id: str) -> dict[str, Any]:
        return self.call(f"GET page {page_id}", self.client.pages.retrieve, page_id)

    def relation_ids(self, page_id: str, property_id: str) -> list[str]:
        """The full list of a relation (page reads stop at 25 entries)."""
        ids: list[str] = []
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"page_size": 100}
            if cursor:
                kwargs["start_cursor"] = cursor
            answer = self.call(
                f"GET page {page_id} relation",
                self.client.pages.properties.retrieve,
                page_id,
                property_id,
                **kwargs,
            )
            if answer.get("object") != "list":  # a single property item
                return [r["id"] for r in answer.get("relation") or []]
            ids.extend(item["relation"]["id"] for item in answer.get("results") or [])
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return ids

    # -- cache ----------------------------------------------------------------------

    def _cache_path(self) -> Path | None:
        return self.state_dir / "notion_data_sources.json" if self.state_dir else None

    def _load_cache(self) -> dict[str, Any]:
        path = self._cache_path()
        if path is None:
            return getattr(self, "_mem_cache", {})
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return {}

    def _save_cache(self, cache: dict[str, Any]) -> None:
        path = self._cache_path()
        if path is None:
            self._mem_cache = cache
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        tmp.replace(path)
