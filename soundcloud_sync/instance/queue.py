"""What the run queue holds: the playlists whose sync is already on its way."""

from __future__ import annotations

from collections.abc import Collection

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

# Waiting in the queue or being launched: such a run lists its playlist when it starts.
QUEUED_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
]
UNFINISHED_STATUSES = [*QUEUED_STATUSES, DagsterRunStatus.STARTED]


def partitions_with_runs(
    instance: DagsterInstance, job_name: str, statuses: Collection[DagsterRunStatus]
) -> set[str]:
    """Playlists with a run of ``job_name`` in one of ``statuses``: another run of one
    would queue behind it (one run per playlist at a time)."""
    runs = instance.get_runs(RunsFilter(job_name=job_name, statuses=list(statuses)))
    return {key for run in runs if (key := run.tags.get("dagster/partition"))}
