"""A run's steps in threads of the run's own process: the local executor.

Why not a process per step (Dagster's multiprocess executor)? Measured on a whole-chain
sync (bench/run_cost.py), each step process cost ~0.7 CPU-seconds before doing any work
— opening the instance again (Dagster's storage modules, alembic reading its ~350
migration scripts to check the schema, SQLite set-up), rebuilding the job, starting its
log capture — and the server they were forked from another ~2.5: about 10 of the ~20
CPU-seconds an unchanged re-sync cost. A step of this project waits on the network
(SoundCloud, Notion at 3 requests/s, Eagle) or runs ffmpeg and numpy, which release the
GIL, so threads give the same overlap the README promises — the Notion pages are written
while the audio is downloaded and measured — for none of that cost.

What stays as Dagster does it: the execution plan, pools (a step waits for its
`notion_api`/`soundcloud_api` slot before it starts), step events and materializations
in the event log, one log capture for the run (as Dagster's in-process executor does).
A step cannot be stopped from outside its thread: on a termination request no new step
starts, the run is marked interrupted, and the process ends with it (a run killed with
SIGKILL is cleaned up by `workers.reap_dead_runs`, as before).

Dagster has no public hook for running a plan's steps (only for declaring an executor),
so this module drives its execution plan through private names, as its own in-process
and multiprocess executors do; they are pinned to one Dagster minor (test_packaging.py).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from dagster import DagsterEvent, DagsterExecutionInterruptedError, Executor, Field, executor
from dagster._core.events import EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import dagster_event_sequence_for_step
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._utils.error import serializable_error_info_from_exc_info

# Steps of one run at once: the Notion branch and the audio branch, with room for the
# exports; more only adds threads that wait for the same pools.
DEFAULT_MAX_CONCURRENT = 4
_DONE = object()


class ThreadedExecutor(Executor):
    """Executes a run's steps in threads of this process, ``max_concurrent`` at once."""

    def __init__(self, max_concurrent: int, capture_logs: bool = True) -> None:
        self._max_concurrent = max(1, max_concurrent)
        self._capture_logs = capture_logs

    @property
    def retries(self) -> RetryMode:
        return RetryMode.DISABLED

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        steps = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in threads of process {os.getpid()}, {self._max_concurrent} at once",
            event_specific_data=EngineEventData.in_process(os.getpid(), steps),
        )
        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=self._iterate,
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                ),
            )
        )

    def _iterate(
        self, job_context: PlanExecutionContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        with (
            InstanceConcurrencyContext(job_context.instance, job_context.dagster_run) as claims,
            execution_plan.start(
                retry_mode=self.retries,
                max_concurrent=self._max_concurrent,
                instance_concurrency_context=claims,
            ) as active,
            ExitStack() as capture,
        ):
            if self._capture_logs:
                yield from _capture_run_logs(job_context, execution_plan, capture)
            events: queue.Queue[tuple[str, Any]] = queue.Queue()
            running: dict[str, threading.Thread] = {}
            stopping = False
            while (not stopping and not active.is_complete) or running:
                if not stopping and active.check_for_interrupts():
                    stopping = True
                    active.mark_interrupted()
                    yield DagsterEvent.engine_event(
                        job_context,
                        "Termination requested: no further step starts; "
                        f"{', '.join(running) or 'no step'} still running",
                        EngineEventData.interrupted(list(running)),
                    )
                while not stopping:
                    ready = active.get_steps_to_execute(limit=self._max_concurrent - len(running))
                    yield from active.concurrency_event_iterator(job_context)
                    if not ready:
                        break
                    for step in ready:
                        step_context = job_context.for_step(step, active.get_known_state())
                        thread = threading.Thread(
                            target=_run_step,
                            args=(step.key, step_context, events),
                            name=f"step {step.key}",
                            daemon=True,
                        )
                        running[step.key] = thread
                        thread.start()
                if not running:
                    if not stopping and not active.is_complete:
                        active.sleep_til_ready()
                    yield from active.plan_events_iterator(job_context)
                    continue
                yield from self._drain(job_context, active, events, running)
                yield from active.plan_events_iterator(job_context)
            if stopping:
                raise DagsterExecutionInterruptedError()

    def _drain(
        self,
        job_context: PlanExecutionContext,
        active: Any,
        events: queue.Queue[tuple[str, Any]],
        running: dict[str, threading.Thread],
    ) -> Iterator[DagsterEvent]:
        """Pass on what the step threads reported; close the steps that finished."""
        try:
            item = events.get(timeout=0.2)
        except queue.Empty:
            return
        while True:
            key, payload = item
            if payload is _DONE:
                running.pop(key).join()
                active.verify_complete(job_context, key)
            elif isinstance(payload, DagsterEvent):
                yield payload
                active.handle_event(payload)
            else:  # the step's machinery itself raised: the step failed
                raise payload
            try:
                item = events.get_nowait()
            except queue.Empty:
                return


def _capture_run_logs(
    job_context: PlanExecutionContext, execution_plan: ExecutionPlan, capture: ExitStack
) -> Iterator[DagsterEvent]:
    """One stdout/stderr capture for the whole run (the UI's log view), as Dagster's
    in-process executor does."""
    manager = job_context.instance.compute_log_manager
    step_keys = [s.key for s in execution_plan.get_steps_to_execute_in_topo_order()]
    log_key = manager.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())
    try:
        log_context = capture.enter_context(manager.capture_logs(log_key))
        yield DagsterEvent.capture_logs(job_context, step_keys, log_key, log_context)
    except Exception:
        yield DagsterEvent.engine_event(
            job_context,
            "Exception while setting up compute log capture",
            EngineEventData(error=serializable_error_info_from_exc_info(sys.exc_info())),
        )


def _run_step(key: str, step_context: Any, events: queue.Queue[tuple[str, Any]]) -> None:
    try:
        for event in dagster_event_sequence_for_step(step_context):
            events.put((key, event))
    except BaseException as exc:
        events.put((key, exc))
    finally:
        events.put((key, _DONE))


@executor(
    name="local_threads",
    config_schema={
        "max_concurrent": Field(
            int,
            default_value=DEFAULT_MAX_CONCURRENT,
            description="Steps of the run at once, each in a thread of the run's process.",
        ),
        "capture_logs": Field(
            bool,
            default_value=True,
            description="Capture the process's stdout/stderr for the UI's log view while "
            "the run executes (off for runs inside a caller's own program).",
        ),
        "in_process": Field(
            bool,
            default_value=False,
            description="One step at a time (earlier releases ran steps in processes and "
            "this asked for the run's own process).",
        ),
    },
)
def threaded_executor(init_context: Any) -> ThreadedExecutor:
    config = init_context.executor_config
    concurrent = 1 if config["in_process"] else int(config["max_concurrent"])
    return ThreadedExecutor(concurrent, capture_logs=bool(config["capture_logs"]))
