"""One decode per track: a sync decodes each download once, for the analysis and every
library format together (`audio.staged`), and the files are those a separate
conversion writes, tagged as before.

The ffmpeg the user names (FFMPEG_BINARY) is a wrapper that logs each command line and
runs the real one, so the count is of what the program really started.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import numpy as np

from soundcloud_sync.audio import convert, ffmpeg_exe, read_tags
from soundcloud_sync.audio.analysis import decode_native
from soundcloud_sync.audio.convert import temp_name
from soundcloud_sync.audio.staged import decode_and_stage, staged_conversion, staged_path
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator, audio_bytes
from soundcloud_sync_tests.fixtures_pipeline import run_cli


def _logging_ffmpeg(folder: Path) -> tuple[Path, Path]:
    log = folder / "ffmpeg-commands.log"
    wrapper = folder / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$*\" >> {shlex.quote(str(log))}\n"
        f'exec {shlex.quote(ffmpeg_exe())} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, log


def _decodes(log: Path, downloads: Path) -> dict[str, list[str]]:
    """Each download's ffmpeg commands that decode it (not the header reads: `-i` last)."""
    found: dict[str, list[str]] = {}
    pattern = re.compile(re.escape(str(downloads)) + r"/(\d+\.\w+) (.+)")
    for line in log.read_text().splitlines():
        match = pattern.search(line)
        if match and "-i " in line:
            found.setdefault(match[1], []).append(match[2])
    return found


def test_a_sync_decodes_each_download_once_for_analysis_and_every_format(
    tmp_path: Path, cli_env: dict[str, str], soundcloud_emulator: SoundCloudEmulator
) -> None:
    playlist = soundcloud_emulator.add_playlist("crate-digger", "one-pass", 3)
    wrapper, log = _logging_ffmpeg(tmp_path)
    env = {**cli_env, "AUDIO_FORMATS": "aiff,wav", "FFMPEG_BINARY": str(wrapper)}
    home = Path(env["SOUNDCLOUD_SYNC_HOME"])

    first = run_cli(env, "sync", playlist.url, "--json")
    assert first.returncode == 0, first.stderr
    stats = json.loads(first.stdout)
    assert stats["errors"] == 0 and stats["converted"] == 3

    decodes = _decodes(log, home / "downloads")
    assert sorted(decodes) == sorted(f"{tid}.mp3" for tid in playlist.track_ids)
    for name, commands in decodes.items():
        assert len(commands) == 1, f"{name} decoded {len(commands)} times: {commands}"
        # one process: the analysis's samples on the pipe and both formats
        assert "pipe:1" in commands[0] and "-f aiff" in commands[0] and "-f wav" in commands[0]
    for fmt in ("aiff", "wav"):
        files = sorted((home / "library").rglob(f"*.{fmt}"))
        assert len(files) == 3
        for path in files:
            tags = read_tags(path)
            assert tags.soundcloud_id in playlist.track_ids and tags.tempo and tags.key
    assert not list((home / "library" / ".staged").iterdir())  # every staged file taken

    log.write_text("")
    again = run_cli(env, "sync", playlist.url, "--json")
    assert again.returncode == 0, again.stderr
    assert _decodes(log, home / "downloads") == {}  # measured and converted: nothing to decode


def test_the_staged_files_and_samples_are_those_of_separate_decodes(tmp_path: Path) -> None:
    source = tmp_path / "123.mp3"
    source.write_bytes(audio_bytes(124.0, "A minor", 12.0))
    library = tmp_path / "library"
    samples, rate = decode_and_stage(source, library, ["aiff", "m4a", "wav", "mp3"])
    alone, alone_rate = decode_native(source)
    assert rate == alone_rate == 44100 and np.array_equal(samples, alone)  # analysis unchanged
    for fmt in ("aiff", "m4a", "wav", "mp3"):
        staged = staged_conversion(library, source, fmt)
        assert staged is not None
        converted = convert(source, tmp_path / "separately", fmt, "x")
        assert staged.read_bytes() == converted.read_bytes()
        moved = convert(source, tmp_path / "moved", fmt, "x", prepared=staged)
        assert moved.read_bytes() == converted.read_bytes() and not staged.exists()
    assert not [p for p in (library / ".staged").iterdir()]  # no temporary file left


def test_staging_that_cannot_be_written_still_gives_the_analysis_its_samples(
    tmp_path: Path,
) -> None:
    source = tmp_path / "7.mp3"
    source.write_bytes(audio_bytes(124.0, "A minor", 6.0))
    library = tmp_path / "library"
    library.write_text("a file where the library folder should be")
    samples, rate = decode_and_stage(source, library, ["aiff"])
    alone, _ = decode_native(source)
    assert rate == 44100 and np.array_equal(samples, alone)
    assert staged_conversion(library, source, "aiff") is None


def test_a_decode_killed_midway_leaves_nothing_for_the_next_decode_to_find(
    tmp_path: Path,
) -> None:
    """A temporary staged file of a process killed mid-decode is swept by the next decode of
    any track, so one whose track is never analysed again does not stay for ever; one of a
    process still writing is left alone."""
    library = tmp_path / "library"
    (library / ".staged").mkdir(parents=True)
    dead = temp_name(staged_path(library, tmp_path / "41.mp3", "aiff"))
    dead = dead.with_name(
        re.sub(r"converting-\d+-", "converting-999999999-", dead.name)
    )  # > pid_max
    alive = temp_name(staged_path(library, tmp_path / "42.mp3", "aiff"))
    alive = alive.with_name(re.sub(r"converting-\d+-", f"converting-{os.getppid()}-", alive.name))
    mine = temp_name(staged_path(library, tmp_path / "43.mp3", "aiff"))  # another thread's
    for tmp in (dead, alive, mine):
        tmp.write_bytes(b"half a file")
    source = tmp_path / "44.mp3"
    source.write_bytes(audio_bytes(124.0, "A minor", 4.0))
    decode_and_stage(source, library, ["aiff"])
    assert not dead.exists()
    assert alive.exists() and mine.exists()
    assert staged_conversion(library, source, "aiff") is not None
