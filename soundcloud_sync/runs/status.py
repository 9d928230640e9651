"""Where each playlist's sync stands, for a person watching a long backfill.

A step reports its progress as run tags (`soundcloud_sync/progress/<stage>` = "n/m",
see `instance.progress`): the UI shows them on the run, and `soundcloud-sync status`
reads them back here with the run's state — queued, running (stage, n of m tracks),
done, or failed with the step's reason — and estimates the time left from the pace of
the runs that finished.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from ..instance.progress import progress_of

# The order stages happen in: the one shown for a running run is the latest begun.
STAGES = ("listing", "notion", "download", "analysis", "files", "eagle", "enrichment")

QUEUED = {DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING}
RUNNING = {DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING}


@dataclass
class PlaylistRun:
    """The latest sync of one playlist, as a person reads it."""

    key: str
    state: str  # "queued" | "running" | "done" | "failed" | "canceled" | "never run"
    run_id: str | None = None
    stages: dict[str, tuple[int, int]] = field(default_factory=dict)  # stage -> (n, m)
    reason: str | None = None
    started: float | None = None
    ended: float | None = None

    @property
    def stage(self) -> str | None:
        """The stage in progress (the latest begun that is not complete), else the last."""
        begun = [s for s in STAGES if s in self.stages]
        open_ = [s for s in begun if self.stages[s][0] < self.stages[s][1]]
        chosen = open_ or begun
        return chosen[-1] if chosen else None

    def describe(self) -> str:
        if self.state == "running":
            stage = self.stage
            if stage is None:
                return "running (starting)"
            done, total = self.stages[stage]
            return f"running: {stage} {done} of {total}"
        if self.state == "failed":
            return f"failed: {self.reason or 'see the run in the UI'}"
        return self.state

    def tracks_left(self, typical: int) -> int:
        """Tracks still to go through the slowest stage (audio), for the estimate."""
        if self.state == "queued":
            return typical
        if self.state != "running":
            return 0
        for stage in ("analysis", "download", "notion"):
            if stage in self.stages:
                done, total = self.stages[stage]
                return max(0, total - done)
        return typical


def latest_runs(
    instance: DagsterInstance, keys: Iterable[str], job_name: str = "sync_playlist"
) -> dict[str, PlaylistRun]:
    """Each playlist's latest run of ``job_name`` (newest first; one query for all)."""
    keys = list(keys)
    wanted = set(keys)
    found: dict[str, PlaylistRun] = {}
    records = instance.get_run_records(RunsFilter(job_name=job_name), limit=max(200, 4 * len(keys)))
    for record in records:
        run = record.dagster_run
        key = run.tags.get("dagster/partition")
        if key not in wanted or key in found:
            continue
        found[key] = PlaylistRun(
            key=key,
            state=_state(run),
            run_id=run.run_id,
            stages=progress_of(run.tags),
            reason=_failure_reason(instance, run)
            if run.status == DagsterRunStatus.FAILURE
            else None,
            started=record.start_time,
            ended=record.end_time,
        )
    return {k: found.get(k) or PlaylistRun(key=k, state="never run") for k in keys}


def _state(run: DagsterRun) -> str:
    if run.status in QUEUED:
        return "queued"
    if run.status in RUNNING:
        return "running"
    if run.status == DagsterRunStatus.SUCCESS:
        return "done"
    if run.status == DagsterRunStatus.FAILURE:
        return "failed"
    return run.status.value.lower()


def _failure_reason(instance: DagsterInstance, run: DagsterRun) -> str | None:
    """The failed step's reason on one line, else what the run's failure says (a run
    marked failed because its process died says so)."""
    from .execute import _failure_text

    steps = instance.get_records_for_run(
        run.run_id, of_type=DagsterEventType.STEP_FAILURE, limit=1
    ).records
    events = [r.event_log_entry.dagster_event for r in steps if r.event_log_entry.dagster_event]
    text = _failure_text(events)
    if text:
        return text
    ends = instance.get_records_for_run(
        run.run_id, of_type=DagsterEventType.RUN_FAILURE, limit=1
    ).records
    message = ends[0].event_log_entry.message if ends else None
    return message.strip().splitlines()[-1] if message else None


@dataclass(frozen=True)
class Estimate:
    tracks_left: int
    tracks_per_s: float | None  # the pace of the finished runs, None before any finished
    seconds_left: float | None

    def describe(self) -> str:
        if not self.tracks_left:
            return "nothing queued or running"
        if self.seconds_left is None:
            return f"{self.tracks_left} tracks to go; time left known once a run has finished"
        return (
            f"about {_duration(self.seconds_left)} left: {self.tracks_left} tracks to go at "
            f"{self.tracks_per_s * 60:.1f} tracks a minute"  # type: ignore[operator]
        )


def estimate(runs: Iterable[PlaylistRun], track_counts: Mapping[str, int]) -> Estimate:
    """Time left for the queued and running playlists at the pace the finished ones set.

    The pace is tracks per second of wall time across the machine (runs overlap), from
    the first start to the last end of the runs that finished since the oldest of them
    still counted; a playlist never listed counts as the typical size of the others.
    """
    runs = list(runs)
    known = [n for n in track_counts.values() if n]
    typical = round(sum(known) / len(known)) if known else 0
    left = sum(r.tracks_left(track_counts.get(r.key) or typical) for r in runs)
    finished = [r for r in runs if r.state == "done" and r.started and r.ended]
    if not finished:
        return Estimate(left, None, None)
    span = max(r.ended for r in finished) - min(r.started for r in finished)  # type: ignore[type-var,operator]
    tracks = sum(track_counts.get(r.key) or typical for r in finished)
    pace = tracks / span if span > 0 else None
    return Estimate(left, pace, left / pace if pace else None)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def status_rows(
    instance: DagsterInstance, rows: list[dict[str, Any]], keys: list[str]
) -> tuple[list[dict[str, Any]], Estimate]:
    """The catalog's status rows with each playlist's run state, and the estimate."""
    runs = latest_runs(instance, keys)
    by_key = {r["key"]: r for r in rows}
    out = []
    for key in keys:
        row = dict(by_key.get(key) or {"key": key, "title": None, "tracks": 0})
        run = runs[key]
        row.update(
            run=run.describe(),
            run_state=run.state,
            run_id=run.run_id,
            stage=run.stage,
            progress={s: f"{n}/{m}" for s, (n, m) in run.stages.items()},
            failure=run.reason,
        )
        out.append(row)
    counts = {r["key"]: int(r.get("tracks") or r.get("track_count") or 0) for r in out}
    return out, estimate(runs.values(), counts)
