"""What every emulator shares: a threaded HTTP server run in the background."""

from __future__ import annotations

import bisect
import math
import threading
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
