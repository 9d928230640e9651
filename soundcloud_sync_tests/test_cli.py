"""The CLI end to end, as a user runs it: a real Dagster run against the emulators."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from soundcloud_sync.catalog import Catalog
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def run_program(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`soundcloud-sync ARGS` as a program, as a user starts it."""
    return subprocess.run(
        [CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=env["SOUNDCLOUD_SYNC_HOME"].rsplit("/", 1)[0],
    )


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process: the first test runs the program, the others
    test what the command does, not its process (see `cli_in_process`)."""
    return cli_in_process(env, *args)


def test_sync_creates_then_skips_and_shows_in_dagster(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator, notion_emulator: NotionEmulator
) -> None:
    playlist = soundcloud_emulator.add_playlist("crate-digger", "friday-set", 8, kinds={3: "gone"})
    pasted = "https://m.soundcloud.com/crate-digger/sets/friday-set?si=abc&utm_source=clipboard"

    first = run_program(env, "sync", pasted, "--no-download", "--json")
    assert first.returncode == 0, first.stderr
    stats = json.loads(first.stdout)
    assert stats["playlist_url"] == "https://soundcloud.com/crate-digger/sets/friday-set"
    # the deleted track (3rd) cannot be read: no untitled page, and the stats say so
    gone = playlist.track_ids[2]
    assert (stats["total_tracks"], stats["tracks_added"], stats["errors"]) == (8, 7, 0)
    assert stats["unreadable"] == 1 and [
        t["soundcloud_id"] for t in stats["unreadable_tracks"]
    ] == [gone]
    assert len(stats["track_ids"]) == 7
    assert stats["sync_status"] == "Synced"
    assert "Traceback" not in first.stderr

    # The run is an ordinary run of the instance the UI reads, for the canonical key.
    os.environ["DAGSTER_HOME"] = str(Path(env["SOUNDCLOUD_SYNC_HOME"]) / "dagster")
    try:
        with DagsterInstance.get() as instance:
            [record] = instance.get_runs()
            assert record.tags["dagster/partition"] == playlist.key
            # steps of several runs may overlap (one shared limiter per API): two Notion
            # steps, and the SoundCloud steps of all three runs the queue executes
            pools = instance.event_log_storage
            assert pools.get_concurrency_info("notion_api").slot_count == 2
            assert pools.get_concurrency_info("soundcloud_api").slot_count == 3
            event = instance.get_latest_materialization_event(AssetKey("notion_track_pages"))
            materialization = event.asset_materialization
            assert materialization.partition == "crate-digger/sets/friday-set"
            assert materialization.metadata["created"].value == 7
            assert materialization.metadata["unreadable"].value == 1
    finally:
        del os.environ["DAGSTER_HOME"]

    # Unchanged playlist: no track writes, and at most 3 Notion requests in all.
    notion_emulator.reset_counts()
    again = run(env, "sync", playlist.url, "--no-download", "--json")
    assert again.returncode == 0, again.stderr
    stats = json.loads(again.stdout)
    assert (stats["tracks_added"], stats["tracks_updated"], stats["tracks_skipped"]) == (0, 0, 7)
    assert notion_emulator.total_requests <= 3
    assert notion_emulator.writes == 1  # the playlist page's Last Synced / Sync Status

    status = run(env, "status", "--json")
    [row] = json.loads(status.stdout)
    assert (row["key"], row["tracks"], row["in_notion"]) == ("crate-digger/sets/friday-set", 8, 7)


def test_added_and_removed_tracks(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator, notion_emulator: NotionEmulator
) -> None:
    playlist = soundcloud_emulator.add_playlist("crate-digger", "moving-target", 6)
    assert run(env, "sync", playlist.url, "--no-download").returncode == 0
    removed = playlist.track_ids[1]
    soundcloud_emulator.remove_track(playlist, removed)
    soundcloud_emulator.append_tracks(playlist, 2)

    dry = run(env, "sync", playlist.url, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert (plan["tracks_added"], plan["tracks_unlinked"]) == (2, 1)
    writes_before = notion_emulator.writes

    result = run(env, "sync", playlist.url, "--no-download", "--json")
    assert notion_emulator.writes > writes_before
    stats = json.loads(result.stdout)
    assert (stats["tracks_added"], stats["tracks_unlinked"], stats["total_tracks"]) == (2, 1, 7)
    catalog = Catalog(f"sqlite:///{env['SOUNDCLOUD_SYNC_HOME']}/catalog.sqlite")
    assert removed not in set(catalog.playlist_tracks(playlist.key)["soundcloud_id"])
    assert catalog.tracks_by_id([removed])[removed]["notion_page_id"]  # unlinked, not deleted


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://youtube.com/watch?v=x", "not a SoundCloud URL"),
        ("https://soundcloud.com/crate-digger/a-single-track", "a-single-track: no such track"),
        ("https://soundcloud.com/crate-digger", "a profile is not one list"),
        ("https://soundcloud.com/crate-digger/sets/does-not-exist", "does-not-exist"),
    ],
)
def test_bad_input_fails_with_one_line_naming_the_playlist(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator, url: str, expected: str
) -> None:
    soundcloud_emulator.add_user("crate-digger")
    result = run(env, "sync", url, "--no-download")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and expected in last
    assert "Traceback" not in result.stderr
    catalog_file = Path(env["SOUNDCLOUD_SYNC_HOME"]) / "catalog.sqlite"
    if catalog_file.exists():
        assert (
            Catalog(f"sqlite:///{catalog_file}")
            .playlist_tracks("crate-digger/sets/does-not-exist")
            .empty
        )


def test_sync_several_playlists_keeps_going_past_a_bad_one(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator, notion_emulator: NotionEmulator
) -> None:
    first = soundcloud_emulator.add_playlist("crate-digger", "opener", 3)
    second = soundcloud_emulator.add_playlist("night-owl", "closer", 2)
    missing = "https://soundcloud.com/crate-digger/sets/gone-for-good"

    # a URL that is no playlist at all stops everything before any run
    refused = run(env, "sync", first.url, "https://soundcloud.com/crate-digger", "--json")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "a profile is not one list" in refused.stderr and notion_emulator.writes == 0

    result = run(env, "sync", first.url, missing, second.url, "--no-download", "--json")
    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "crate-digger/sets/gone-for-good" in error
    stats = json.loads(result.stdout)
    assert [(s["playlist_url"], s["tracks_added"]) for s in stats] == [
        (first.url, 3),
        (second.url, 2),
    ]


def test_add_registers_partitions_once(env: dict[str, str]) -> None:
    result = run(
        env,
        "add",
        "https://soundcloud.com/crate-digger/sets/one",
        "m.soundcloud.com/crate-digger/sets/one?utm_source=x",
        "https://soundcloud.com/crate-digger/sets/two",
    )
    assert result.returncode == 0, result.stderr
    os.environ["DAGSTER_HOME"] = str(Path(env["SOUNDCLOUD_SYNC_HOME"]) / "dagster")
    try:
        with DagsterInstance.get() as instance:
            assert sorted(instance.get_dynamic_partitions("playlists")) == [
                "crate-digger/sets/one",
                "crate-digger/sets/two",
            ]
    finally:
        del os.environ["DAGSTER_HOME"]
    assert run(env, "add", "https://soundcloud.com/crate-digger").returncode == 1


def test_audit_finds_a_duplicate_page_in_notion(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("crate-digger", "audited", 3)
    assert run(env, "sync", playlist.url, "--no-download").returncode == 0
    clean = run(env, "audit", playlist.url)
    assert clean.returncode == 0, clean.stderr
    assert "no_duplicate_notion_pages: passed" in clean.stdout

    # someone duplicates a page by hand, linked to the same playlist
    original = next(
        notion_emulator.plain(p)
        for p in notion_emulator.pages_in(notion_catalog.tracks_data_source_id)
        if notion_emulator.plain(p)["SoundCloud ID"] == playlist.track_ids[0]
    )
    notion_emulator.add_page(
        notion_catalog.tracks_data_source_id,
        {"Title": original["Title"], "SoundCloud ID": playlist.track_ids[0],
         "Playlists": original["Playlists"]},
    )  # fmt: skip
    audit = run(env, "audit", playlist.url)
    assert audit.returncode == 1
    assert "no_duplicate_notion_pages: FAILED" in audit.stdout
    assert "catalog_and_notion_agree: passed" in audit.stdout


def test_status_counts_downloads_kept_from_an_earlier_sync(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator
) -> None:
    """The second sync finds the files on disk ('skipped-existing'): still downloaded."""
    soundcloud_emulator.audio_seconds = 16.0  # short tracks: two whole syncs stay quick
    playlist = soundcloud_emulator.add_playlist("crate-digger", "kept-files", 3, kinds={2: "gone"})
    for _ in range(2):
        result = run(env, "sync", playlist.url, "--json")
        assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["downloaded"] == 2
    catalog = Catalog(f"sqlite:///{env['SOUNDCLOUD_SYNC_HOME']}/catalog.sqlite")
    statuses = {row["download_status"] for row in catalog.tracks_by_id(playlist.track_ids).values()}
    assert "skipped-existing" in statuses  # the case this guards: a re-run's record

    [row] = json.loads(run(env, "status", "--json").stdout)
    assert (row["tracks"], row["downloaded"], row["analysed"]) == (3, 2, 2)
    table = run(env, "status").stdout
    [line] = [line for line in table.splitlines() if "kept-files" in line]
    # tracks, in Notion (the gone track cannot be read: no page), downloaded
    assert [cell.strip() for cell in line.split("│")[3:6]] == ["3", "2", "2"]


def _linked_ids(env: dict[str, str], notion_emulator: NotionEmulator, key: str) -> set[int]:
    """SoundCloud ids of the track pages Notion links to the playlist's page."""
    catalog = Catalog(f"sqlite:///{env['SOUNDCLOUD_SYNC_HOME']}/catalog.sqlite")
    playlist_page = catalog.playlist(key)["notion_page_id"]
    pages = notion_emulator.plain(playlist_page)["Tracks"]
    return {int(notion_emulator.plain(page)["SoundCloud ID"]) for page in pages}


def test_removals_applied_in_a_playlist_that_holds_a_deleted_track(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator, notion_emulator: NotionEmulator
) -> None:
    """SoundCloud lists fewer ids than it counts: the change in the count says why."""
    playlist = soundcloud_emulator.add_playlist("crate-digger", "with-a-hole", 7)
    t = list(playlist.track_ids)
    soundcloud_emulator.delete_track(t[6])  # out of view, still counted: 6 listed of 7
    first = run(env, "sync", playlist.url, "--no-download", "--json")
    assert first.returncode == 0, first.stderr
    assert _linked_ids(env, notion_emulator, playlist.key) == set(t[:6])

    # The owner removes two tracks and adds one.
    soundcloud_emulator.remove_track(playlist, t[1])
    soundcloud_emulator.remove_track(playlist, t[2])
    [new] = soundcloud_emulator.append_tracks(playlist, 1)
    result = run(env, "sync", playlist.url, "--no-download", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert (stats["tracks_added"], stats["tracks_unlinked"]) == (1, 2)
    assert stats["sync_status"] == "Synced"
    assert _linked_ids(env, notion_emulator, playlist.key) == {t[0], t[3], t[4], t[5], new.id}

    # An uploader deletes a synced track: it is still in the set, so it stays linked.
    soundcloud_emulator.delete_track(t[3])
    assert run(env, "sync", playlist.url, "--no-download").returncode == 0
    assert _linked_ids(env, notion_emulator, playlist.key) == {t[0], t[3], t[4], t[5], new.id}


def test_a_listing_that_cannot_be_explained_unlinks_nothing(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator, notion_emulator: NotionEmulator
) -> None:
    """One removed and one deleted between syncs: two ids vanished, the count fell by one."""
    playlist = soundcloud_emulator.add_playlist("crate-digger", "cannot-tell", 5)
    t = list(playlist.track_ids)
    assert run(env, "sync", playlist.url, "--no-download").returncode == 0
    soundcloud_emulator.remove_track(playlist, t[1])
    soundcloud_emulator.delete_track(t[2])

    dry = run(env, "sync", playlist.url, "--dry-run", "--json")
    assert json.loads(dry.stdout)["tracks_unlinked"] == 0
    result = run(env, "sync", playlist.url, "--no-download", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert (stats["tracks_unlinked"], stats["sync_status"]) == (0, "Partial")
    assert _linked_ids(env, notion_emulator, playlist.key) == set(t)
    assert "nothing is unlinked until a later listing explains it" in result.stderr


def test_status_shows_each_playlists_latest_run_and_the_time_left(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator
) -> None:
    """What a person watching a backfill sees: queued, running (stage, n of m tracks),
    done, failed with the reason, and an estimate of the time left."""
    from dagster import DagsterRunStatus

    from soundcloud_sync.definitions import sync_playlist_job_def

    soundcloud_emulator.audio_seconds = 8.0
    finished = soundcloud_emulator.add_playlist("watcher", "finished-set", 2)
    slow = soundcloud_emulator.add_playlist("watcher", "slow-set", 4)
    waiting = soundcloud_emulator.add_playlist("watcher", "waiting-set", 3)
    assert run(env, "sync", finished.url, "--no-download").returncode == 0
    missing = run(env, "sync", "https://soundcloud.com/watcher/sets/deleted-set")
    assert missing.returncode == 1
    assert run(env, "add", waiting.url).returncode == 0
    home = Path(env["SOUNDCLOUD_SYNC_HOME"]) / "dagster"
    with DagsterInstance.from_config(str(home)) as instance:  # a run not started yet
        instance.create_run_for_job(
            sync_playlist_job_def(), status=DagsterRunStatus.NOT_STARTED,
            tags={"dagster/partition": waiting.key},
        )  # fmt: skip

    soundcloud_emulator.latency = 0.3  # every request slow: the sync is seen running
    # and, once its first track is downloaded (its progress written), its next stream-URL
    # look-up held (25 s at most, under the client's timeout) until both status snapshots
    # are taken: a `status` process can take seconds to start on a loaded machine
    look_ups = itertools.count()
    downloading = soundcloud_emulator.hold_until_met(
        "format_info", 2, within_s=25.0, key=lambda path: "the sync" if next(look_ups) else None
    )
    syncing = subprocess.Popen(
        [CLI, "sync", slow.url, "--json"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen_running = None
    try:
        for _ in range(600):
            rows = {r["key"]: r for r in json.loads(run(env, "status", "--json").stdout)}
            row = rows.get(slow.key)
            if row and row["run_state"] == "running" and row["stage"] in ("download", "analysis"):
                seen_running = row
                table = run(env, "status").stdout
                break
            if syncing.poll() is not None:
                break
    finally:
        downloading.release()
        syncing.communicate(timeout=300)
    assert syncing.returncode == 0
    assert seen_running is not None, "the sync was never seen running with its stage"
    assert seen_running["run"].startswith(f"running: {seen_running['stage']} ")
    assert seen_running["run"].endswith(" of 4")
    assert rows[finished.key]["run"] == "done"
    assert rows["watcher/sets/deleted-set"]["run_state"] == "failed"
    assert rows["watcher/sets/deleted-set"]["run"].startswith("failed: playlist_assets: ")
    assert "deleted-set" in rows["watcher/sets/deleted-set"]["failure"]
    assert rows[waiting.key]["run"] == "queued"
    lines = table.splitlines()
    [line] = [ln for ln in lines if "slow-set" in ln]
    assert "running: " in line and " of 4" in line
    assert any("1 queued, 1 running, 1 done, 1 failed;" in ln for ln in lines), table
    assert any(" left: " in ln and "tracks to go" in ln for ln in lines), table

    rows = {r["key"]: r for r in json.loads(run(env, "status", "--json").stdout)}
    assert rows[slow.key]["run"] == "done"
    assert rows[slow.key]["progress"]["download"] == "4/4"


def test_commands_started_together_on_a_new_home_all_work(cli_env: dict[str, str]) -> None:
    """`soundcloud-sync dev` in one terminal and `add` in another, on the first day: the
    processes creating one Dagster home at once left its schema stamped twice, and every
    later command failed."""
    from concurrent.futures import ThreadPoolExecutor

    from soundcloud_sync_tests.fixtures_pipeline import run_cli

    with ThreadPoolExecutor(3) as pool:
        first = list(pool.map(lambda _: run_cli(cli_env, "status"), range(3)))
    assert [r.returncode for r in first] == [0, 0, 0], [r.stderr[-500:] for r in first]
    assert run_cli(cli_env, "status").returncode == 0
