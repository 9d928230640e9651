"""A downloaded track becomes tagged library files; artwork comes from the emulator's CDN."""

from __future__ import annotations

import numpy as np
import pytest

from soundcloud_sync.audio import TrackTags, export_track, fetch_artwork, probe, read_tags
from soundcloud_sync.sources import SoundCloudClient
from soundcloud_sync.sources.soundcloud import largest_artwork
from soundcloud_sync_tests.emulators.soundcloud import PROXY_API_BASE, SoundCloudEmulator
from soundcloud_sync_tests.synth import encode_audio, render_track

JPEG = b"\xff\xd8\xff\xe0" + bytes(200)


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dl")
    stereo = np.stack([render_track(128, "F# major", 5.0)] * 2, axis=1)
    return encode_audio(stereo, 44100, folder / "123.mp3", "mp3", "320k")


def _tags(sc_id: int, title: str = "Nightdrive") -> TrackTags:
    return TrackTags(
        title=title, artist="Mira Vale", album="Late Set", genre="House", tempo=128.004,
        key="F# major", camelot="2B", isrc="QZES52400001",
        url=f"https://soundcloud.com/mira/{sc_id}", soundcloud_id=sc_id, track_number=1,
        artwork=JPEG,
    )  # fmt: skip


def test_export_writes_every_format_tagged_and_reruns_touch_nothing(download, tmp_path):
    fields = {"artist": "Mira Vale", "title": "Nightdrive: Part 1/2", "album": "Late Set"}
    files = export_track(download, tmp_path, ["aiff", "m4a", "wav", "mp3"], fields, _tags(123))

    assert set(files) == {"aiff", "m4a", "wav", "mp3"}
    for fmt, path in files.items():
        assert path == tmp_path / f"Mira Vale - Nightdrive_ Part 1_2.{fmt}"
        back = read_tags(path)
        assert back.soundcloud_id == 123
        assert back.tempo == 128.0 and back.key == "F# major" and back.artwork == JPEG
    assert probe(files["mp3"]).codec == "mp3"  # passthrough of an mp3 download
    assert probe(files["m4a"]).codec == "aac"

    stamps = {fmt: p.stat().st_mtime_ns for fmt, p in files.items()}
    again = export_track(download, tmp_path, ["aiff", "m4a", "wav", "mp3"], fields, _tags(123))
    assert again == files
    assert {fmt: p.stat().st_mtime_ns for fmt, p in again.items()} == stamps

    changed = export_track(download, tmp_path, ["aiff"], fields, _tags(123, title="Renamed"))
    assert read_tags(changed["aiff"]).title == "Renamed"


def test_same_name_different_track_gets_its_id(download, tmp_path):
    fields = {"artist": "Mira Vale", "title": "Intro"}
    first = export_track(download, tmp_path, ["aiff"], fields, _tags(111))["aiff"]
    second = export_track(download, tmp_path, ["aiff"], fields, _tags(222))["aiff"]
    assert first.name == "Mira Vale - Intro.aiff"
    assert second.name == "Mira Vale - Intro [222].aiff"
    assert read_tags(first).soundcloud_id == 111
    assert read_tags(second).soundcloud_id == 222
    assert export_track(download, tmp_path, ["aiff"], fields, _tags(222))["aiff"] == second


def test_artwork_is_fetched_largest_and_cached(tmp_path):
    with SoundCloudEmulator() as emu:
        track = emu.add_track("mira", has_artwork=True)
        cache = tmp_path / "cache"
        emu.seed_client_id_cache(cache)
        with SoundCloudClient(PROXY_API_BASE, proxy=emu.proxy_url, cache_dir=cache) as sc:
            fetched = sc.fetch_track_json([track.id])[track.id]
        url = largest_artwork(fetched["artwork_url"])
        assert url.endswith("-t500x500.jpg")
        data = fetch_artwork(url, tmp_path, track.id, proxy=emu.proxy_url)
        assert data is not None and data.startswith(b"\xff\xd8")
        served = emu.counts["artwork"]
        assert fetch_artwork(url, tmp_path, track.id, proxy=emu.proxy_url) == data
        assert emu.counts["artwork"] == served  # cached on disk
        assert (tmp_path / "artwork" / f"{track.id}.jpg").read_bytes() == data
        missing = url.replace("-t500x500.", "-t999x999.")
        assert fetch_artwork(missing, tmp_path, 1, proxy=emu.proxy_url) is None
    assert fetch_artwork(None, tmp_path, 2) is None
