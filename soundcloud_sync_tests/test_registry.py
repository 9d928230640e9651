"""Registering playlists: playlists.yaml sensor, UI-typed URLs, the daily schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from soundcloud_sync.defs.assets.playlists import playlist_assets
from soundcloud_sync.defs.jobs import LISTING_STEP
from soundcloud_sync.defs.partitions import PLAYLISTS
from soundcloud_sync.defs.resources import CatalogResource, RegistryResource
from soundcloud_sync.defs.schedules import incremental_sync_schedule
from soundcloud_sync.defs.sensors import playlist_registry_sensor, registry_change


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def catalog_resource(tmp_path) -> CatalogResource:
    return CatalogResource(url=f"sqlite:///{tmp_path / 'catalog.sqlite'}")


def _apply(instance: DagsterInstance, result: SensorResult) -> None:
    for request in result.dynamic_partitions_requests or []:
        if type(request).__name__ == "AddDynamicPartitionsRequest":
            instance.add_dynamic_partitions(PLAYLISTS, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(PLAYLISTS, key)


@pytest.fixture
def playlists(tmp_path) -> Path:
    """The playlists file the registry resource names (SOUNDCLOUD_SYNC_PLAYLISTS_FILE)."""
    return tmp_path / "playlists.yaml"


def _tick(instance, catalog_resource, playlists: Path, cursor=None):
    registry = RegistryResource(playlists_file=str(playlists))
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"catalog": catalog_resource, "registry": registry},
    )
    result = playlist_registry_sensor(context)
    return result, context.cursor


def test_registry_file_adds_and_removes_its_playlists(
    instance, catalog_resource, playlists
) -> None:
    playlists.write_text(
        "playlists:\n"
        "  - https://soundcloud.com/dj/sets/warmup?utm_source=clipboard\n"
        "  - url: m.soundcloud.com/dj/sets/peak-time\n"  # with the playlist's tempo range
        "    tempo_range: [120, 150]\n"
    )
    instance.add_dynamic_partitions(PLAYLISTS, ["cli/sets/added-by-hand"])

    result, cursor = _tick(instance, catalog_resource, playlists)
    assert isinstance(result, SensorResult)
    assert sorted(r.partition_key for r in result.run_requests) == [
        "dj/sets/peak-time",
        "dj/sets/warmup",
    ]
    _apply(instance, result)
    assert sorted(instance.get_dynamic_partitions(PLAYLISTS)) == [
        "cli/sets/added-by-hand",
        "dj/sets/peak-time",
        "dj/sets/warmup",
    ]
    # the catalog knows where to read each playlist the file added
    urls = {r["key"]: r["url"] for r in catalog_resource.catalog().playlists(
        instance.get_dynamic_partitions(PLAYLISTS))}  # fmt: skip
    assert urls == {
        "dj/sets/peak-time": "https://soundcloud.com/dj/sets/peak-time",
        "dj/sets/warmup": "https://soundcloud.com/dj/sets/warmup",
    }

    # unchanged file: nothing to do
    again, cursor = _tick(instance, catalog_resource, playlists, cursor)
    assert isinstance(again, SkipReason)

    # the file drops one playlist: only that one goes, the CLI's stays
    playlists.write_text("- https://soundcloud.com/dj/sets/warmup\n")
    result, cursor = _tick(instance, catalog_resource, playlists, cursor)
    _apply(instance, result)
    assert sorted(instance.get_dynamic_partitions(PLAYLISTS)) == [
        "cli/sets/added-by-hand",
        "dj/sets/warmup",
    ]


def test_url_typed_into_the_ui_becomes_the_canonical_key(
    instance, catalog_resource, playlists
) -> None:
    instance.add_dynamic_partitions(
        PLAYLISTS, ["dj/sets/warmup", "https://soundcloud.com/DJ/sets/warmup?si=abc"]
    )
    instance.add_dynamic_partitions(PLAYLISTS, ["https://m.soundcloud.com/dj/sets/other"])
    change = registry_change([], set(), instance.get_dynamic_partitions(PLAYLISTS))
    assert change.remove == [
        "https://soundcloud.com/DJ/sets/warmup?si=abc",
        "https://m.soundcloud.com/dj/sets/other",
    ]
    assert change.add == {"dj/sets/other": "https://soundcloud.com/dj/sets/other"}

    result, _ = _tick(instance, catalog_resource, playlists)
    _apply(instance, result)
    assert sorted(instance.get_dynamic_partitions(PLAYLISTS)) == ["dj/sets/other", "dj/sets/warmup"]


def test_bad_registry_file_names_the_file(instance, catalog_resource, playlists) -> None:
    playlists.write_text("- https://soundcloud.com/just-a-profile\n")
    result, _ = _tick(instance, catalog_resource, playlists)
    assert isinstance(result, SkipReason)
    assert str(playlists) in result.skip_message and "just-a-profile" in result.skip_message
    playlists.write_text("- {url: https://soundcloud.com/dj/sets/a, tempo_range: [150, 90]}\n")
    result, _ = _tick(instance, catalog_resource, playlists)
    assert isinstance(result, SkipReason)
    assert result.skip_message.startswith(f"{playlists}: dj/sets/a: tempo_range: 150-90 is not")


def test_schedule_requests_one_run_per_playlist(instance) -> None:
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 11, 25, 4, tzinfo=UTC)
    )
    assert isinstance(incremental_sync_schedule(context), SkipReason)
    instance.add_dynamic_partitions(PLAYLISTS, ["dj/sets/a", "dj/sets/b"])
    requests = incremental_sync_schedule(context)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("dj/sets/a", "dj/sets/a@2026-11-25T04:00"),
        ("dj/sets/b", "dj/sets/b@2026-11-25T04:00"),
    ]


def test_schedule_leaves_a_playlist_to_its_queued_sync(instance) -> None:
    """A first import's backfill crossing the schedule's time: the playlists still waiting
    in the queue get no second run (it would wait behind the first for nothing); those
    finished, running (a change after their listing) or being canceled get theirs."""
    from dagster import AssetKey, DagsterRun, DagsterRunStatus

    runs = {
        "dj/sets/done": DagsterRunStatus.SUCCESS,
        # (NOT_STARTED stands for QUEUED, which Dagster only takes with a code location)
        "dj/sets/queued": DagsterRunStatus.NOT_STARTED,
        "dj/sets/launching": DagsterRunStatus.STARTING,
        "dj/sets/running": DagsterRunStatus.STARTED,
        "dj/sets/canceling": DagsterRunStatus.CANCELING,
    }
    instance.add_dynamic_partitions(PLAYLISTS, list(runs))
    for key, status in runs.items():
        instance.add_run(
            DagsterRun(job_name="sync_playlist", status=status, tags={"dagster/partition": key})
        )
    instance.add_run(  # another job's queued run of a playlist does not sync it
        DagsterRun(job_name="reanalyze_audio", status=DagsterRunStatus.NOT_STARTED,
                   tags={"dagster/partition": "dj/sets/done"})
    )  # fmt: skip
    # Runs launched from the asset graph ("Materialize" in the UI): one that lists its
    # playlist syncs it; one that only measures the audio again does not.
    # (From the sync_playlist job's own page, the UI launches that job with the assets
    # chosen: the assets decide there too.)
    assert playlist_assets.op.name == LISTING_STEP
    # A re-execution from failure runs only the failed steps: one after the listing does
    # not list the playlist again.
    graph_runs = {
        "dj/sets/from-graph": (
            "__ASSET_JOB",
            {"playlist_metadata", "playlist_tracks"},
            [LISTING_STEP, "audio_files"],
        ),
        "dj/sets/graph-audio": ("__ASSET_JOB", {"audio_features"}, None),
        "dj/sets/job-page-audio": ("sync_playlist", {"audio_features", "library_files"}, None),
        "dj/sets/re-executed": ("sync_playlist", None, ["audio_files", "audio_features"]),
    }
    instance.add_dynamic_partitions(PLAYLISTS, list(graph_runs))
    for key, (job, assets, steps) in graph_runs.items():
        instance.add_run(
            DagsterRun(job_name=job, status=DagsterRunStatus.NOT_STARTED,
                       tags={"dagster/partition": key}, step_keys_to_execute=steps,
                       asset_selection=frozenset(AssetKey(a) for a in assets) if assets else None)
        )  # fmt: skip
    at = datetime(2026, 11, 25, 4, tzinfo=UTC)
    context = build_schedule_context(instance=instance, scheduled_execution_time=at)
    requests = incremental_sync_schedule(context)
    due = ["dj/sets/canceling", "dj/sets/done", "dj/sets/graph-audio",
           "dj/sets/job-page-audio", "dj/sets/re-executed", "dj/sets/running"]  # fmt: skip
    assert sorted(r.partition_key for r in requests) == due

    for key in due:
        instance.add_run(
            DagsterRun(job_name="sync_playlist", status=DagsterRunStatus.NOT_STARTED,
                       tags={"dagster/partition": key})
        )  # fmt: skip
    skipped = incremental_sync_schedule(context)
    assert isinstance(skipped, SkipReason)
    assert skipped.skip_message == "each of the 9 playlists has a sync waiting in the queue"


def test_a_playlist_registered_by_another_process_meanwhile_is_no_error(
    instance, catalog_resource, monkeypatch
):
    """Two `sync`s of one new playlist both find no partition and both insert it; Dagster's
    storage checks and inserts in two statements, so the later insert can meet the
    earlier's row and fail on the UNIQUE index (seen in test_dead_runs under load)."""
    from sqlalchemy.exc import IntegrityError

    from soundcloud_sync.runs import register_playlists

    add = instance.add_dynamic_partitions
    raced = []

    def add_after_the_other_process(name, keys):
        if not raced:  # the other process's insert lands between Dagster's check and ours
            raced.append(add(name, keys))
            raise IntegrityError("INSERT INTO dynamic_partitions", {}, Exception("UNIQUE"))
        return add(name, keys)

    monkeypatch.setattr(instance, "add_dynamic_partitions", add_after_the_other_process)
    url = "https://soundcloud.com/dj-c/sets/twice"
    assert register_playlists(instance, catalog_resource.catalog(), {"dj-c/sets/twice": url}) == []
    assert instance.get_dynamic_partitions(PLAYLISTS) == ["dj-c/sets/twice"]
