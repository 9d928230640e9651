"""SoundCloud's api-v2 budget: one shared limiter, a slot per request, a share for checks.

api-v2 allows about 600 requests per 10 minutes (``SOUNDCLOUD_API_BUDGET``); beyond it
answers 429 "Please slow down". Every request of every client (listings, sensor
checks, stream-URL look-ups, searches, yt-dlp's own extraction when it is the fallback)
takes a slot from :func:`soundcloud_limiter`'s bucket, which every process of the
machine shares (and every machine, with the catalog on PostgreSQL). The new-tracks
sensor's checks are *reserved* requests: ``SOUNDCLOUD_SENSOR_SHARE`` of the budget is
theirs whenever they need it, without queueing behind a backfill's downloads, and the
downloads use what the checks leave.

The budget is a window's, and is spent as one: a backfill's first 585 requests go out at
five times the average pace instead of one a second, so a few hundred downloads never
wait for api-v2 at all; beyond a window's worth they wait for the window to move. A
round's worth of the sensor's share (15 requests at the defaults, at most 5 % of the
window) is held back from bulk
work in every window, so a check never waits for a window full of downloads to move.
"""

from __future__ import annotations

import email.utils
import math
import threading
from datetime import UTC, datetime
from pathlib import Path

from ..ratelimit import RateLimiter, Window

LIMITER_NAME = "soundcloud"
# The new-tracks sensor checks at most this often (defs.sensors ticks more often, to
# start first syncs, but spends requests only in these rounds): the reserved share may
# come all at once, a round's worth.
SENSOR_ROUND_SECONDS = 30
# Inside a window requests go out at most this many times the window's average pace: a
# burst, not a flood (api-v2's real limiter is unpublished; yt-dlp alone asks as fast as
# it can).
BURST_PACE = 5.0


def soundcloud_limiter(
    store: str | Path | None,
    limit: int = 600,
    window_s: float = 600.0,
    sensor_share: float = 0.5,
) -> RateLimiter:
    """The process-wide limiter of api-v2: never more than ``limit`` requests in any
    ``window_s`` from everyone sharing ``store``; ``sensor_share`` of them reserved."""
    average = limit / window_s
    reserved = average * sensor_share
    # a round's worth of checks, never more than 5 % of the window
    hold = min(limit // 20, math.ceil(reserved * SENSOR_ROUND_SECONDS))
    # A window a little longer than api-v2's: a request that leaves its process up to
    # that much late (a loaded machine: 1 s was seen on two busy cores) still lands after
    # the one whose place it takes has left api-v2's window.
    late = max(2.0, window_s / 60)
    return RateLimiter.shared(
        BURST_PACE * average,
        store,
        burst=BURST_PACE,
        name=LIMITER_NAME,
        reserved_rate=reserved,
        reserved_burst=reserved * SENSOR_ROUND_SECONDS + 1,
        window=Window(limit, window_s + late, hold=hold),
    )


class ApiBudget:
    """The api-v2 requests of one client and its yt-dlp instances: each takes a slot
    from ``limiter`` (when given) and is counted; a 429 pauses every caller."""

    def __init__(self, limiter: RateLimiter | None, *, reserved: bool = False) -> None:
        self.limiter = limiter
        self.reserved = reserved
        self.requests = 0
        self.rate_limited_answers = 0
        self.waited_s = 0.0
        self._lock = threading.Lock()

    def take(self) -> None:
        waited = self.limiter.acquire(reserved=self.reserved) if self.limiter else 0.0
        with self._lock:
            self.requests += 1
            self.waited_s += waited

    def rate_limited(self, retry_after: str | None) -> None:
        """SoundCloud answered 429: nobody sharing the budget sends before Retry-After."""
        with self._lock:
            self.rate_limited_answers += 1
        if self.limiter is not None:
            self.limiter.pause(retry_after_seconds(retry_after, default=2.0))

    def stats(self) -> dict[str, float]:
        with self._lock:
            return {
                "requests": self.requests,
                "rate_limited": self.rate_limited_answers,
                "waited_s": round(self.waited_s, 1),
            }


def retry_after_seconds(value: str | None, default: float) -> float:
    """Retry-After as seconds to wait: a number, or an HTTP date."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


__all__ = ["ApiBudget", "retry_after_seconds", "soundcloud_limiter"]
