"""The incremental sync of every registered playlist (daily by default)."""

import os

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from ..runs.workers import reap_dead_runs
from .jobs import audit_playlist_job, sync_playlist_job
from .partitions import PLAYLIST_TAG, PLAYLISTS

SYNC_CRON = os.environ.get("SOUNDCLOUD_SYNC_SCHEDULE", "0 4 * * *")


@schedule(
    job=sync_playlist_job,
    cron_schedule=SYNC_CRON,
    execution_timezone=os.environ.get("SOUNDCLOUD_SYNC_TIMEZONE", "UTC"),
    default_status=DefaultScheduleStatus.RUNNING,
    description="One run per registered playlist; each only touches what changed. "
    "Set SOUNDCLOUD_SYNC_SCHEDULE (cron) to change when.",
)
def incremental_sync_schedule(context: ScheduleEvaluationContext):
    reap_dead_runs(context.instance)  # a dead run's slots would hold the new runs back
    keys = sorted(context.instance.get_dynamic_partitions(PLAYLISTS))
    if not keys:
        return SkipReason("no playlists registered")
    tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
    return [RunRequest(partition_key=k, run_key=f"{k}@{tick}") for k in keys]


@schedule(
    job=audit_playlist_job,
    cron_schedule=os.environ.get("SOUNDCLOUD_SYNC_AUDIT_SCHEDULE", "0 6 * * *"),
    execution_timezone=os.environ.get("SOUNDCLOUD_SYNC_TIMEZONE", "UTC"),
    default_status=DefaultScheduleStatus.RUNNING,
    description="Reads each playlist's pages back from Notion (one request per 100 "
    "tracks): duplicates, and agreement with the catalog.",
)
def notion_audit_schedule(context: ScheduleEvaluationContext):
    keys = sorted(context.instance.get_dynamic_partitions(PLAYLISTS))
    if not keys:
        return SkipReason("no playlists registered")
    tick = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [RunRequest(run_key=f"audit:{k}@{tick}", tags={PLAYLIST_TAG: k}) for k in keys]
