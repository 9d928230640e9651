"""DJ exports after a real sync: the CLI and the Dagster assets against the emulators.

The collection is read back with pyrekordbox (an independent reader) and the M3U8
files are resolved on disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dagster import AssetKey, DagsterInstance
from pyrekordbox.rbxml import RekordboxXml, Track

from soundcloud_sync.audio.analysis import decode_native
from soundcloud_sync.catalog import Catalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process
from soundcloud_sync_tests.synth import render_track

CLI = str(Path(sys.executable).parent / "soundcloud-sync")
# rekordbox's names for the keys the emulator's tracks are in
REKORDBOX_KEYS = {"A minor": "Am", "C major": "C", "F# minor": "F#m", "D# minor": "Ebm"}


def audio_delay_s(path: str, bpm: float, key: str) -> float:
    """Where the emulator's synthesized audio starts inside a library file.

    An MP3 encoded to a pipe (as the emulator's streams are, and SoundCloud's HLS
    segments) carries no encoder-delay tag, so every decoder, rekordbox's included,
    plays ~25 ms of encoder padding first: the beats of the file sit that much later
    than the synthesizer put them. Found by lining the file up with the synthesizer.
    """
    stereo, sr = decode_native(path)
    heard = stereo[:sr, 0]
    made = render_track(bpm, key, 2.0, sr=sr, seed=0)[: sr // 2]
    lags = range(0, sr // 10)
    return max(lags, key=lambda lag: float(np.dot(heard[lag : lag + len(made)], made))) / sr


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's command in this process (see `cli_in_process`)."""
    return cli_in_process(env, *args)


def location_path(track: Track) -> str:
    """The file of a collection track, as pyrekordbox decodes its Location (pyrekordbox
    drops the root's slash of a POSIX path: `file://localhost/srv/a` -> `srv/a`)."""
    return "/" + track["Location"]


def m3u8_entries(path: Path) -> list[tuple[str, Path]]:
    """(EXTINF title, resolved file) per entry."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    entries, title = [], None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            title = line.split(",", 1)[1]
        elif line and not line.startswith("#"):
            assert not os.path.isabs(line), line  # relative to the playlist file
            entries.append((title, (path.parent / line).resolve()))
    return entries


def test_full_sync_writes_the_collection_and_each_playlist(
    env: dict[str, str], soundcloud_emulator: SoundCloudEmulator
) -> None:
    emu = soundcloud_emulator
    first = [
        emu.add_track("night-shift", 'Dawn & <Dusk> "Edit"', bpm=124, key="A minor"),
        emu.add_track("night-shift", "Gone Track", kind="gone"),
        emu.add_track("night-shift", "Süßes 🎧 Signal", bpm=128, key="C major"),
    ]
    shared = first[2]
    second = [emu.add_track("night-shift", "Late Bloom", bpm=122, key="F# minor"), shared]
    one = emu.add_playlist("night-shift", "warm-up", tracks=first, title="Warm-up: 23h")
    two = emu.add_playlist("night-shift", "peak", tracks=second, title="Peak / Time")

    result = run(env, "sync", one.url, two.url, "--json")
    assert result.returncode == 0, result.stderr

    home = Path(env["SOUNDCLOUD_SYNC_HOME"])
    catalog = Catalog(f"sqlite:///{home}/catalog.sqlite")
    xml = RekordboxXml(home / "library" / "rekordbox.xml")
    by_location = {location_path(t): t for t in xml.get_tracks()}
    downloaded = {
        sid: row for sid, row in catalog.tracks_by_id(t.id for t in first + second).items()
        if row["files"]
    }  # fmt: skip
    assert len(downloaded) == 3  # the gone track has no file
    assert xml.num_tracks == 3
    for sid, row in downloaded.items():
        [path] = row["files"].values()
        assert Path(path).is_file()
        track = by_location[path]
        assert abs(track["AverageBpm"] - row["tempo"]) <= 0.1
        assert abs(track["AverageBpm"] - emu.tracks[sid].bpm) <= 0.1
        assert track["Tonality"] == REKORDBOX_KEYS[emu.tracks[sid].key]
        assert track["Name"] == emu.tracks[sid].title
        assert track["Comments"] == row["url"]
        assert track["Size"] == Path(path).stat().st_size
        [tempo] = track.tempos
        beat = 60 / emu.tracks[sid].bpm  # the synthesized kicks fall on delay + k * beat
        offset = (
            tempo["Inizio"] - audio_delay_s(path, emu.tracks[sid].bpm, emu.tracks[sid].key)
        ) % beat
        assert min(offset, beat - offset) <= 0.025
        assert abs(tempo["Bpm"] - row["tempo"]) <= 0.1

    # each playlist in order, under the source's folder
    files = {one.key: "Warm-up_ 23h.m3u8", two.key: "Peak _ Time.m3u8"}  # safe file names
    for playlist, tracks in ((one, first), (two, second)):
        node = xml.get_playlist("SoundCloud", playlist.title)
        keys = [int(k) for k in node.get_tracks()]
        ids = {t["TrackID"]: location_path(t) for t in xml.get_tracks()}
        expected = [
            next(iter(downloaded[t.id]["files"].values())) for t in tracks if t.id in downloaded
        ]
        assert [ids[k] for k in keys] == expected

        m3u8 = home / "library" / "playlists" / files[playlist.key]
        entries = m3u8_entries(m3u8)
        assert [str(p) for _, p in entries] == expected
        assert all(p.is_file() for _, p in entries)
        titles = [f"{downloaded[t.id]['artist']} - {t.title}" for t in tracks if t.id in downloaded]
        assert [title for title, _ in entries] == titles

    # the assets' metadata, as the UI shows it
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    try:
        with DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(AssetKey("rekordbox_collection"))
            metadata = event.asset_materialization.metadata
            assert (metadata["tracks"].value, metadata["playlists"].value) == (3, 2)
            assert metadata["path"].value == str(home / "library" / "rekordbox.xml")
            m3u8_event = instance.get_latest_materialization_event(AssetKey("playlist_m3u8"))
            assert m3u8_event.asset_materialization.metadata["tracks"].value in (1, 2)
    finally:
        del os.environ["DAGSTER_HOME"]

    # on demand: the same collection wherever asked
    elsewhere = home.parent / "out" / "collection.xml"
    again = run(env, "export", "rekordbox", "--output", str(elsewhere))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{elsewhere}: 3 tracks (3 with a beat grid), 2 playlists"
    assert elsewhere.read_bytes() == (home / "library" / "rekordbox.xml").read_bytes()
