"""SoundCloud's api-v2 over yt-dlp's own machinery: one GET at a time, budgeted.

Built on yt-dlp rather than beside it: its network stack (proxy, timeouts, user
agent), its SoundCloud extractor's api base, client-id cache (``soundcloud``/``client_id``
in yt-dlp's ``cachedir``) and client-id scraping. What yt-dlp does not do, we do here:
honour ``Retry-After`` on 429, count requests, refresh a stale client id once, and keep
secrets (client id, OAuth token, a private link's token) out of every message and log line.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from yt_dlp import YoutubeDL
from yt_dlp.extractor import soundcloud as _sc_module
from yt_dlp.extractor.soundcloud import SoundcloudBaseIE
from yt_dlp.networking.exceptions import HTTPError
from yt_dlp.utils import ExtractorError

from ..budget import ApiBudget, retry_after_seconds
from ..errors import PlaylistNotFound, PlaylistPrivate, SoundCloudUnavailable

if TYPE_CHECKING:
    from ...ratelimit import RateLimiter

log = logging.getLogger(__name__)

DEFAULT_API_BASE = SoundcloudBaseIE._API_V2_BASE


class HttpStatus(Exception):
    """An api answer we could not use; mapped to a user-facing error by the caller."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class Unreachable(Exception):
    """Network failure, 429s beyond the wait budget, or a client id that cannot be renewed."""


# --------------------------------------------------------------------------- yt-dlp glue


def _web_base_for(api_base: str) -> str:
    """Where the client id is scraped from: soundcloud.com beside the real api, else the base."""
    parts = urlsplit(api_base)
    if (parts.hostname or "").endswith("soundcloud.com"):
        return f"{parts.scheme}://soundcloud.com/"
    return api_base


class _Configured:
    """Mixin over yt-dlp's SoundCloud extractors: our api base, client id and OAuth header."""

    _WEB_BASE: str
    _CONFIGURED_CLIENT_ID: str | None
    _API_V2_BASE: str
    _BUDGET: ApiBudget | None

    def _request_webpage(self, url_or_request: Any, *args: Any, **kwargs: Any) -> Any:
        """Every api-v2 request, ours or yt-dlp's, takes a slot of the shared budget
        first; a 429 pauses every caller of the budget (media from the CDN does not)."""
        url = url_or_request if isinstance(url_or_request, str) else url_or_request.url
        budget = self._BUDGET if url.startswith(self._API_V2_BASE) else None
        if budget is None:
            return super()._request_webpage(url_or_request, *args, **kwargs)  # type: ignore[misc]
        budget.take()
        try:
            response = super()._request_webpage(url_or_request, *args, **kwargs)  # type: ignore[misc]
        except ExtractorError as exc:
            cause = exc.cause
            if isinstance(cause, HTTPError) and cause.status == 429:
                budget.rate_limited(cause.response.headers.get("Retry-After"))
            raise
        if getattr(response, "status", 200) == 429:
            budget.rate_limited(response.headers.get("Retry-After"))
        return response

    def _initialize_pre_login(self) -> None:
        # A configured id wins over the cache; otherwise yt-dlp's cache, then scraping.
        if self._CONFIGURED_CLIENT_ID:
            self._CLIENT_ID = self._CONFIGURED_CLIENT_ID
            return
        super()._initialize_pre_login()  # type: ignore[misc]

    def _real_initialize(self) -> None:
        # The OAuth header is set directly; yt-dlp would first verify it against api-auth.
        return

    def _update_client_id(self) -> None:
        # yt-dlp's own scraping (SoundcloudBaseIE._update_client_id), from our web base.
        webpage = self._download_webpage(self._WEB_BASE, None, "Downloading main page")  # type: ignore[attr-defined]
        for src in reversed(re.findall(r'<script[^>]+src="([^"]+)"', webpage)):
            script = self._download_webpage(src, None, "Downloading JS asset", fatal=False)  # type: ignore[attr-defined]
            if script:
                found = self._search_regex(  # type: ignore[attr-defined]
                    r'client_id\s*:\s*"([0-9a-zA-Z]{32})"', script, "client id", default=None
                )
                if found:
                    self._CLIENT_ID = found
                    self._store_client_id(found)  # type: ignore[attr-defined]
                    return
        raise ExtractorError("Unable to extract client id")


# Every SoundCloud extractor yt-dlp has (tracks, sets, users, search…), re-pointed together.
SOUNDCLOUD_EXTRACTORS: tuple[type[SoundcloudBaseIE], ...] = tuple(
    cls
    for cls in vars(_sc_module).values()
    if isinstance(cls, type)
    and issubclass(cls, SoundcloudBaseIE)
    and cls is not SoundcloudBaseIE
    and getattr(cls, "_VALID_URL", None)
)


def _configured(
    base: type[SoundcloudBaseIE],
    api_base: str,
    web_base: str,
    client_id: str | None,
    oauth_token: str | None,
    budget: ApiBudget | None = None,
) -> type[SoundcloudBaseIE]:
    """A subclass of one yt-dlp SoundCloud extractor pointed at ``api_base`` (same ie_key),
    taking its api-v2 requests from ``budget``."""
    attrs = {
        "_API_V2_BASE": api_base,
        "_BUDGET": budget,
        "_WEB_BASE": web_base,
        "_CONFIGURED_CLIENT_ID": client_id,
        "_HEADERS": {"Authorization": f"OAuth {oauth_token}"} if oauth_token else {},
    }
    return type(base.__name__, (_Configured, base), attrs)


class _RedactingLogger:
    """yt-dlp's log lines, to Python logging, with secrets and query strings scrubbed."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact

    def debug(self, msg: str) -> None:
        log.debug(self._redact(msg))

    def info(self, msg: str) -> None:
        log.debug(self._redact(msg))

    def warning(self, msg: str) -> None:
        log.warning(self._redact(msg))

    def error(self, msg: str) -> None:
        log.error(self._redact(msg))


class SoundCloudApi:
    """api-v2 GETs with the client id: retries 429 (``Retry-After``) and 5xx, refreshes a
    stale client id once, counts requests by kind in :attr:`request_count` (``resolve``,
    ``tracks``…; client-id refreshes as ``client_id``). With a ``limiter`` every api-v2
    request (its own and its yt-dlp instances') takes a slot of the budget shared with
    every other process; ``reserved`` requests (the sensor's checks) draw on its share.
    """

    def __init__(
        self,
        api_base: str = DEFAULT_API_BASE,
        client_id: str | None = None,
        oauth_token: str | None = None,
        proxy: str | None = None,
        cache_dir: Path | None = None,
        *,
        web_base: str | None = None,
        max_retries: int = 4,
        max_wait: float = 60.0,
        network_retries: int = 1,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
        reserved: bool = False,
    ) -> None:
        self.api_base = api_base if api_base.endswith("/") else f"{api_base}/"
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.network_retries = network_retries
        self._sleep = sleep
        proxy_password = urlsplit(proxy).password if proxy else None
        self._secrets = [s for s in (client_id, oauth_token, proxy_password) if s]
        self.request_count: collections.Counter[str] = collections.Counter()
        self._lock = threading.RLock()
        # every api-v2 request of this client and of its yt-dlp instances, counted and
        # (with a limiter) paced by the budget shared with every other process
        self.budget = ApiBudget(limiter, reserved=reserved)
        params: dict[str, Any] = {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "socket_timeout": timeout,
            "logger": _RedactingLogger(self._redact),
        }
        if proxy:
            params["proxy"] = proxy
        if cache_dir is not None:
            params["cachedir"] = str(cache_dir)
        self._params = params
        self._web_base = web_base or _web_base_for(self.api_base)
        self._client_id, self._oauth_token = client_id, oauth_token
        self._ydl = YoutubeDL(params, auto_init=False)
        ie_class = _configured(
            SoundcloudBaseIE, self.api_base, self._web_base, client_id, oauth_token, self.budget
        )
        self._ie = ie_class(self._ydl)
        self._headers = dict(ie_class._HEADERS)

    def close(self) -> None:
        self._ydl.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def youtube_dl(self, params: Mapping[str, Any] | None = None) -> YoutubeDL:
        """A ``YoutubeDL`` for downloads that talks to SoundCloud the way this client does.

        Same api base, proxy, cache dir, client id (the refreshed one, if any) and OAuth
        token; its SoundCloud extractors are per-instance subclasses, so yt-dlp itself
        is never patched. ``params`` are ordinary yt-dlp options (format, outtmpl, …).
        """
        client_id = getattr(self._ie, "_CLIENT_ID", None) or self._client_id
        # Only SoundCloud's extractors: with yt-dlp's ~1,800 default ones, every
        # extract_info compiled the URL patterns of those listed before SoundCloud's
        # (Python's regex cache holds 512) — about a CPU-second per track.
        ydl = YoutubeDL({**self._params, **(params or {})}, auto_init=False)
        for extractor in SOUNDCLOUD_EXTRACTORS:
            configured = _configured(
                extractor, self.api_base, self._web_base, client_id, self._oauth_token,
                self.budget,
            )  # fmt: skip
            ydl.add_info_extractor(configured())
        return ydl

    @property
    def total_requests(self) -> int:
        """api-v2 requests sent (client-id scraping of the web page excluded)."""
        return sum(n for kind, n in self.request_count.items() if kind != "client_id")

    def read(self, kind: str, path: str, query: Mapping[str, str], shown: str) -> Any:
        """One GET whose failure is an error naming ``shown``: 404 not found, 401/403
        refused, anything else unavailable (try later)."""
        try:
            return self._get(kind, path, query)
        except HttpStatus as exc:
            if exc.status == 404:
                raise PlaylistNotFound(shown, "not found on SoundCloud") from None
            if exc.status in (401, 403):
                raise PlaylistPrivate(
                    shown, f"SoundCloud refused access (HTTP {exc.status})"
                ) from None
            raise SoundCloudUnavailable(shown, f"SoundCloud answered HTTP {exc.status}") from None
        except Unreachable as exc:
            raise SoundCloudUnavailable(shown, str(exc)) from None

    def _get(self, kind: str, path: str, query: Mapping[str, str], *, renew_id: bool = True) -> Any:
        """One api-v2 GET with the client id; retries 429 (Retry-After) and 5xx, refreshes a
        stale id once (on 401/403, unless ``renew_id`` is off: where those mean "not
        for you")."""
        with self._lock:
            self._initialize()
            waited, attempt, refreshed, net_failures = 0.0, 0, False, 0
            while True:
                self.request_count[kind] += 1
                try:
                    body, handle = self._ie._download_webpage_handle(
                        self.api_base + path,
                        None,
                        note=False,
                        query={**query, "client_id": self._ie._CLIENT_ID},
                        headers=self._headers,
                        expected_status=lambda _status: True,
                    )
                except ExtractorError as exc:
                    net_failures += 1
                    if net_failures > self.network_retries:
                        raise Unreachable(
                            f"cannot reach SoundCloud at {self.api_base} ({self._redact(exc.orig_msg or str(exc))})"
                        ) from None  # fmt: skip
                    self._sleep(0.5 * net_failures)
                    continue
                status = handle.status
                if status == 200:
                    return json.loads(body)
                if status in (401, 403) and renew_id and not refreshed:
                    refreshed = True
                    self._refresh_client_id()
                    continue
                if status == 429 or status >= 500:
                    wait = retry_after_seconds(
                        handle.headers.get("Retry-After"), default=2.0**attempt
                    )
                    if attempt >= self.max_retries or waited + wait > self.max_wait:
                        what = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}"
                        raise Unreachable(
                            f"SoundCloud keeps answering {what} after {attempt + 1} tries "
                            f"and {waited:.0f}s of waiting; try again later"
                        )
                    log.info("SoundCloud answered %s; retrying in %.1fs", status, wait)
                    self._sleep(wait)
                    waited += wait
                    attempt += 1
                    continue
                raise HttpStatus(status)

    def _initialize(self) -> None:
        if not self._ie._ready:
            try:
                self._ie.initialize()
            except ExtractorError as exc:
                raise Unreachable(self._no_client_id(exc)) from None

    def _refresh_client_id(self) -> None:
        """yt-dlp's recovery from a stale id: forget the cached one, scrape a fresh one."""
        self.request_count["client_id"] += 1
        self._ie._store_client_id(None)
        try:
            self._ie._update_client_id()
        except ExtractorError as exc:
            raise Unreachable(self._no_client_id(exc)) from None
        if self._ie._CLIENT_ID not in self._secrets:
            self._secrets.append(self._ie._CLIENT_ID)

    def _no_client_id(self, exc: ExtractorError) -> str:
        return (
            "no usable SoundCloud client id (could not read one from the web page: "
            f"{self._redact(exc.orig_msg or str(exc))}); set SOUNDCLOUD_CLIENT_ID"
        )

    def _redact(self, text: str) -> str:
        text = re.sub(r"(client_id|secret_token|playlistSecretToken)=[^&\s'\"]+", r"\1=***", text)
        # a private link's token as the last part of a URL path, also percent-encoded
        text = re.sub(r"(/|%2F|%252F)s-[A-Za-z0-9]{5,}(?![A-Za-z0-9-])", r"\1s-***", text)
        for secret in [*self._secrets, getattr(self._ie, "_CLIENT_ID", None)]:
            if secret:
                text = text.replace(secret, "***")
        return text
