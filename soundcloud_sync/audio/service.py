"""One analysis process per machine: librosa, scipy and numba loaded once, for every run.

Each run that measured audio imported the analysis stack and loaded numba's kernels
before its first track: 1.6-2.2 CPU-seconds a run, a fifth of a backfill's CPU when
playlists hold ten one-minute tracks. Now the first run that measures starts this
process (detached: not a child of any run, so cleaning up after a dead run never kills
it) and every run on the machine sends it its tracks over a Unix socket, authenticated
with a key only this user can read. It measures them in threads, at most one per core
for the whole machine, and exits after ``idle_seconds`` without work
(SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS; 0: every run measures in its own process).

Nothing depends on it. A run that cannot reach it (cannot start it, not ready in time,
killed mid-track, silent for too long) measures the track in its own process, as before,
and says why. It holds no state: its lock is an flock the kernel releases when it dies,
its socket is replaced by the next start, and a decode it was staging is swept by the
next decode (`audio.staged`). Another version of the code, of the analysis libraries, of
ffmpeg or of the numba cache gets a process of its own, so a run never talks to old code.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import os
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from soundcloud_sync.audio.analysis import AnalysisResult

START_WAIT_SECONDS = 90.0  # a first start on an empty numba cache compiles for a while
START_GRACE_SECONDS = 5.0  # a process just started may not hold its lock yet
MAX_STARTS = 3  # per run step: one that dies at start is not started for ever
HANDSHAKE_SECONDS = 10.0  # a caller or a service silent this long is dropped
TRACK_SECONDS = 900.0  # the longest wait for one track's answer (a 2-hour mix, loaded)
_MAX_SOCKET_PATH = 100  # bytes: macOS allows 104, Linux 108
# The service's environment is this list, not the run's: a token, a password in a proxy
# or database URL, or a client id never reaches it.
_ENV_KEPT = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH", "LD_LIBRARY_PATH",
             "SYSTEMROOT")  # fmt: skip
_ENV_KEPT_PREFIXES = ("LC_", "NUMBA_", "OMP_", "MKL_", "OPENBLAS_", "IMAGEIO_")


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
    that cannot be measured gives a result with its error and leaves nothing staged.
    One track at a time per process: two playlists holding it would stage it twice."""
    from soundcloud_sync.audio.analysis import AnalysisError, AnalysisResult, analyze_samples
    from soundcloud_sync.audio.staged import decode_and_stage, discard_staged

    formats = list(job.formats) if job.library_root is not None else []
    with _one_at_a_time(job.path):
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


_path_locks: dict[str, threading.Lock] = {}
_path_locks_lock = threading.Lock()


@contextlib.contextmanager
def _one_at_a_time(path: str) -> Iterator[None]:
    with _path_locks_lock:
        lock = _path_locks.setdefault(path, threading.Lock())
    with lock:
        yield


# --------------------------------------------------------------------------- client


def available() -> bool:
    """Whether this system has what the service needs (Unix sockets, a user id)."""
    return hasattr(socket, "AF_UNIX") and hasattr(os, "getuid")


def service_address() -> Path:
    """The socket of the service for this user and this code: another version of the
    package, of the analysis libraries, of ffmpeg or of the numba cache gets its own."""
    from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

    identity = repr((sys.executable, _code_identity(), ffmpeg_exe(),
                     os.environ.get("NUMBA_CACHE_DIR")))  # fmt: skip
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    # machine-local (a home on a network share would not carry it between machines) and
    # short: a socket's path has a limit of about 100 bytes
    for base in (tempfile.gettempdir(), "/tmp"):
        address = Path(base) / f"soundcloud-sync-{os.getuid()}" / f"analysis-{digest}.sock"
        if len(os.fsencode(address)) <= _MAX_SOCKET_PATH:
            break
    return address


@functools.cache
def _code_identity() -> tuple[object, ...]:
    from importlib.metadata import version

    import soundcloud_sync
    from soundcloud_sync.files import python_files_identity

    package = Path(soundcloud_sync.__file__).parent
    libraries = [version(name) for name in ("librosa", "numba", "numpy", "scipy")]
    return str(package), python_files_identity(package), tuple(libraries)


class AnalysisService:
    """The runs' side: measure a track in the machine's analysis process, starting it
    when nobody has; None when it cannot be reached (the caller measures the track)."""

    def __init__(self, idle_seconds: float) -> None:
        self.address: Path | None = None
        # why a track was measured in the run's own process instead (the latest reason)
        self.unreachable: str | None = None
        try:
            self.address = service_address()
        except Exception as exc:  # no ffmpeg, an unreadable package file: measure here
            self.unreachable = f"no address for the analysis process ({exc!r})"
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._starts = 0
        self._last_start = -START_GRACE_SECONDS
        self._given_up = False
        self.measured_by: dict[str, int] = {}  # which process measured how many tracks

    def describe(self) -> str:
        """Which processes measured the tracks, in words for the run's metadata."""
        here = self.measured_by.get("here", 0)
        there = {k: n for k, n in self.measured_by.items() if k != "here"}
        parts = [f"the machine's analysis process ({k}): {n}" for k, n in there.items()]
        if here:
            parts.append(f"this run's process: {here} ({self.unreachable})")
        return "; ".join(parts) or "nothing measured"

    def measure(self, job: TrackJob) -> AnalysisResult | None:
        """The track measured by the service, or None (reason in ``unreachable``)."""
        try:
            result, pid = self._ask(job)
        except _Unreachable as exc:
            self._count("here", str(exc))
            return None
        except Exception as exc:  # it died mid-track, or anything else: measured here
            self._count("here", f"the analysis process stopped answering ({exc!r})")
            return None
        self._count(f"pid {pid}")
        return result

    def _count(self, by: str, why: str | None = None) -> None:
        with self._lock:
            self.measured_by[by] = self.measured_by.get(by, 0) + 1
            if why:
                self.unreachable = why

    def _ask(self, job: TrackJob) -> tuple[AnalysisResult, int]:
        if self.address is None:
            raise _Unreachable(self.unreachable or "no address for the analysis process")
        address = self.address
        with self._connect(address) as conn:
            conn.send(job)
            deadline = time.monotonic() + TRACK_SECONDS
            while not conn.poll(5.0):  # measuring; unless it died or hangs
                if time.monotonic() > deadline or not _serving(address):
                    self._given_up = True  # the next tracks do not wait for it again
                    raise _Unreachable("the analysis process stopped answering")
            pid, result = conn.recv()
        if result is None:  # it raised: measured here again, to raise the real error here
            raise _Unreachable(f"the analysis process failed on {job.path}")
        return result, pid

    def _connect(self, address: Path) -> Connection:
        if not _private(address.parent):
            raise _Unreachable(f"{address.parent} is not this user's alone")
        deadline = time.monotonic() + START_WAIT_SECONDS
        while not self._given_up:
            conn = _try_connect(address)
            if conn is not None:
                return conn
            with self._lock:  # nobody serves or starts: start one (again, if it died)
                if time.monotonic() - self._last_start > START_GRACE_SECONDS and not _serving(
                    address
                ):
                    if self._starts >= MAX_STARTS:
                        self._given_up = True
                        break
                    _start(address, self.idle_seconds)
                    self._starts += 1
                    self._last_start = time.monotonic()
                # another thread's start counts as this one's
                waited_for = max(deadline, self._last_start + START_WAIT_SECONDS)
            if time.monotonic() > waited_for:
                self._given_up = True  # the next tracks do not wait again
            time.sleep(0.1)
        raise _Unreachable(f"no analysis process answered at {address}")


class _Unreachable(Exception):
    pass


def _try_connect(address: Path) -> Connection | None:
    """An authenticated connection, or None; never waits long on a silent service."""
    try:
        key = _key_path(address).read_bytes()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(HANDSHAKE_SECONDS)
        sock.connect(str(address))
        sock.settimeout(None)
        _bounded_handshake(sock)
        conn = Connection(sock.detach())
    except OSError:
        return None
    try:
        if not conn.poll(HANDSHAKE_SECONDS):
            raise TimeoutError("the analysis process did not greet")
        answer_challenge(conn, key)
        deliver_challenge(conn, key)
    except (OSError, EOFError, AuthenticationError, AssertionError):
        conn.close()
        return None
    return conn


def _bounded_handshake(sock: socket.socket) -> None:
    """Reads on the socket fail after HANDSHAKE_SECONDS instead of waiting for ever (the
    fd stays blocking for `Connection`); a job's answer is awaited with `poll` instead."""
    sock.setsockopt(
        socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(HANDSHAKE_SECONDS), 0)
    )


def _serving(address: Path) -> bool:
    """Whether a service holds the address's lock (it serves, or is loading to serve).
    Creates nothing: a lock file that is not there has no holder."""
    from filelock import FileLock, Timeout

    if not Path(f"{address}.lock").exists():
        return False
    lock = FileLock(f"{address}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def _private(folder: Path) -> bool:
    """The service's folder exists (made now if not), is this user's, and no one else's."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700, parents=True)
    info = folder.lstat()
    return info.st_uid == os.getuid() and not info.st_mode & 0o077 and folder.is_dir()


def _start(address: Path, idle_seconds: float) -> None:
    """Start a service that no run owns: it detaches (a second fork) so a run's end, or
    the clean-up after a dead run, never takes it down with the run's children."""
    import soundcloud_sync
    from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

    keep = {k: v for k, v in os.environ.items()
            if k in _ENV_KEPT or k.startswith(_ENV_KEPT_PREFIXES)}  # fmt: skip
    # the very package the run imported, even one found by its folder or a test's path
    package_root = str(Path(soundcloud_sync.__file__).resolve().parents[1])
    keep["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, keep.get("PYTHONPATH")]))
    # -P: the package the run imported, not a soundcloud_sync folder where it was started
    command = [sys.executable, "-P", "-m", "soundcloud_sync.audio.service", str(address),
               "--idle-seconds", f"{idle_seconds:g}", "--ffmpeg", ffmpeg_exe()]  # fmt: skip
    with open(address.with_suffix(".log"), "ab") as log:
        starter = subprocess.Popen(command, env=keep, cwd=address.parent,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, close_fds=True)  # fmt: skip
    with contextlib.suppress(subprocess.TimeoutExpired):
        starter.wait(timeout=10)  # it forks and exits at once


def _key_path(address: Path) -> Path:
    return address.with_suffix(".key")


# --------------------------------------------------------------------------- service


class _Service:
    """Accepts runs' connections and measures their tracks, one core's worth at a time."""

    def __init__(self, address: Path, idle_seconds: float) -> None:
        self.address = address
        self.idle_seconds = idle_seconds
        self.key = secrets.token_bytes(32)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        self.slots = threading.BoundedSemaphore(cores or os.cpu_count() or 1)
        self.busy = 0
        self.last_work = time.monotonic()
        self._lock = threading.Lock()

    def serve(self) -> None:
        key_path = _key_path(self.address)
        temporary = key_path.with_suffix(f".key.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.key)
        os.replace(temporary, key_path)
        self.address.unlink(missing_ok=True)  # a dead service's socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(self.address))
            bound = self.address.stat().st_ino
            listener.listen(64)
            listener.settimeout(1.0)
            while not self._done(bound):
                try:
                    sock, _ = listener.accept()
                except TimeoutError:
                    continue
                sock.settimeout(None)
                _bounded_handshake(sock)
                with self._lock:  # counted from here: an idle close never drops it
                    self.busy += 1
                threading.Thread(target=self._answer, args=(sock,), daemon=True).start()
            if self._ours(bound):  # not a successor's (started after ours was removed)
                self.address.unlink(missing_ok=True)
                key_path.unlink(missing_ok=True)
        while self.busy:  # tracks accepted before the close are finished and answered
            time.sleep(0.1)

    def _done(self, bound: int) -> bool:
        """Idle long enough, or its socket is gone or another's (removed by a cleaner).
        Busy with no answer for TRACK_SECONDS: stuck (an ffmpeg hanging on a file), and
        it goes, so the runs start another instead of waiting on it."""
        with self._lock:
            quiet = time.monotonic() - self.last_work
            if self.busy and quiet >= TRACK_SECONDS:
                with contextlib.suppress(OSError):
                    if self._ours(bound):
                        self.address.unlink()
                os._exit(1)
            idle = not self.busy and quiet >= self.idle_seconds
        return idle or not self._ours(bound)

    def _ours(self, bound: int) -> bool:
        try:
            return self.address.stat().st_ino == bound
        except OSError:
            return False

    def _answer(self, sock: socket.socket) -> None:
        try:
            with Connection(sock.detach()) as conn:
                job = self._receive(conn)
                if job is None:
                    return
                with self.slots:
                    if conn.poll(0):  # its caller left while it waited for a core
                        return
                    try:
                        result = measure_track(job)
                    except Exception:  # the run measures it itself and raises it there
                        result = None
                with contextlib.suppress(OSError):
                    conn.send((os.getpid(), result))
        finally:
            with self._lock:
                self.busy -= 1
                self.last_work = time.monotonic()

    def _receive(self, conn: Connection) -> TrackJob | None:
        """The caller's job once both sides proved they hold the key; None otherwise."""
        try:
            deliver_challenge(conn, self.key)
            answer_challenge(conn, self.key)
            if not conn.poll(HANDSHAKE_SECONDS):
                return None  # a caller that went silent
            job = conn.recv()
        except (OSError, EOFError, AuthenticationError, AssertionError):
            return None
        return job if isinstance(job, TrackJob) else None


def main(argv: Sequence[str] | None = None) -> int:
    from filelock import FileLock, Timeout

    parser = argparse.ArgumentParser(prog="python -m soundcloud_sync.audio.service")
    parser.add_argument("address", type=Path)
    parser.add_argument("--idle-seconds", type=float, default=300)
    parser.add_argument("--ffmpeg", help="the ffmpeg the runs use (FFMPEG_BINARY, resolved)")
    args = parser.parse_args(argv)
    if os.fork():  # detached: the run that started it reaps this parent at once
        return 0
    lock = FileLock(f"{args.address}.lock")
    try:
        lock.acquire(timeout=2)  # a run's probe holds it for microseconds, a service for life
    except Timeout:
        print(f"another process serves {args.address}", flush=True)
        return 0
    try:
        from soundcloud_sync.audio.analysis import configure_numba_cache, warm_up
        from soundcloud_sync.audio.ffmpeg import use_ffmpeg

        use_ffmpeg(args.ffmpeg)
        configure_numba_cache()
        warm_up()  # before the socket exists: a run that connects is served at once
        _Service(args.address, args.idle_seconds).serve()
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    # the module's own names, not __main__'s: the runs' pickles name soundcloud_sync's
    from soundcloud_sync.audio import service

    raise SystemExit(service.main())
