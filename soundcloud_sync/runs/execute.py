"""Running the pipeline on the local Dagster instance, for the CLI and the Python API.

Both go through `execute_job` on the same job the UI launches, so every sync done
from a terminal or a script shows up in `dagster dev` as an ordinary run.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    EventLogEntry,
    JobDefinition,
    RunsFilter,
    execute_job,
    reconstructable,
)

from ..config import Settings
from ..defs.partitions import PLAYLIST_TAG
from ..instance.exclusive import playlist_turn
from ..instance.workers import reap_dead_runs, worker_tags

REQUEST_TAG = "soundcloud_sync/request"
# How often the terminal's progress reads the run's new events: each look is a query of
# the event log, so four a second cost a CPU-second a minute; a bar moving once a second
# is as good to watch.
FOLLOW_POLL_SECONDS = 1.0


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failure: str | None = None
    steps_failed: list[str] = field(default_factory=list)
    # What each asset reported when it was materialized: asset key -> plain metadata.
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What a failed step reported with its failure (what it wrote, what it could not).
    failure_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


def run_sync(
    instance: DagsterInstance,
    settings: Settings,
    partition_key: str,
    asset_keys: Iterable[str] | None = None,
    on_event: Callable[[EventLogEntry], None] | None = None,
    origin: str = "cli",
    job_def: Callable[[], JobDefinition] | None = None,
    ops_config: Mapping[str, Any] | None = None,
    in_process: bool = False,
    capture_logs: bool = False,
) -> RunOutcome:
    """Materialize a registered playlist's partition (all assets, or the named ones) and wait for it.

    ``settings``: the caller's (the executor, and where the playlists' locks live);
    ``job_def``: a module-level function returning the job (default `sync_playlist`);
    ``ops_config``: run config per asset (``{"audio_features": {"force": True}}``).
    ``in_process``: run the steps one after the other (the steps run in threads of this
    process either way); ``capture_logs``: the process's stdout/stderr go to the run's
    log (the UI's view) while it executes — for a process of our own, as the CLI's, not
    for a caller's program. Runs left behind by a killed process are cleaned up first, and the run waits its
    turn while another run syncs the same playlist.
    """
    from ..definitions import sync_playlist_job_def

    job_def = job_def or sync_playlist_job_def
    job = reconstructable(job_def)
    if asset_keys:
        # An asset selection alone would pull in every check of those assets, the
        # Notion audit too; keep to the checks the job itself carries.
        selection = {AssetKey.from_user_string(k) for k in asset_keys}
        checks = job_def().asset_layer.asset_graph.asset_check_keys
        job = job.get_subset(
            asset_selection=selection,
            asset_check_selection={c for c in checks if c.asset_key in selection},
        )
    request_id = uuid.uuid4().hex
    stop = threading.Event()
    watcher = None
    if on_event is not None:
        watcher = threading.Thread(
            target=_follow_events, args=(instance, request_id, on_event, stop), daemon=True
        )
        watcher.start()
    try:
        with (
            playlist_turn(instance, settings.home / "state", partition_key),
            execute_job(
                job,
                instance=instance,
                tags={
                    "dagster/partition": partition_key,
                    "soundcloud_sync/origin": origin,
                    REQUEST_TAG: request_id,
                    **worker_tags(),
                },
                # the terminal shows progress; the full log stays in the instance (and the UI)
                run_config={
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                    "ops": {name: {"config": dict(c)} for name, c in (ops_config or {}).items()},
                    **_execution_config(settings, in_process, capture_logs),
                },
            ) as result,
        ):
            return _outcome(result.run_id, result.success, result.all_events)
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=5)


def run_djay(instance: DagsterInstance, settings: Settings, origin: str = "api") -> RunOutcome:
    """Run the `sync_djay` job (djay Pro's library into the catalog and Notion) in this
    process and wait for it; one djay sync at a time, runs left by a killed process
    cleaned up first."""
    from ..definitions import sync_djay_job_def

    with (
        playlist_turn(instance, settings.home / "state", DJAY_TURN),
        execute_job(
            reconstructable(sync_djay_job_def),
            instance=instance,
            tags={"soundcloud_sync/origin": origin, **worker_tags()},
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                **_execution_config(settings, in_process=True, capture_logs=False),
            },
        ) as result,
    ):
        return _outcome(result.run_id, result.success, result.all_events)


DJAY_TURN = "djay"  # the lock djay syncs take turns on (no playlist has this key)


def _execution_config(settings: Settings, in_process: bool, capture_logs: bool) -> dict[str, Any]:
    """The local executor's options; Celery's executor takes none of them."""
    if settings.executor == "celery":
        return {}
    return {"execution": {"config": {"in_process": in_process, "capture_logs": capture_logs}}}


def _outcome(run_id: str, success: bool, events: Sequence[DagsterEvent]) -> RunOutcome:
    failures = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    return RunOutcome(
        run_id=run_id,
        success=success,
        failure=_failure_text(failures),
        steps_failed=[e.step_key or "" for e in failures],
        materialized=_materialized(events),
        failure_metadata=_failure_metadata(failures),
    )


def _materialized(events: Sequence[DagsterEvent]) -> dict[str, dict[str, Any]]:
    """Each materialized asset's metadata as plain values (counts, text, links)."""
    out: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            out[materialization.asset_key.to_user_string()] = {
                name: value.value for name, value in materialization.metadata.items()
            }
    return out


def _failure_metadata(failures: Sequence[DagsterEvent]) -> dict[str, dict[str, Any]]:
    """The metadata each failed step attached to its `Failure`, as plain values."""
    out: dict[str, dict[str, Any]] = {}
    for event in failures:
        data = event.step_failure_data.user_failure_data
        if data is not None and data.metadata:
            out[event.step_key or ""] = {k: v.value for k, v in data.metadata.items()}
    return out


def _failure_text(failures: list) -> str | None:
    """The first failed step's reason on one line: its `Failure` (written for the user),
    else the innermost cause."""
    for event in failures:
        chain = []
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            chain.append(error)
            error = error.cause
        error = next((e for e in chain if e.cls_name == "Failure"), chain[-1] if chain else None)
        if error is not None and error.message:
            line = error.message.strip().splitlines()[-1]
            if error.cls_name == "Failure":  # written for the user: no class path before it
                line = line.split(": ", 1)[-1]
            return f"{event.step_key}: {line}"
    return None


def _follow_events(
    instance: DagsterInstance,
    request_id: str,
    on_event: Callable[[EventLogEntry], None],
    stop: threading.Event,
) -> None:
    """Poll the run's event log (works whatever process executes the steps)."""
    run_id = None
    cursor = None
    while True:
        finished = stop.is_set()
        if run_id is None:
            runs = instance.get_runs(RunsFilter(tags={REQUEST_TAG: request_id}), limit=1)
            run_id = runs[0].run_id if runs else None
        if run_id is not None:
            while True:
                conn = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
                for record in conn.records:
                    on_event(record.event_log_entry)
                cursor = conn.cursor
                if not conn.has_more:
                    break
        if finished:
            return
        stop.wait(FOLLOW_POLL_SECONDS)


def run_audit(instance: DagsterInstance, partition_key: str) -> dict[str, bool]:
    """Run the Notion audit checks for one playlist; check name -> passed."""
    from ..definitions import audit_playlist_job_def

    reap_dead_runs(instance)
    with execute_job(
        reconstructable(audit_playlist_job_def),
        instance=instance,
        tags={PLAYLIST_TAG: partition_key, "soundcloud_sync/origin": "cli", **worker_tags()},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    ) as result:
        evaluations = [
            e.event_specific_data
            for e in result.all_events
            if isinstance(e.event_specific_data, AssetCheckEvaluation)
        ]
        return {e.check_name: e.passed for e in evaluations}
