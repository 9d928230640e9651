"""CPU-seconds of a command and every process it starts, and where they went.

Used by bench/run_cost.py and bench/scale.py. The bench process becomes a child
subreaper (Linux `prctl`), so every descendant of a command — the CLI, the server its
steps fork from, the step processes, ffmpeg, the daemon's run workers — is reaped here
at the latest, and `getrusage(RUSAGE_CHILDREN)` counts all of their user+system time,
however short-lived. A sampler reads /proc every 0.1 s to say which process spent what
(short-lived processes are partly missed there: the total is exact, the breakdown not).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

PR_SET_CHILD_SUBREAPER = 36
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process (and reaped by it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def children_cpu() -> float:
    """User+system seconds of every reaped descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def reap_orphans(timeout: float = 30.0, keep: set[int] | None = None) -> None:
    """Wait for descendants left running after their parent exited (re-parented here)."""
    deadline = time.monotonic() + timeout
    keep = keep or set()
    while time.monotonic() < deadline:
        orphans = [p for p in _direct_children(os.getpid()) if p not in keep]
        if not orphans:
            return
        for pid in orphans:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)


def _direct_children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.extend(int(c) for c in fh.read().split())
    except OSError:
        pass
    return found


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in _direct_children(p):
            out.append(c)
            todo.append(c)
    return out


def _proc_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def _label(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return "?"
    if not argv:
        return "?"
    name = os.path.basename(argv[0])
    if name.startswith("python") and len(argv) > 1:
        rest = argv[1:]
        if rest[0] == "-c" and len(rest) > 1:
            text = rest[1]
            if "forkserver" in text:
                return "fork server (and the runs forked from it)"
            if "spawn_main" in text or "multiprocessing" in text:
                return "multiprocessing child"
            return "python -c"
        if rest[0] == "-m" and len(rest) > 1:
            return f"python -m {rest[1]}"
        return "python " + " ".join(os.path.basename(a) for a in rest[:3])
    if name in ("soundcloud-sync", "dagster", "dagster-daemon", "dagster-webserver"):
        return " ".join([name, *argv[1:3]])
    return name


@dataclass
class ProcessSampler:
    """Per-process CPU of a process tree, sampled from /proc."""

    roots: list[int]
    interval: float = 0.1
    seen: dict[int, tuple[str, float]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ProcessSampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for root in self.roots:
                for pid in [root, *descendants(root)]:
                    cpu = _proc_cpu(pid)
                    if cpu is None:
                        continue
                    label = self.seen[pid][0] if pid in self.seen else _label(pid)
                    self.seen[pid] = (label, cpu)
            self._stop.wait(self.interval)

    def by_label(self) -> dict[str, tuple[int, float]]:
        """label -> (processes seen, CPU-seconds seen)."""
        out: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for label, cpu in self.seen.values():
            out[label][0] += 1
            out[label][1] += cpu
        return {k: (int(v[0]), v[1]) for k, v in out.items()}


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def wait_all(pid: int) -> int:
    """Wait for ``pid``; returns its exit code."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except InterruptedError:
            continue
        except ChildProcessError as exc:
            if exc.errno == errno.ECHILD:
                return 0
            raise
