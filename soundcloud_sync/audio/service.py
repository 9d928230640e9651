"""One analysis process per machine: librosa, scipy and numba loaded once, for every run.

Each run that measured audio imported the analysis stack and loaded numba's kernels
before its first track: 1.6-2.2 CPU-seconds a run, a fifth of a backfill's CPU when
playlists hold ten one-minute tracks. Now the first run that measures starts this
process (detached, one per user, home and code version) and every run sends it its
tracks over a Unix socket (`multiprocessing.connection`, authenticated with a key only
this user can read). It measures them in threads, at most one per core for the whole
machine, and exits after ``idle_seconds`` without work
(SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS; 0: every run measures in its own process).

Nothing depends on it. A run that cannot reach it (not ready in time, killed, another
version) measures the track in its own process, as before. It holds no state: its lock
is an flock the kernel releases when it dies, its socket is replaced by the next start,
and a decode it was staging is swept by the next decode (`audio.staged`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soundcloud_sync.audio.analysis import AnalysisResult

DEFAULT_IDLE_SECONDS = 120
START_WAIT_SECONDS = 90.0  # a first start on an empty numba cache compiles for a while
START_GRACE_SECONDS = 5.0  # a process just started may not hold its lock yet
MAX_STARTS = 3  # per run and step: one that dies at start is not started for ever
# Variables the analysis never needs and that may hold a secret (a token, a password in
# a database or broker URL): the service is started without them.
_SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "_URL", "NOTION", "SPOTIFY", "CELERY")


@dataclass(frozen=True)
class TrackJob:
    """One track to measure: its download, the genre that may settle the tempo's octave,
    the tempo range, and the library formats its one decode stages (`audio.staged`)."""

    path: str
    genre: str | None
    tempo_range: tuple[float, float]
    library_root: str | None = None
    formats: tuple[str, ...] = ()


def measure_track(job: TrackJob) -> AnalysisResult:
    """Decode the track once (staging its missing library files) and measure it; a track
    that cannot be measured gives a result with its error and leaves nothing staged."""
    from soundcloud_sync.audio.analysis import AnalysisError, AnalysisResult, analyze_samples
    from soundcloud_sync.audio.staged import decode_and_stage, discard_staged

    formats = list(job.formats) if job.library_root is not None else []
    try:
        samples, rate = decode_and_stage(job.path, job.library_root or "", formats)
        if len(samples) == 0:
            raise AnalysisError(f"no audio decoded from {job.path}")
        features = analyze_samples(samples, rate, genre=job.genre, tempo_range=job.tempo_range)
        return AnalysisResult(job.path, features)
    except AnalysisError as exc:
        if job.library_root is not None:
            discard_staged(job.library_root, job.path)  # no files for an unmeasured track
        return AnalysisResult(job.path, None, str(exc))


# --------------------------------------------------------------------------- client


def service_address(home: str | os.PathLike[str]) -> Path:
    """The socket of the service for this user, home and code: another version of the
    package (or of ffmpeg, or of the numba cache) gets a service of its own."""
    import soundcloud_sync
    from soundcloud_sync.audio.analysis import ANALYSIS_VERSION
    from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

    package = Path(soundcloud_sync.__file__).parent
    code = sorted((str(p), p.stat().st_mtime_ns) for p in (package / "audio").rglob("*.py"))
    identity = repr((sys.executable, str(Path(home).resolve()), ANALYSIS_VERSION, code,
                     ffmpeg_exe(), os.environ.get("NUMBA_CACHE_DIR")))  # fmt: skip
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    # a short machine-local path: a socket's path is limited to ~100 bytes, and a home
    # on a network share would not carry it between machines
    folder = Path(tempfile.gettempdir()) / f"soundcloud-sync-{os.getuid()}"
    return folder / f"analysis-{digest}.sock"


class AnalysisService:
    """The runs' side: measure a track in the machine's analysis process, starting it
    when nobody has; None when it cannot be reached (the caller measures the track)."""

    def __init__(self, home: str | os.PathLike[str], idle_seconds: float) -> None:
        self.address = service_address(home)
        self.idle_seconds = idle_seconds
        self._start_lock = threading.Lock()
        self._starts = 0
        self._last_start = -START_GRACE_SECONDS
        # why a track was measured in the run's own process instead (the latest reason)
        self.unreachable: str | None = None
        self.pid: int | None = None  # the process that measured the last track

    @property
    def measured_by(self) -> str:
        """Which process measured the tracks, in words for the run's metadata."""
        if self.pid is not None:
            return f"the machine's analysis process (pid {self.pid})"
        return f"this run's process ({self.unreachable or 'no analysis process'})"

    def measure(self, job: TrackJob) -> AnalysisResult | None:
        from soundcloud_sync.audio.analysis import AnalysisResult, AudioFeatures

        conn = self._connect()
        if conn is None:
            return None
        try:
            with conn:
                conn.send(job)
                kind, pid, value = conn.recv()
        except (OSError, EOFError) as exc:  # it died or exited mid-track
            self.unreachable = f"the analysis process stopped answering ({exc or 'closed'})"
            return None
        self.pid = pid
        if kind == "measured":
            return AnalysisResult(job.path, AudioFeatures(**value))
        if kind == "unmeasured":
            return AnalysisResult(job.path, None, value)
        self.unreachable = f"the analysis process failed on {job.path}: {value}"
        return None  # measured here again, so the real error and its trace are raised here

    def _connect(self) -> Connection | None:
        if not _private(self.address.parent):
            self.unreachable = f"{self.address.parent} is not this user's alone"
            return None
        deadline = time.monotonic() + START_WAIT_SECONDS
        while True:
            conn = _try_connect(self.address)
            if conn is not None:
                return conn
            with self._start_lock:  # nobody serves or starts: start one (again, if it died)
                if time.monotonic() - self._last_start > START_GRACE_SECONDS and not _serving(
                    self.address
                ):
                    if self._starts >= MAX_STARTS:
                        self.unreachable = f"the analysis process at {self.address} would not start"
                        return None
                    _start(self.address, self.idle_seconds)
                    self._starts += 1
                    self._last_start = time.monotonic()
                    deadline = self._last_start + START_WAIT_SECONDS
            if time.monotonic() > deadline:
                self.unreachable = f"no analysis process answered at {self.address}"
                return None
            time.sleep(0.1)


def _serving(address: Path) -> bool:
    """Whether a service holds the address's lock (it serves, or is loading to serve)."""
    from filelock import FileLock, Timeout

    lock = FileLock(f"{address}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def _try_connect(address: Path) -> Connection | None:
    from multiprocessing import AuthenticationError

    try:
        key = _key_path(address).read_bytes()
        return Client(str(address), family="AF_UNIX", authkey=key)
    except (OSError, EOFError, AuthenticationError):
        return None


def _start(address: Path, idle_seconds: float) -> None:
    """Start a service in its own session, so a run killed with its process group leaves
    it to the others; one that finds the address served exits at once."""
    env = {k: v for k, v in os.environ.items() if not any(m in k for m in _SECRET_MARKERS)}
    from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

    command = [sys.executable, "-m", "soundcloud_sync.audio.service", str(address),
               "--idle-seconds", f"{idle_seconds:g}", "--ffmpeg", ffmpeg_exe()]  # fmt: skip
    with open(address.with_suffix(".log"), "ab") as log:
        subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True, close_fds=True)  # fmt: skip


def _private(folder: Path) -> bool:
    """The service's folder exists (made now if not), is this user's, and no one else's."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700, parents=True)
    info = folder.lstat()
    return info.st_uid == os.getuid() and not info.st_mode & 0o077 and folder.is_dir()


def _key_path(address: Path) -> Path:
    return address.with_suffix(".key")


# --------------------------------------------------------------------------- service


class _Service:
    """Accepts runs' connections and measures their tracks, one core's worth each."""

    def __init__(self, address: Path, idle_seconds: float) -> None:
        self.address = address
        self.idle_seconds = idle_seconds
        self.key = secrets.token_bytes(32)
        self.slots = threading.BoundedSemaphore(os.cpu_count() or 1)
        self.busy = 0
        self.last_work = time.monotonic()
        self.closing = False
        self._lock = threading.Lock()

    def serve(self) -> None:
        from multiprocessing import AuthenticationError

        key_path = _key_path(self.address)
        temporary = key_path.with_suffix(f".key.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.key)
        os.replace(temporary, key_path)
        self.address.unlink(missing_ok=True)  # a dead service's socket
        with Listener(str(self.address), family="AF_UNIX", authkey=self.key) as listener:
            threading.Thread(target=self._watch_idle, daemon=True).start()
            answering: list[threading.Thread] = []
            while not self.closing:
                try:
                    conn = listener.accept()
                except (OSError, EOFError, AuthenticationError):
                    continue  # a caller without the key, or one that hung up
                answering = [t for t in answering if t.is_alive()]
                answering.append(threading.Thread(target=self._answer, args=(conn,)))
                answering[-1].start()
        key_path.unlink(missing_ok=True)
        for thread in answering:  # a track accepted before the idle close is finished
            thread.join()

    def _answer(self, conn: Connection) -> None:
        with conn:
            try:
                job = conn.recv()
            except (OSError, EOFError):
                return
            if not isinstance(job, TrackJob):
                return  # the idle watcher's wake-up call
            with self._lock:
                self.busy += 1
            try:
                with self.slots:
                    reply = _measured(job)
            finally:
                with self._lock:
                    self.busy -= 1
                    self.last_work = time.monotonic()
            with contextlib.suppress(OSError):
                conn.send(reply)

    def _watch_idle(self) -> None:
        while True:
            time.sleep(min(1.0, max(0.05, self.idle_seconds / 4)))
            with self._lock:
                idle = not self.busy and time.monotonic() - self.last_work >= self.idle_seconds
                if idle:
                    self.closing = True
            if idle:
                with contextlib.suppress(OSError, EOFError):
                    Client(str(self.address), family="AF_UNIX", authkey=self.key).close()
                return


def _measured(job: TrackJob) -> tuple[str, int, Any]:
    try:
        result = measure_track(job)
    except Exception as exc:  # the run measures it itself and raises it there
        return "failed", os.getpid(), f"{type(exc).__name__}: {exc}"
    if result.features is None:
        return "unmeasured", os.getpid(), result.error
    return "measured", os.getpid(), result.features.to_dict()


def main(argv: Sequence[str] | None = None) -> int:
    from filelock import FileLock, Timeout

    parser = argparse.ArgumentParser(prog="python -m soundcloud_sync.audio.service")
    parser.add_argument("address", type=Path)
    parser.add_argument("--idle-seconds", type=float, default=DEFAULT_IDLE_SECONDS)
    parser.add_argument("--ffmpeg", help="the ffmpeg the runs use (FFMPEG_BINARY, resolved)")
    args = parser.parse_args(argv)
    lock = FileLock(f"{args.address}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return 0  # another process serves this address
    try:
        from soundcloud_sync.audio.analysis import configure_numba_cache, warm_up
        from soundcloud_sync.audio.ffmpeg import use_ffmpeg

        use_ffmpeg(args.ffmpeg)
        configure_numba_cache()
        warm_up()  # before the socket exists: a run that connects is served at once
        _Service(args.address, args.idle_seconds).serve()
    finally:
        with contextlib.suppress(OSError):
            args.address.unlink()
        lock.release()
    return 0


if __name__ == "__main__":
    # the module's own names, not __main__'s: the runs' pickles name soundcloud_sync's
    from soundcloud_sync.audio import service

    raise SystemExit(service.main())
