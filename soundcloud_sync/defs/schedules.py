"""The incremental sync of every registered playlist (daily by default)."""

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from ..config import Settings
from ..instance.queue import QUEUED_STATUSES, partitions_with_runs
from ..instance.workers import reap_dead_runs
from .jobs import LISTING, LISTING_STEP, audit_playlist_job, sync_playlist_job
from .partitions import PLAYLIST_TAG, PLAYLISTS


def incremental_sync_schedule(context: ScheduleEvaluationContext):
    reap_dead_runs(context.instance)  # a dead run's slots would hold the new runs back
    keys = sorted(context.instance.get_dynamic_partitions(PLAYLISTS))
    if not keys:
        return SkipReason("no playlists registered")
    # A playlist whose sync still waits in the queue (a first import's backfill that runs
    # through the night) is left to that run: it lists the playlist when it starts, and a
    # second run would wait behind it for nothing. One already running gets its run, which
    # sees what changed after that run's listing (with the sensor off, nothing else would).
    queued = partitions_with_runs(
        context.instance, sync_playlist_job.name, QUEUED_STATUSES, LISTING, LISTING_STEP
    )
    due = [k for k in keys if k not in queued]
    if not due:
        return SkipReason(f"each of the {len(keys)} playlists has a sync waiting in the queue")
    tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
    return [RunRequest(partition_key=k, run_key=f"{k}@{tick}") for k in due]


def notion_audit_schedule(context: ScheduleEvaluationContext):
    keys = sorted(context.instance.get_dynamic_partitions(PLAYLISTS))
    if not keys:
        return SkipReason("no playlists registered")
    tick = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [RunRequest(run_key=f"audit:{k}@{tick}", tags={PLAYLIST_TAG: k}) for k in keys]


def schedules_for(settings: Settings) -> list[ScheduleDefinition]:
    """Both schedules, at the times and in the time zone the settings give."""
    return [
        schedule(
            job=sync_playlist_job,
            cron_schedule=settings.sync_schedule,
            execution_timezone=settings.timezone,
            default_status=DefaultScheduleStatus.RUNNING,
            description="One run per registered playlist; each only touches what changed. "
            "Set SOUNDCLOUD_SYNC_SCHEDULE (cron) to change when.",
        )(incremental_sync_schedule),
        schedule(
            job=audit_playlist_job,
            cron_schedule=settings.audit_schedule,
            execution_timezone=settings.timezone,
            default_status=DefaultScheduleStatus.RUNNING,
            description="Reads each playlist's pages back from Notion (one request per 100 "
            "tracks): duplicates, and agreement with the catalog.",
        )(notion_audit_schedule),
    ]
