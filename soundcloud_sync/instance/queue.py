"""What the run queue holds: the playlists whose sync is already on its way."""

from __future__ import annotations

from collections.abc import Collection

from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

# Waiting in the queue or being launched: such a run lists its playlist when it starts.
QUEUED_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
]
UNFINISHED_STATUSES = [*QUEUED_STATUSES, DagsterRunStatus.STARTED]


def partitions_with_runs(
    instance: DagsterInstance,
    job_name: str,
    statuses: Collection[DagsterRunStatus],
    lists: Collection[AssetKey],
    listing_step: str,
) -> set[str]:
    """Playlists with a run in one of ``statuses`` that lists them: one whose assets
    include one of ``lists`` (the listing, which reads the playlist when the run
    starts), whatever launched it (the asset graph's "Materialize" too), or one of
    ``job_name`` that names no assets (the schedule's and the sensor's), and that runs
    the step ``listing_step`` (a re-execution from failure runs only the failed steps).
    Another run of one would queue behind it (one run per playlist at a time)."""
    wanted = set(lists)
    runs = instance.get_runs(RunsFilter(statuses=list(statuses)))
    return {
        key
        for run in runs
        if (key := run.tags.get("dagster/partition"))
        and (
            bool(wanted & run.asset_selection)
            if run.asset_selection is not None
            else run.job_name == job_name
        )
        and (run.step_keys_to_execute is None or listing_step in run.step_keys_to_execute)
    }
