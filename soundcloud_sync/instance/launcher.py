"""Runs forked from a process that has already imported their code: the local launcher.

Dagster's default launcher asks the code server to start each run in a new Python
process (multiprocessing's spawn), which imports Dagster and the project again before the
run does any work: about half of the ~3 CPU-seconds a run of this project cost before
its first track (`bench/scale.py`, back to back: 3.2 then 1.7), paid again by each of
the hundreds of runs of a DJ's first import. This
launcher starts each run as a fork of one process per machine (multiprocessing's fork
server) that imported the run's code module once. The run is then executed as
`dagster api execute_run` executes it, and records its process as its worker
(`workers`), so a run killed on its way is cleaned up like any other.

What stays Dagster's:
- a run whose code is not a Python module (a file, a remote location), or a fork server
  that cannot start, goes through the default launcher, which says why in the run's log
  (as does a run whose fork server could not import its code: it imports it itself);
- stale code never runs: the fork server is started again when a file of the code's
  package changes, so a run never executes code older than its files;
- termination is the code server's: SIGINT to the run's process, which Dagster turns
  into an interrupted run;
- a run whose process died is seen by Dagster's run monitoring within seconds, as the
  code server saw the runs it spawned (the launcher reports the process's health).

The fork server is a plain child of the process that launches runs (the daemon, or the
UI for a run launched without a queue) and ends with it; runs already forked go on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from importlib.machinery import PathFinder
from importlib.metadata import version
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

import psutil
from dagster import DagsterInstance, DagsterRun, DefaultRunLauncher
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus

from ..files import python_files_identity
from .workers import ProcessId, run_worker, worker_tags

FORKED_TAG = "soundcloud_sync/forked_from"  # the module the fork server had imported

_log = logging.getLogger(__name__)
# multiprocessing has one fork server per process: what it imported, and who may change it
_fork_server_lock = threading.Lock()
_preloaded: tuple[object, ...] | None = None
_cannot_import: tuple[object, ...] | None = None  # code whose import killed the fork server


class PreloadedRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher, except that a run of a Python module's code starts as a
    fork of a process that imported that module once (see the module's docstring)."""

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        module = code_module(run)
        if module is None:
            super().launch_run(context)
            return
        try:
            process = fork_run(module, run.run_id, self._instance.get_ref())
        except Exception as exc:  # nothing started: the default path still works
            self._instance.report_engine_event(
                f"Could not fork this run from a process with {module.name} imported "
                f"({type(exc).__name__}: {exc}); starting it through the code server",
                run,
                cls=self.__class__,
            )
            super().launch_run(context)
            return
        self._run_ids.add(run.run_id)
        try:  # the run is executing: whatever fails now must not fail or relaunch it
            self._instance.add_run_tags(
                run.run_id, {FORKED_TAG: module.name, **worker_tags(process)}
            )
        except Exception:  # the run tags its own worker when its first step starts
            _log.warning("could not tag run %s with its process", run.run_id, exc_info=True)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """Dagster's run monitoring asks every few seconds (`poll_interval_seconds`): a
        forked run whose process is gone is marked failed then, as the code server marks
        a spawned run whose process died. Runs not forked here are not judged."""
        worker = run_worker(run.tags) if FORKED_TAG in run.tags else None
        if worker is not None and worker.is_gone():
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the process running this run ({worker.host} pid {worker.pid}) is gone "
                "(killed or crashed)",
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        if run is None or FORKED_TAG not in run.tags:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        worker = run_worker(run.tags)
        process = worker.process() if worker is not None else None
        if process is None:
            self._instance.report_engine_event(
                "The run's process is gone: nothing to interrupt", run, cls=self.__class__
            )
            return False
        process.send_signal(signal.SIGINT)  # Dagster's interrupt, as the code server sends
        return True


@dataclass(frozen=True)
class CodeModule:
    """Where a run's code is imported from: a module, and the folder it is found in."""

    name: str
    working_directory: str | None

    def identity(self) -> tuple[object, ...] | None:
        """What the fork server's import depends on: every Python file of the module's
        top-level package with its mtime, Dagster's version and the `.env` the settings
        read. None when a fork server would not import the module from the files the
        code server does. Found without importing the module."""
        top = self.name.split(".")[0]
        spec = importlib.util.find_spec(top)  # as the fork server this process starts finds it
        if spec is None or spec.origin is None:
            return None
        if self.working_directory:  # the code server looks there first
            first = PathFinder.find_spec(top, [self.working_directory])
            if first is not None and first.origin != spec.origin:
                return None
        folders = spec.submodule_search_locations or [os.path.dirname(spec.origin)]
        dotenv = Path.cwd() / ".env"  # the fork server's, and so the runs', working folder
        return (
            self.name,
            tuple(python_files_identity(Path(folder)) for folder in folders),
            version("dagster"),
            dotenv.stat().st_mtime_ns if dotenv.exists() else None,
        )


def code_module(run: DagsterRun) -> CodeModule | None:
    """The Python module a run's code is loaded from, or None: a file, a remote origin,
    or another interpreter than this one (its packages may differ)."""
    from dagster._core.code_pointer import ModuleCodePointer, PackageCodePointer

    origin = run.job_code_origin
    if origin is None:
        return None
    pointer = origin.repository_origin.code_pointer
    executable = origin.repository_origin.executable_path
    if executable and os.path.realpath(executable) != os.path.realpath(sys.executable):
        return None
    if isinstance(pointer, (ModuleCodePointer, PackageCodePointer)):
        return CodeModule(pointer.module, pointer.working_directory)
    return None


def fork_run(module: CodeModule, run_id: str, instance_ref: InstanceRef) -> ProcessId:
    """Start the run as a fork of the fork server, which imports ``module`` from its
    current files first, and return the run's process. Raises when nothing started."""
    global _preloaded, _cannot_import
    with _fork_server_lock:
        identity = module.identity()
        if identity is None:
            raise LookupError(f"{module.name} is not found where the code server finds it")
        if identity == _cannot_import:
            raise ImportError(f"{module.name} failed to import in the fork server")
        if _preloaded != identity:
            leave_fork_server()
            forkserver.set_forkserver_preload([module.name])
            _preloaded = identity
        process = multiprocessing.get_context("forkserver").Process(
            target=execute_run, args=(run_id, instance_ref, module.name)
        )
        try:
            process.start()
        except Exception:
            if not _fork_server_alive():  # its import failed: not again for this code
                _cannot_import = identity
            raise
        # the fork server reaps it; left in multiprocessing's list, the launching process
        # would wait at its exit for every run it started to end
        multiprocessing.process._children.discard(process)  # type: ignore[attr-defined]
    assert process.pid is not None
    try:
        return ProcessId.of(psutil.Process(process.pid))
    except psutil.Error:  # over already: recorded as gone, so a run left behind is reaped
        return ProcessId(socket.gethostname(), process.pid, 0.0)


def leave_fork_server() -> None:
    """Let go of the fork server: the next fork starts a new one. The old one ends when
    the runs it forked have (each holds its end of the pipe that keeps it alive), and is
    reaped then by a thread of its own, so a launch never waits for those runs."""
    server: Any = forkserver._forkserver  # multiprocessing's one fork server per process
    with server._lock:
        pid, alive = server._forkserver_pid, server._forkserver_alive_fd
        address = server._forkserver_address
        if pid is None:
            return
        server._forkserver_pid = server._forkserver_alive_fd = server._forkserver_address = None
    os.close(alive)
    if isinstance(address, str) and not address.startswith("\0"):
        with contextlib.suppress(OSError):
            os.unlink(address)  # a socket file (an abstract address has none)
    threading.Thread(target=_reap, args=(pid,), name="fork server reaper", daemon=True).start()


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _fork_server_alive() -> bool:
    pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    if pid is None:
        return False
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def execute_run(run_id: str, instance_ref: InstanceRef, module: str) -> None:
    """The run's process: what `dagster api execute_run` does with its arguments."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._utils.interrupts import capture_interrupts

    preloaded = module in sys.modules  # the fork server drops an ImportError silently
    with capture_interrupts(), DagsterInstance.from_ref(instance_ref) as instance:
        run = instance.get_run_by_id(run_id)
        if not preloaded and run is not None:
            instance.report_engine_event(
                f"The fork server could not import {module} (an ImportError there): this "
                "run imports it itself, which costs what a new process would",
                run,
            )
        _execute_run_command_body(
            run_id, instance, write_stream_fn=lambda _: None, set_exit_code_on_failure=False
        )
