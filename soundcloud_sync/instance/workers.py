"""Which processes execute a run, and cleaning up after runs whose process died.

A run killed with SIGKILL (an OOM kill, a closed laptop lid, a power cut) cannot say
so: Dagster keeps it STARTED and keeps its pool slots claimed, so every later run
waits for a slot that is never given back. Each run therefore records its worker (the
process that orchestrates it) and its step processes as run tags — host, pid and the
process's start time, so a recycled pid is never mistaken for the run. Whoever starts
a run, and every daemon tick, asks `reap_dead_runs`: a run whose worker is gone is
reported failed with the reason, its step processes still running are stopped (they
would otherwise race the next run), and its pool slots are freed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

WORKER_HOST_TAG = "soundcloud_sync/worker_host"
WORKER_PID_TAG = "soundcloud_sync/worker_pid"
WORKER_STARTED_TAG = "soundcloud_sync/worker_started"
# One tag per step process: `soundcloud_sync/step_process/<pid>` = "<host> <start time>".
STEP_PROCESS_PREFIX = "soundcloud_sync/step_process/"
# Runs that have (or had) a process executing them.
RUNNING = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
# Start times are compared to the hundredth of a second (the tag's precision).
_SAME_START = 0.02


@dataclass(frozen=True)
class ProcessId:
    """A process that cannot be confused with a later one reusing its pid."""

    host: str
    pid: int
    started: float

    @classmethod
    def current(cls) -> ProcessId:
        return cls.of(psutil.Process())

    @classmethod
    def of(cls, process: psutil.Process) -> ProcessId:
        return cls(socket.gethostname(), process.pid, round(process.create_time(), 2))

    @property
    def is_local(self) -> bool:
        return self.host == socket.gethostname()

    def process(self) -> psutil.Process | None:
        """The live process, or None when it is gone (or is another host's)."""
        if not self.is_local:
            return None
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.started) > _SAME_START:
                return None  # the pid was reused by a later process
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process
        except psutil.Error:
            return None

    def is_gone(self) -> bool:
        """Known to be dead: a process of this host that no longer runs."""
        return self.is_local and self.process() is None


def worker_tags(worker: ProcessId | None = None) -> dict[str, str]:
    """The tags naming a run's worker (this process unless given)."""
    worker = worker or ProcessId.current()
    return {
        WORKER_HOST_TAG: worker.host,
        WORKER_PID_TAG: str(worker.pid),
        WORKER_STARTED_TAG: f"{worker.started:.2f}",
    }


def run_worker(tags: Mapping[str, str]) -> ProcessId | None:
    """The worker a run recorded, or None when it has not recorded one (yet)."""
    try:
        return ProcessId(
            tags[WORKER_HOST_TAG], int(tags[WORKER_PID_TAG]), float(tags[WORKER_STARTED_TAG])
        )
    except (KeyError, ValueError):
        return None


def step_processes(tags: Mapping[str, str]) -> list[ProcessId]:
    """The step processes a run recorded."""
    found = []
    for key, value in tags.items():
        if not key.startswith(STEP_PROCESS_PREFIX):
            continue
        try:
            host, started = value.rsplit(" ", 1)
            found.append(ProcessId(host, int(key[len(STEP_PROCESS_PREFIX) :]), float(started)))
        except ValueError:
            continue
    return found


def record_step_process(instance: DagsterInstance, run_id: str) -> None:
    """Tag the run with this step process, and with its worker when nobody has yet.

    Runs launched by the daemon or the UI start in a process we do not control; their
    worker is the ancestor of this step process (or this process itself, when the steps
    run in the worker's threads) whose pid Dagster logged at RUN_START.
    """
    run = instance.get_run_by_id(run_id)
    if run is None:
        return
    me = ProcessId.current()
    worker = run_worker(run.tags)
    if worker is not None and (worker.host, worker.pid) == (me.host, me.pid):
        return  # steps run in the worker's own process: it is no step process to stop
    tags = {}
    if worker is None:
        worker = _worker_among_ancestors(instance, run_id)
        if worker is not None:
            tags.update(worker_tags(worker))
    if worker is None or (worker.host, worker.pid) != (me.host, me.pid):
        tags[f"{STEP_PROCESS_PREFIX}{me.pid}"] = f"{me.host} {me.started:.2f}"
    if tags:
        instance.add_run_tags(run_id, tags)


def _worker_among_ancestors(instance: DagsterInstance, run_id: str) -> ProcessId | None:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.RUN_START, limit=1
    ).records
    event = records[0].event_log_entry.dagster_event if records else None
    pid = event.pid if event is not None else None
    if pid is None:
        return None
    for process in [psutil.Process(), *psutil.Process().parents()]:
        if process.pid == pid:
            return ProcessId.of(process)
    return None


def reap_dead_runs(instance: DagsterInstance) -> list[str]:
    """Fail the runs whose worker died, stop their step processes, free their slots.

    Also frees the slots (and stops the step processes) of finished runs that still
    hold some: a run marked failed by the code server when its process died keeps its
    slots until someone gives them back. Returns one line per run cleaned up.
    """
    reaped = []
    for run in instance.get_runs(RunsFilter(statuses=RUNNING)):
        worker = run_worker(run.tags)
        if worker is None or not worker.is_gone():
            continue
        stopped = stop_step_processes(run)
        reason = (
            f"the process running this run ({worker.host} pid {worker.pid}) is gone "
            f"(killed or crashed); marked failed, {stopped} step process(es) stopped and "
            "its pool slots freed, so the next run can start"
        )
        current = instance.get_run_by_id(run.run_id)
        if current is not None and current.status in RUNNING:
            instance.report_run_failed(current, reason)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(f"run {run.run_id}: {reason}")
    reaped.extend(_free_slots_of_finished_runs(instance))
    return reaped


def _free_slots_of_finished_runs(instance: DagsterInstance) -> list[str]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holding = storage.get_concurrency_run_ids()
    if not holding:
        return []
    freed = []
    for run in instance.get_runs(RunsFilter(run_ids=list(holding), statuses=FINISHED)):
        stopped = stop_step_processes(run)
        storage.free_concurrency_slots_for_run(run.run_id)
        freed.append(
            f"run {run.run_id} ({run.status.value}) still held pool slots: freed, "
            f"{stopped} step process(es) stopped"
        )
    return freed


def stop_step_processes(run: DagsterRun) -> int:
    """Kill the run's step processes still running on this host, with their children."""
    stopped = 0
    spared = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    for step in step_processes(run.tags):
        process = step.process()
        if process is None or process.pid in spared:  # never this process or its callers
            continue
        try:
            victims = [*process.children(recursive=True), process]
        except psutil.Error:
            victims = [process]
        for victim in victims:
            try:
                victim.kill()
            except psutil.Error:
                continue
        psutil.wait_procs(victims, timeout=5)
        stopped += 1
    return stopped
