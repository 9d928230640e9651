"""Measuring tracks again, and a playlist's own tempo range, as a user drives them:
`soundcloud-sync reanalyze`, playlists.yaml, and the `reanalyze_audio` job's run config,
against the SoundCloud and Notion emulators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance
from pyrekordbox.rbxml import RekordboxXml

from soundcloud_sync import api
from soundcloud_sync.audio import read_tags
from soundcloud_sync.audio.analysis import ANALYSIS_VERSION
from soundcloud_sync.config import ConfigError, Settings
from soundcloud_sync.definitions import defs, reanalyze_audio_job_def
from soundcloud_sync.playlists_file import read_playlists_file
from soundcloud_sync.runs import run_sync
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process
from soundcloud_sync_tests.test_export_e2e import location_path

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, in_process_env: Path) -> Path:
    """The user's shell (`in_process_env`) with AIFF files only; returns the folder."""
    monkeypatch.setenv("AUDIO_FORMATS", "aiff")
    return in_process_env


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's command in this process (see `cli_in_process`), in the user's shell."""
    return cli_in_process(dict(os.environ), *args, cwd=folder)


def cli_json(folder: Path, *args: str) -> Any:
    done = cli(folder, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def notion_pages(notion_emulator: NotionEmulator, catalog: SeededCatalog) -> dict[int, dict]:
    return {
        notion_emulator.plain(p)["SoundCloud ID"]: notion_emulator.plain(p)
        for p in notion_emulator.pages_in(catalog.tracks_data_source_id)
    }


def rekordbox_bpms(folder: Path) -> dict[str, float]:
    """The BPM of each file in the rekordbox collection the last run wrote."""
    xml = RekordboxXml(folder / "home" / "library" / "rekordbox.xml")
    return {location_path(t): t["AverageBpm"] for t in xml.get_tracks()}


def test_reanalyze_measures_older_versions_again_from_disk_and_writes_everywhere(
    environment: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("selector", "old-crate", 3)
    api.sync_and_download_playlist(playlist.url)
    settings = api._settings()
    catalog = api.catalog_for(settings)
    old, never, current = playlist.track_ids
    # What an older analysis left behind: a 3:2 slip and a wrong key, stored as version 1
    # in the catalog, then written to the tags and to Notion by the pipeline's own steps;
    # and a track on disk that was never analysed.
    slipped = round(soundcloud_emulator.tracks[old].bpm * 2 / 3, 2)
    catalog.update_track(old, tempo=slipped, key="B major", camelot="1B", analysis_version="1")
    catalog.update_track(never, tempo=None, key=None, analysis_version=None,
                         analyzed_at=None)  # fmt: skip
    written = ("library_files", "notion_enrichment", "playlist_m3u8", "rekordbox_collection")
    api.run_playlist(playlist.url, written, settings)
    before = notion_pages(notion_emulator, notion_catalog)[old]
    assert (before["Key"], before["Audio Analysis Version"]) == ("B major", "1")
    assert before["Tempo"] == slipped
    aiff = catalog.tracks_by_id([old])[old]["files"]["aiff"]
    assert rekordbox_bpms(environment)[aiff] == pytest.approx(slipped, abs=0.01)

    soundcloud_emulator.reset_counts()
    notion_emulator.reset_counts()
    [stats] = cli_json(environment, "reanalyze", playlist.url)
    assert (stats["measured"], stats["kept"], stats["errors"]) == (2, 1, 0)
    assert stats["notion_updated"] == 2 and stats["analysis_version"] == ANALYSIS_VERSION
    assert sum(soundcloud_emulator.counts.values()) == 0  # no download, no SoundCloud at all

    rows = catalog.tracks_by_id(playlist.track_ids)
    pages = notion_pages(notion_emulator, notion_catalog)
    for sid in playlist.track_ids:
        truth = soundcloud_emulator.tracks[sid]
        assert rows[sid]["analysis_version"] == ANALYSIS_VERSION
        assert rows[sid]["tempo"] == pytest.approx(truth.bpm, abs=0.1)
        assert rows[sid]["key"] == truth.key
        page = pages[sid]
        assert page["Tempo"] == pytest.approx(truth.bpm, abs=0.1) and page["Key"] == truth.key
        assert page["Audio Analysis Version"] == ANALYSIS_VERSION
        tags = read_tags(rows[sid]["files"]["aiff"])
        assert tags.tempo == pytest.approx(truth.bpm, abs=0.1) and tags.key == truth.key
        exported = rekordbox_bpms(environment)[rows[sid]["files"]["aiff"]]
        assert exported == pytest.approx(truth.bpm, abs=0.1)
    assert rows[current]["analyzed_at"] < rows[old]["analyzed_at"]  # kept, not redone

    # Everything is current now: a second run measures and writes nothing.
    notion_emulator.reset_counts()
    [again] = cli_json(environment, "reanalyze", "--all")
    assert (again["measured"], again["kept"], again["notion_updated"]) == (0, 3, 0)
    assert notion_emulator.writes == 0
    assert catalog.tracks_by_id(playlist.track_ids) == rows

    # --force measures every track again, still without a download.
    [forced] = cli_json(environment, "reanalyze", playlist.url, "--force")
    assert (forced["measured"], forced["kept"], forced["errors"]) == (3, 0, 0)
    assert sum(soundcloud_emulator.counts.values()) == 0


def test_reanalyze_names_what_is_wrong(environment: Path) -> None:
    both = cli(environment, "reanalyze")
    assert both.returncode == 1 and both.stderr == "error: give playlist URLs or --all (not both)\n"
    unknown = cli(environment, "reanalyze", "https://soundcloud.com/nobody/sets/never-synced")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        "error: nobody/sets/never-synced: not a registered playlist; sync it first "
        "(soundcloud-sync sync URL)"
    ]


def test_playlist_tempo_range_wins_over_the_default_and_run_config_over_both(
    environment: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    # Off-beat hats at 85 BPM: the default reading is 85, but a drum & bass floor
    # counts it at 170 (no genre prior to settle it: "Ambient").
    halftime = soundcloud_emulator.add_track("selector", bpm=85.0, key="C major", genre="Ambient")
    playlist = soundcloud_emulator.add_playlist("selector", "fast-floor", tracks=[halftime])
    api.sync_and_download_playlist(playlist.url)
    catalog = api.catalog_for(api._settings())
    assert catalog.tracks_by_id([halftime.id])[halftime.id]["tempo"] == pytest.approx(85, abs=0.1)

    # The user gives the playlist its range in playlists.yaml; the next sync measures the
    # track again in it (its range changed), from the file on disk.
    (environment / "playlists.yaml").write_text(
        f"playlists:\n  - url: {playlist.url}\n    tempo_range: [150, 185]\n"
    )
    soundcloud_emulator.reset_counts()
    api.sync_and_download_playlist(playlist.url)
    row = catalog.tracks_by_id([halftime.id])[halftime.id]
    assert row["tempo"] == pytest.approx(170.0, abs=0.1) and row["tempo_range"] == "150-185"
    assert notion_pages(notion_emulator, notion_catalog)[halftime.id]["Tempo"] == pytest.approx(
        170.0, abs=0.1
    )
    assert soundcloud_emulator.counts["stream"] + soundcloud_emulator.counts["hls_segment"] == 0

    # Run config of the reanalyze_audio job (the UI's launchpad, a backfill) wins over the file.
    job = defs.resolve_job_def("reanalyze_audio")
    assert job.partitions_def is not None and job.partitions_def.name == "playlists"
    with DagsterInstance.get() as instance:
        outcome = run_sync(
            instance,
            Settings.from_env(),
            playlist.key,
            job_def=reanalyze_audio_job_def,
            ops_config={"audio_features": {"tempo_range": [60, 120]}},
        )
        assert outcome.success, outcome.failure
        row = catalog.tracks_by_id([halftime.id])[halftime.id]
        assert row["tempo"] == pytest.approx(85.0, abs=0.1) and row["tempo_range"] == "60-120"

        bad = run_sync(
            instance,
            Settings.from_env(),
            playlist.key,
            job_def=reanalyze_audio_job_def,
            ops_config={"audio_features": {"tempo_range": [120, 60]}},
        )
    assert not bad.success
    assert bad.failure == (
        f"audio_features: run config: {playlist.key}: tempo_range: 120-60 is not a tempo "
        "range; give [low, high] BPM with 40 <= low < high <= 250"
    )


def test_a_track_in_two_playlists_keeps_the_narrower_range_whichever_is_synced(
    environment: Path, soundcloud_emulator: SoundCloudEmulator
) -> None:
    halftime = soundcloud_emulator.add_track("selector", bpm=85.0, key="C major", genre="Ambient")
    floor = soundcloud_emulator.add_playlist("selector", "dnb-floor", tracks=[halftime])
    warmup = soundcloud_emulator.add_playlist("selector", "warm-up", tracks=[halftime])
    (environment / "playlists.yaml").write_text(
        f"- url: {floor.url}\n  tempo_range: [150, 185]\n"
        f"- url: {warmup.url}\n  tempo_range: [60, 200]\n"
    )
    api.sync_and_download_playlist(floor.url)
    catalog = api.catalog_for(api._settings())
    measured = catalog.tracks_by_id([halftime.id])[halftime.id]
    assert measured["tempo"] == pytest.approx(170.0, abs=0.1)
    assert measured["tempo_range"] == "150-185"

    # The warm-up playlist holds it too: the narrower range stays, nothing is measured
    # again, neither by this sync nor by the floor's next one.
    api.sync_and_download_playlist(warmup.url)
    api.sync_and_download_playlist(floor.url)
    row = catalog.tracks_by_id([halftime.id])[halftime.id]
    assert (row["tempo_range"], row["analyzed_at"]) == ("150-185", measured["analyzed_at"])


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("[180, 160]", "180-160 is not a tempo range"),
        ("[30, 120]", "30-120 is not a tempo range"),
        ("[120, 260]", "120-260 is not a tempo range"),
        ("fast", "'fast' is not a tempo range"),
        ("[120]", "[120] is not a tempo range"),
    ],
)
def test_bad_tempo_range_is_one_line_naming_playlist_and_field(
    tmp_path: Path, value: str, complaint: str
) -> None:
    path = tmp_path / "playlists.yaml"
    path.write_text(
        "- https://soundcloud.com/dj/sets/plain\n"
        f"- url: https://soundcloud.com/dj/sets/floor?si=x\n  tempo_range: {value}\n"
    )
    with pytest.raises(ConfigError) as caught:
        read_playlists_file(path)
    assert str(caught.value).startswith(f"{path}: dj/sets/floor: tempo_range: {complaint}; ")
    assert "\n" not in str(caught.value)


def test_sync_refuses_a_bad_tempo_range_before_any_run(environment: Path) -> None:
    (environment / "playlists.yaml").write_text(
        "- url: https://soundcloud.com/dj/sets/floor\n  tempo_range: [190, 150]\n"
    )
    done = cli(environment, "sync", "https://soundcloud.com/dj/sets/floor")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: {environment / 'playlists.yaml'}: dj/sets/floor: tempo_range: 190-150 is not "
        "a tempo range; give [low, high] BPM with 40 <= low < high <= 250"
    ]
    assert not (environment / "home" / "dagster").exists()  # no run, not even an instance
