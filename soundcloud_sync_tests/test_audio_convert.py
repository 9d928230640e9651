"""Conversion to every library format, tags read back, and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from mutagen.aiff import AIFF
from mutagen.id3 import ID3
from mutagen.mp4 import MP4
from mutagen.wave import WAVE

from soundcloud_sync.audio import (
    ConversionError,
    TrackTags,
    clean_stale_temp_files,
    convert,
    ffmpeg_exe,
    probe,
    read_tags,
    write_tags,
)
from soundcloud_sync_tests.synth import encode_audio, render_track

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TAGS = TrackTags(
    title="Nightdrive (Extended Mix) 🌙",
    artist="Kölsch & Friends",
    album="Deep House Set",
    genre="Deep House",
    tempo=124.02,
    key="A minor",
    camelot="8A",
    isrc="USRC17607839",
    url="https://soundcloud.com/artist/nightdrive",
    soundcloud_id=1234567890,
    track_number=7,
    artwork=PNG,
    artwork_mime="image/png",
)
CONTAINER = {"aiff": AIFF, "wav": WAVE, "m4a": MP4}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """A lossy (mp3, aac, opus) and lossless (wav 16-bit, flac 24-bit) source of one clip."""
    folder = tmp_path_factory.mktemp("sources")
    stereo = np.stack([render_track(124, "A minor", 6.0)] * 2, axis=1)
    out = {c: encode_audio(stereo, 44100, folder / f"src.{c}", c) for c in ("mp3", "wav")}
    out["m4a"] = encode_audio(stereo, 44100, folder / "src.m4a", "m4a")
    out["opus"] = encode_audio(stereo, 44100, folder / "src.opus", "opus")
    out["flac"] = encode_audio(stereo, 44100, folder / "src.flac", "flac")  # 24-bit from float
    return out


EXPECTED = {
    # (source, target): (codec, bits) of the result
    ("mp3", "aiff"): ("pcm_s16be", 16),
    ("mp3", "wav"): ("pcm_s16le", 16),
    ("mp3", "m4a"): ("aac", None),
    ("mp3", "mp3"): ("mp3", None),
    ("m4a", "m4a"): ("aac", None),
    ("m4a", "aiff"): ("pcm_s16be", 16),
    ("opus", "wav"): ("pcm_s16le", 16),
    ("opus", "mp3"): ("mp3", None),
    ("wav", "m4a"): ("alac", 16),
    ("wav", "aiff"): ("pcm_s16be", 16),
    ("flac", "aiff"): ("pcm_s24be", 24),
    ("flac", "m4a"): ("alac", 24),
    ("flac", "wav"): ("pcm_s24le", 24),
}


@pytest.mark.parametrize(("source", "fmt"), sorted(EXPECTED))
def test_every_format_is_written_and_its_tags_read_back(sources, tmp_path, source, fmt):
    src_info = probe(sources[source])
    out = convert(sources[source], tmp_path, fmt, "Kölsch - Nightdrive")

    assert out == tmp_path / f"Kölsch - Nightdrive.{fmt}"
    info = probe(out)
    codec, bits = EXPECTED[(source, fmt)]
    assert info.codec == codec
    assert info.bits == bits
    assert info.sample_rate == src_info.sample_rate  # never resampled (opus stays 48 kHz)

    write_tags(out, TAGS)
    write_tags(out, TAGS)  # idempotent: no duplicated frames
    assert read_tags(out) == TAGS
    if fmt in CONTAINER:
        native = CONTAINER[fmt](out)
        assert native.tags is not None
    if fmt == "m4a":
        atoms = MP4(out).tags
        assert atoms["----:com.soundcloud-sync:SOUNDCLOUD_ID"][0] == b"1234567890"
        assert atoms["tmpo"] == [124]
        assert atoms["----:com.apple.iTunes:initialkey"][0] == b"Am"
    else:
        id3 = ID3(out) if fmt == "mp3" else CONTAINER[fmt](out).tags
        assert id3["TXXX:SOUNDCLOUD_ID"].text == ["1234567890"]
        assert id3["TBPM"].text == ["124"]
        assert id3["TKEY"].text == ["Am"]
        assert id3.getall("COMM")[0].text == [TAGS.url]
        assert len(id3.getall("APIC")) == 1
        assert id3.version[:2] == (2, 3)


def test_retagging_replaces_our_fields_and_keeps_others(sources, tmp_path):
    out = convert(sources["mp3"], tmp_path, "aiff", "t")
    write_tags(out, TAGS)
    audio = AIFF(out)
    from mutagen.id3 import TCOM

    audio.tags.add(TCOM(encoding=3, text="Someone"))
    audio.save(v2_version=3)
    write_tags(out, TrackTags(title="New title", soundcloud_id=1))
    back = read_tags(out)
    assert back.title == "New title"
    assert back.artist is None and back.artwork is None
    assert AIFF(out).tags["TCOM"].text == ["Someone"]


def test_existing_destination_is_kept_on_rerun(sources, tmp_path):
    out = convert(sources["mp3"], tmp_path, "wav", "t")
    before = out.stat().st_mtime_ns
    time.sleep(0.01)
    assert convert(sources["mp3"], tmp_path, "wav", "t") == out
    assert out.stat().st_mtime_ns == before


def test_unsupported_format_is_refused(sources, tmp_path):
    with pytest.raises(ValueError, match="flac"):
        convert(sources["mp3"], tmp_path, "flac", "t")


def test_broken_source_names_the_file_and_leaves_nothing(tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\x00" * 5000)
    out_dir = tmp_path / "out"
    with pytest.raises(ConversionError, match=r"broken\.mp3"):
        convert(bad, out_dir, "aiff", "t")
    assert list(out_dir.iterdir()) == []


@pytest.fixture(scope="module")
def long_source(tmp_path_factory) -> Path:
    """Ten minutes of FLAC made by ffmpeg itself: long enough to interrupt its conversion."""
    path = tmp_path_factory.mktemp("long") / "long.flac"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:duration=600",
         "-ac", "2", "-c:a", "flac", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _children_running_ffmpeg(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(marker.encode() in part for part in cmdline) and b"-i" in cmdline:
            pids.append(int(proc.name))
    return pids


def _wait_for_temp(folder: Path, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        temps = [p for p in folder.glob(".*.converting-*") if p.stat().st_size > 0]
        if temps:
            return temps[0]
        time.sleep(0.005)
    raise AssertionError(f"no conversion started in {folder}")


def test_killed_ffmpeg_leaves_no_partial_file(long_source, tmp_path):
    out_dir = tmp_path / "lib"
    out_dir.mkdir()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            convert(long_source, out_dir, "m4a", "Killed Track")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    temp = _wait_for_temp(out_dir)
    pids = _children_running_ffmpeg(temp.name)
    assert pids, "the ffmpeg converting the file was not found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    worker.join(60)

    assert len(errors) == 1 and isinstance(errors[0], ConversionError)
    assert "long.flac" in str(errors[0])
    assert list(out_dir.iterdir()) == []  # neither the final name nor the temporary file


def test_crashed_process_leaves_no_final_file_and_rerun_cleans_up(long_source, tmp_path):
    out_dir = tmp_path / "lib"
    out_dir.mkdir()
    code = (
        "import sys; from soundcloud_sync.audio import convert; "
        "convert(sys.argv[1], sys.argv[2], 'aiff', 'Crashed Track')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(long_source), str(out_dir)],
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        stale = _wait_for_temp(out_dir)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: Python and ffmpeg
        proc.wait(30)

    assert not (out_dir / "Crashed Track.aiff").exists()
    assert stale.exists()  # what a crash leaves: a hidden temporary file, never the final name

    assert clean_stale_temp_files(out_dir) == 1
    assert list(out_dir.iterdir()) == []
    stale.write_bytes(b"half a file")  # and a rerun ignores / removes one by itself
    short = encode_audio(render_track(124, "A minor", 3.0), 44100, tmp_path / "s.mp3", "mp3")
    final = convert(short, out_dir, "aiff", "Crashed Track")
    assert sorted(p.name for p in out_dir.iterdir()) == ["Crashed Track.aiff"]
    assert probe(final).codec == "pcm_s16be"
