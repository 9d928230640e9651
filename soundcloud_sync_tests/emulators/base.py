"""What every emulator shares: a threaded HTTP server run in the background."""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any, Self


class RateWindow:
    """A service's rate limit: at most ``limit`` requests in any ``seconds``, and 429s a
    test injects ahead of it. Not thread-safe: the emulator holds its lock."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.injected: list[float] = []  # Retry-After values of 429s still to answer
        self._times: list[float] = []  # accepted requests' arrival times, sorted

    def inject(self, times: int, retry_after: float) -> None:
        self.injected.extend([retry_after] * times)

    def check(self, now: float) -> float | None:
        """Retry-After seconds when a request that arrived at ``now`` must get a 429,
        else None (the request is then counted in the window). Requests are checked in
        about the order they arrived, not exactly (threads): the log stays sorted and a
        little of its past is kept for a late one."""
        del self._times[: bisect.bisect_right(self._times, now - 2 * self.seconds)]
        if self.injected:
            return self.injected.pop(0)
        times = self._times
        # every window that would hold this request: the one ending at it, and those
        # ending at requests accepted after it (checked before it, though later)
        later = times[
            bisect.bisect_right(times, now) : bisect.bisect_left(times, now + self.seconds)
        ]
        for end in (now, *later):
            start = bisect.bisect_right(times, end - self.seconds)
            if bisect.bisect_right(times, end) - start >= self.limit:
                return max(1, math.ceil(times[start] + self.seconds - now))
        bisect.insort(times, now)
        return None


class Meeting:
    """Requests to one endpoint held until ``count`` clients have sent one, or
    ``within_s`` after the first was held: clients that start apart (processes launched
    one after the other on a loaded machine) then go on at the same moment, as a test of
    what they do *at once* needs. ``key`` names a request's client from what the
    emulator passes it (None: a request it does not hold); without it every request is a
    client of its own. Keep ``within_s`` under the clients' read timeout and the
    emulator's rate window (a held request's rate is checked late)."""

    def __init__(
        self, count: int, within_s: float, key: Callable[[str], str | None] | None
    ) -> None:
        self.count, self.within_s, self.key = count, within_s, key
        self.arrivals: dict[str, float] = {}  # each client's first held request, time.time()
        self.met = False  # every client came in time (or the test released them)
        self._first: float | None = None  # time.monotonic() of the first hold
        self._requests = itertools.count()
        self._came = threading.Condition()

    def wait(self, request: str, arrived_at: float) -> None:
        """Return when the meeting is complete or off (at once for a request it does
        not hold, or one that comes after the meeting)."""
        try:
            client = f"#{next(self._requests)}" if self.key is None else self.key(request)
        except Exception:  # a request the test's key cannot read is not held
            client = None
        if client is None:
            return
        with self._came:
            if self.met:
                return
            now = time.monotonic()
            if self._first is None:
                self._first = now
            deadline = self._first + self.within_s
            if now >= deadline:
                return  # too late: the meeting is off
            self.arrivals.setdefault(client, arrived_at)
            if len(self.arrivals) >= self.count:
                self.met = True
                self._came.notify_all()
            while not self.met and (left := deadline - time.monotonic()) > 0:
                self._came.wait(left)

    def release(self) -> None:
        """Let every held request go on now: the test has seen what it waited for."""
        with self._came:
            self.met = True
            self._came.notify_all()


def retry_after_header(wait: float) -> str:
    """Whole seconds as an integer, like the services send it."""
    return str(int(wait) if float(wait).is_integer() else wait)


class BackgroundServer:
    """Serve in a daemon thread; stop on exit. Subclasses build the server in `start`."""

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def _serve(self, server: ThreadingHTTPServer, name: str) -> Self:
        self._server = server
        server.daemon_threads = True
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # quick shutdown between tests
            name=name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
