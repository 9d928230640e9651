"""The evaluation set: music whose tempo and key are stated by its source, and cached.

    python -m soundcloud_sync_tests.corpus            # fetch + render the full set, list it
    python -m soundcloud_sync_tests.corpus --ci       # only the small part the tests use

Three sources state their truth, and every track they give is scored:

- **Tracker modules** from Debian's game packages. A module plays ``tempo`` ticks per
  2.5 s and ``speed`` ticks per row (its first row's, where that row sets them, else its
  header's); with ``rows_per_beat`` rows to a beat (Impulse
  Tracker files store it as the row highlight; ProTracker's convention is 4) the beat is
  ``tempo * 24 / (speed * rows_per_beat)`` BPM, exact; where the highlights make a bar
  of 6, 9 or 12 beats (compound time, as 6/8), the heard beat is three of them. Every
  format (ProTracker, Scream Tracker 3, Impulse Tracker, FastTracker 2) is walked row by
  row, and a song that changes its speed or tempo within the excerpt states no tempo.
  ffmpeg (imageio-ffmpeg's, which has libopenmpt) renders them. Fourteen packages were
  added after analysis v7 (``ADDED``), so the held-out third has music no threshold was
  set on.
- **MIDI files** from Debian packages, rendered by FluidSynth with the FluidR3 General
  MIDI soundfont. Tempo: the file's tempo event, kept where one tempo holds through the
  excerpt and the notes keep to its grid (``_grid_strength``: six tunes played in
  without a click drift across the grid of their tempo event), counted in the meter's
  heard beat (one rule for every file, see
  ``_beat_in_quarters``): the quarter in x/4, the half in x/2, the dotted quarter in
  6/8, 9/8 and 12/8; other x/8 meters (5/8, 7/8) state no even beat and are left out.
  A file stating no time signature (4/4 is then the standard's default, not the
  author's word) is counted in quarters unless its notes repeat at the dotted quarter
  at least twice as strongly as at the quarter (``_unstated_beat``: two OpenTTD tunes
  whose kick, snare and ride repeat every three eighth notes across the bar lines).
  No file of the set has a compound time signature; one tracker module has compound
  highlights (pingus-1.it: 2 rows a beat, 12 a bar, read as 6/8). Key: the key-signature event, kept
  only where it can be trusted: one signature through the excerpt, and the notes
  themselves (every non-drum note, weighted by its length) rank that very key first of
  the 24 against the Krumhansl-Kessler profiles. Authors often leave a signature at its
  default (C major), and a signature cannot tell a major key from its relative minor on
  its own; the notes can. A file failing the key test still gives its tempo.
- **The style set** (styles.py): scores written in the styles DJs play, at their usual
  tempi, in every key, with and without drums, some swung, rendered by FluidSynth with the
  same soundfont (sampled instruments: not our synthesizer). Each carries the genre a
  SoundCloud upload would, so the bench scores with and without a genre.

Also fetched: recorded game soundtracks (Ogg/MP3), which state no truth; the bench shows
how often we agree with the reference analyzers there.

Everything comes from Debian's archive with ``apt-get download`` (no install) and
``dpkg-deb -x`` into the cache, so any machine with apt can rebuild the set byte for
byte. Rendering MIDI needs ``apt-get install fluidsynth fluid-soundfont-gm`` (the bench
only: the CI part is four tracker modules). Every render is a 44.1 kHz MP3 at 320 kb/s of
at most 90 s. A third of the set, chosen by a hash of its name, is held out from tuning.

The cache lives in ``$SOUNDCLOUD_SYNC_CORPUS`` or ``~/.cache/soundcloud-sync-corpus``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from soundcloud_sync.key_notation import NOTE_NAMES  # one spelling of the twelve notes
from soundcloud_sync_tests.midi import DRUM_CHANNEL, Note, read_midi, write_midi

# Debian package -> (folder inside it, file suffixes, style, licence as the package states).
PACKAGES: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "tecnoballz-data": (
        "usr/share/games/tecnoballz/musics", (".mod",), "tracker .mod (Amiga)", "GPL-3+"
    ),
    "pingus-data": (
        "usr/share/games/pingus/data/music", (".it", ".s3m"), "tracker .it/.s3m", "GPL-3+"
    ),
    "frozen-bubble-data": (
        "usr/share/games/frozen-bubble/snd", (".ogg",), "game soundtrack (ogg)", "GPL-2+"
    ),
    "powermanga-data": (
        "usr/share/games/powermanga/sound/handheld_console", (".ogg",),
        "game soundtrack (ogg)", "GPL-3+",
    ),
    "pangzero": ("usr/share/perl5/auto/share/dist/Games-PangZero", (".mp3",),
                 "game soundtrack (mp3)", "GPL-2+"),
    # Added after analysis v7, so the held-out part has music nobody tuned on (see ADDED).
    "biniax2-data": ("usr/share/games/biniax2/music", (".it",), "tracker .it/.s3m", "Zlib"),
    "gltron": ("usr/share/games/gltron/music", (".it",), "tracker .it/.s3m", "GPL-2"),
    "monsterz-data": ("usr/share/games/monsterz/sound", (".s3m",), "tracker .it/.s3m",
                      "public domain"),
    "pachi-data": ("usr/share/pachi/music", (".s3m",), "tracker .it/.s3m", "GPL-2+"),
    "freedroid-data": ("usr/share/games/freedroid/sound", (".mod",), "tracker .mod (Amiga)",
                       "GPL-2+"),
    "rockdodger": ("usr/share/rockdodger", (".mod",), "tracker .mod (Amiga)", "GPL-2+"),
    "heroes-sound-tracks": ("usr/share/games/heroes/mod", (".xm",), "tracker .xm", "GPL-2+"),
    "ceferino-data": ("usr/share/games/ceferino/music", (".xm",), "tracker .xm", "GPL-2+"),
    "njam-data": ("usr/share/games/njam/data", (".xm", ".s3m"), "tracker modules", "GPL-2+"),
    "bomberclone-data": ("usr/share/games/bomberclone/music", (".xm", ".mod"),
                         "tracker modules", "GPL-2"),
    "criticalmass-data": ("usr/share/games/criticalmass", (".xm",), "tracker .xm", "GPL-2+"),
    "ri-li-data": ("usr/share/games/ri-li/Ri-li/Sounds", (".xm", ".mod"), "tracker modules",
                   "GPL-2 or GPL-3"),
}  # fmt: skip
# Debian packages of MIDI music -> (folder inside, licence as the package states).
MIDI_PACKAGES: dict[str, tuple[str, str]] = {
    "openttd-openmsx": ("usr/share/games/openttd/baseset/openmsx", "GPL-2"),
    "planetblupi-music-midi": ("usr/share/planetblupi/music", "GPL-3+"),
    "kobodeluxe-data": ("usr/share/kobo-deluxe/sfx", "LGPL-2.1+"),  # added after v7
    "freedink-data": (
        "usr/share/games/dink/dink/Sound",
        "zlib; CC-BY-3.0, CC-BY-SA-3.0, GPL-2 replacements",
    ),  # added after v7
}
# Packages added after analysis v7 (modules and MIDI files no threshold was set on):
# the bench scores them as a group of their own, split by the same hash.
ADDED = frozenset({"biniax2-data", "gltron", "monsterz-data", "pachi-data", "freedroid-data",
                   "rockdodger", "heroes-sound-tracks", "ceferino-data", "njam-data",
                   "kobodeluxe-data", "bomberclone-data", "criticalmass-data", "ri-li-data",
                   "freedink-data"})  # fmt: skip
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # fluid-soundfont-gm
# The style and key scores rendered again by other General MIDI soundfonts (name ->
# Debian package, the file inside, the renders' folder, licence): a set we have never
# seen may be rendered some other way, and the metrical level is read from how the drums
# sound. Scored apart from the exact-truth set (bench/analysis.py), whose figures stay
# comparable.
OTHER_SOUNDFONTS: dict[str, tuple[str, str, str, str]] = {
    "TimGM6mb": ("timgm6mb-soundfont", "usr/share/sounds/sf2/TimGM6mb.sf2",
                 "styles-timgm6mb", "GPL-2"),
    "MuseScore General Lite": ("musescore-general-soundfont-small",
                               "usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
                               "styles-musescore",
                               "MIT, parts PD or CC0; shares FluidR3 Mono's samples"),
}  # fmt: skip
# Krumhansl-Kessler probe-tone profiles (major, minor), tonic first: the symbolic check
# of a MIDI file's key signature (on its notes, not on audio).
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

MODULE_SUFFIXES = (".mod", ".s3m", ".it", ".xm")
MODULE_STYLES = {".mod": "tracker .mod (Amiga)", ".xm": "tracker .xm",
                 ".it": "tracker .it/.s3m", ".s3m": "tracker .it/.s3m"}  # fmt: skip
# A MIDI file stating no time signature is heard in dotted quarters where its notes
# repeat at the dotted quarter this many times as strongly as at the quarter.
DOTTED_BEAT = 2.0
# A MIDI file's tempo event is trusted only where its notes keep to the grid it sets:
# their onsets' vector strength (velocity-weighted) at the sixteenth or at the triplet
# eighth of the stated quarter at least this (1: every onset on the grid; near 0: notes
# played in without a click, which the tempo event does not describe). The files of the
# set score 0.54-1.00 or 0.05-0.11, nothing between.
ON_GRID = 0.3
MIN_SECONDS = 20.0  # shorter files are jingles and sound effects, not music
MAX_SECONDS = 90.0  # longer renders add bench time, not information
# The part CI scores: four ProTracker modules from the smallest package (1.5 MB): a
# 3:2 trap (125 BPM read as 83.33), 150 BPM, a beat of 93.75 whose double is out of the
# range, and one whose key both reference analyzers agree on.
CI_FILES = ("area1-game.mod", "area2-game.mod", "in-game-music-1_reg.mod", "mon-lapin_reg-zbb.mod")
CI_SECONDS = 45.0


class CorpusError(RuntimeError):
    """The evaluation set could not be fetched or rendered."""


@dataclass(frozen=True)
class Recording:
    path: Path  # what the analyzers read
    source: str  # "<package>/<file>", "styles/<piece>"
    style: str
    file_bpm: float | None  # the tempo the source states, None where it states none
    held_out: bool  # never looked at while tuning
    key: str | None = None  # the key the source states ("A minor"), None where none
    genre: str | None = None  # the genre a SoundCloud upload of it would carry
    soundfont: str | None = None  # an OTHER_SOUNDFONTS render of a score (None: FluidR3)

    @property
    def name(self) -> str:
        return self.source.split("/", 1)[1]


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "soundcloud-sync-corpus"
    return Path(os.environ.get("SOUNDCLOUD_SYNC_CORPUS") or default)


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise CorpusError(f"{cmd[0]} not found: the evaluation set needs Debian's apt") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise CorpusError(f"{cmd[0]} {cmd[1]} failed: {lines[-1] if lines else proc.returncode}")


def _lock(root: Path, name: str) -> FileLock:
    """One fetch or render of a file per machine: test workers (pytest -n 2) and bench
    runs share the cache, and the second one waits, then finds the work done."""
    locks = root / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    return FileLock(str(locks / f"{name}.lock"))


def fetch_package(package: str, root: Path) -> Path:
    """The package's files under ``root/<package>`` (downloaded and unpacked once)."""
    target = root / package
    if (target / ".done").exists():
        return target
    with _lock(root, package):
        if (target / ".done").exists():
            return target
        return _fetch_package(package, root, target)


def _fetch_package(package: str, root: Path, target: Path) -> Path:
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        try:
            _run(["apt-get", "download", "-q", package], cwd=debs)
        except CorpusError:
            # A fresh machine may have no package lists yet (root can fetch them).
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "download", "-q", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise CorpusError(f"apt-get download {package} gave no .deb")
    target.mkdir(parents=True, exist_ok=True)
    _run(["dpkg-deb", "-x", str(found[-1]), str(target)])
    (target / ".done").touch()
    return target


# --------------------------------------------------------------------------- module tempo


def _mod_channels(data: bytes) -> int:
    channels = {b"M.K.": 4, b"M!K!": 4, b"FLT4": 4, b"4CHN": 4, b"6CHN": 6, b"8CHN": 8}
    tag = data[1080:1084]
    return channels.get(tag) or (int(tag[:2]) if tag[2:] == b"CH" and tag[:2].isdigit() else 4)


def _mod_tempo(data: bytes) -> tuple[int, int]:
    """(speed, tempo) in force at the start of a ProTracker module (defaults 6, 125)."""
    n_ch = _mod_channels(data)
    first_pattern = data[952]
    row0 = 1084 + first_pattern * 64 * n_ch * 4
    speed, tempo = 6, 125
    for ch in range(n_ch):
        cell = data[row0 + 4 * ch : row0 + 4 * ch + 4]
        if len(cell) == 4 and cell[2] & 0x0F == 0x0F and cell[3]:
            if cell[3] < 32:
                speed = cell[3]
            else:
                tempo = cell[3]
    return speed, tempo


Rows = list[list[tuple[int, int]]]  # each row's (command, value) effects, in play order


def _it_rows(data: bytes) -> Rows:
    """The effects of each row an Impulse Tracker song plays, pattern after pattern."""
    orders, _ins, samples, patterns = struct.unpack_from("<HHHH", data, 0x20)
    table = 0xC0 + orders + 4 * _ins + 4 * samples
    pointers = struct.unpack_from(f"<{patterns}I", data, table)
    out: Rows = []
    for order in data[0xC0 : 0xC0 + orders]:
        if order >= patterns or not pointers[order]:
            continue
        length = struct.unpack_from("<H", data, pointers[order])[0]
        i, end = pointers[order] + 8, pointers[order] + 8 + length
        masks: dict[int, int] = {}
        out.append([])
        while i < end:
            channel_byte = data[i]
            i += 1
            if channel_byte == 0:
                out.append([])
                continue
            channel = (channel_byte - 1) & 63
            if channel_byte & 128:
                masks[channel] = data[i]
                i += 1
            mask = masks.get(channel, 0)
            i += (mask & 1) + (mask >> 1 & 1) + (mask >> 2 & 1)
            if mask & 8:
                out[-1].append((data[i], data[i + 1]))
                i += 2
    return out


def _s3m_rows(data: bytes) -> Rows:
    """The effects of each row a Scream Tracker 3 song plays, pattern after pattern."""
    orders, instruments, patterns = struct.unpack_from("<HHH", data, 0x20)
    table = 0x60 + orders + 2 * instruments
    pointers = [16 * p for p in struct.unpack_from(f"<{patterns}H", data, table)]
    out: Rows = []
    for order in data[0x60 : 0x60 + orders]:
        if order >= patterns or not pointers[order]:
            continue
        length = struct.unpack_from("<H", data, pointers[order])[0]
        i, end = pointers[order] + 2, pointers[order] + length
        out.append([])
        while i < end:
            what = data[i]
            i += 1
            if what == 0:
                out.append([])
                continue
            i += 2 * bool(what & 32) + bool(what & 64)
            if what & 128:
                out[-1].append((data[i], data[i + 1]))
                i += 2
    return out


def _xm_rows(data: bytes) -> Rows:
    """The effects of each row a FastTracker 2 song plays, pattern after pattern (effect
    F, as in ProTracker: a value under 32 sets the speed, 32 or more the tempo)."""
    header = struct.unpack_from("<I", data, 60)[0]
    length, _restart, channels, patterns = struct.unpack_from("<HHHH", data, 64)
    starts, i = [], 60 + header
    for _ in range(patterns):
        head, _packing, n_rows, size = struct.unpack_from("<IBHH", data, i)
        starts.append((i + head, n_rows, size))
        i += head + size
    out: Rows = []
    for order in data[80 : 80 + min(length, 256)]:
        if order >= patterns:
            continue
        i, n_rows, size = starts[order]
        end = i + size
        for _row in range(n_rows if size else 0):
            out.append([])
            for _channel in range(channels):
                if i >= end:
                    break
                what = data[i]
                if what & 0x80:
                    i += 1
                    i += bool(what & 1) + bool(what & 2) + bool(what & 4)
                    command = data[i] if what & 8 else 0
                    i += bool(what & 8)
                    value = data[i] if what & 16 else 0
                    i += bool(what & 16)
                    if what & 24:
                        out[-1].append((command, value))
                else:  # note, instrument, volume, effect, value: all five
                    out[-1].append((data[i + 3], data[i + 4]))
                    i += 5
        if not size:
            out.extend([] for _ in range(n_rows))
    return out


def _mod_rows(data: bytes, channels: int) -> Rows:
    """The effects of each row a ProTracker song plays, pattern after pattern."""
    out: Rows = []
    for order in data[952 : 952 + data[950]]:
        for row in range(64):
            start = 1084 + (order * 64 + row) * channels * 4
            cells = [data[start + 4 * c : start + 4 * c + 4] for c in range(channels)]
            out.append([(c[2] & 0x0F, c[3]) for c in cells if len(c) == 4])
    return out


def _steady_pace(rows: Rows, speed: int, tempo: int, speed_cmd: int, tempo_cmd: int,
                 seconds: float) -> tuple[int, int] | None:  # fmt: skip
    """The speed and tempo the song plays from its first row (its header's, unless that
    row sets its own), if they hold for 90 % of its first ``seconds``; else None (a row
    lasts ``speed`` ticks of 2.5/``tempo`` s; a ritardando of two rows at a phrase's end
    does not unsettle a tempo). Pattern jumps and breaks are not followed: the patterns
    are taken in order, close enough to tell a steady song from one that changes pace."""
    elapsed = steady = 0.0
    first = None
    for row in rows:
        for command, value in row:
            if command == speed_cmd and 0 < value < (32 if speed_cmd == tempo_cmd else 256):
                speed = value
            elif command == tempo_cmd and value >= 32:
                tempo = value
        first = first or (speed, tempo)
        row_s = speed * 2.5 / tempo
        elapsed += row_s
        steady += row_s if (speed, tempo) == first else 0.0
        if elapsed >= seconds:
            break
    return (first or (speed, tempo)) if steady >= 0.9 * elapsed else None


def compound_beat(units_per_bar: int) -> int:
    """How many written beat units make the heard beat: three in a compound meter, whose
    bar holds 6, 9 or 12 short units (6/8, 9/8, 12/8: two, three or four dotted quarters a
    bar), else one. The same rule reads a MIDI time signature in eighths and a tracker's
    row highlights (rows a beat, rows a bar: 2 and 12 is a bar of six short units)."""
    return 3 if units_per_bar in (6, 9, 12) else 1


def module_bpm(path: Path, seconds: float = MAX_SECONDS) -> float | None:
    """The beat tempo a tracker module states over its first ``seconds`` (None if it
    states none, or changes it)."""
    data = path.read_bytes()
    rows_per_beat = 4
    # A song that changes its speed or tempo within the excerpt states no one tempo
    # (IT and S3M: commands A and T; MOD and XM: F). The first row's own commands count:
    # `the_big_march_in_space.it` says tempo 75 in its header and plays at 80 from row 0.
    if path.suffix == ".it" and data[:4] == b"IMPM":
        speed, tempo = data[0x32], data[0x33]
        highlight, bar = data[0x1E], data[0x1F]
        if 2 <= highlight <= 8:
            rows_per_beat = highlight * compound_beat(
                bar // highlight if bar % highlight == 0 else 0
            )
        pace = _steady_pace(_it_rows(data), speed, tempo, 1, 20, seconds)
    elif path.suffix == ".s3m" and data[0x2C:0x30] == b"SCRM":
        speed, tempo = data[0x31], data[0x32]
        pace = _steady_pace(_s3m_rows(data), speed, tempo, 1, 20, seconds)
    elif path.suffix == ".xm" and data[:17] == b"Extended Module: ":
        speed, tempo = struct.unpack_from("<HH", data, 60 + 16)
        pace = _steady_pace(_xm_rows(data), speed, tempo, 15, 15, seconds)
    elif path.suffix == ".mod" and len(data) > 1084:
        speed, tempo = _mod_tempo(data)
        pace = _steady_pace(_mod_rows(data, _mod_channels(data)), speed, tempo, 15, 15, seconds)
    else:
        return None
    if pace is None or not all(pace):
        return None
    speed, tempo = pace
    return tempo * 24.0 / (speed * rows_per_beat)


# --------------------------------------------------------------------------- rendering


def _duration(path: Path) -> float:
    from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    times = [ln for ln in proc.stderr.splitlines() if "time=" in ln]
    if not times:
        return 0.0
    h, m, s = times[-1].split("time=")[1].split()[0].split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def render(source: Path, target: Path, seconds: float) -> Path:
    """Render a module (or cut a recording) to a 44.1 kHz stereo MP3 at 320 kb/s (what
    SoundCloud serves, so the decode cost is the real one), at most ``seconds`` long."""
    from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent.parent, f"render-{target.parent.name}-{target.stem}"):
        if target.exists():
            return target
        # A name of this process's own: a render killed half-way never leaves a file
        # another process could take for the finished one.
        tmp = target.with_name(f"{target.stem}.{os.getpid()}.part.mp3")
        try:
            _run([ffmpeg_exe(), "-y", "-nostdin", "-loglevel", "error", "-i", str(source),
                  "-t", str(seconds), "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame",
                  "-b:a", "320k", str(tmp)])  # fmt: skip
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


# --------------------------------------------------------------------------- MIDI


def _key_name(tonic: int, minor: bool) -> str:
    return f"{NOTE_NAMES[tonic % 12]} {'minor' if minor else 'major'}"


def _notes_key(weights: np.ndarray) -> str:
    """The key whose Krumhansl-Kessler profile best matches a pitch-class histogram."""
    best = max(
        (float(np.corrcoef(weights, np.roll(profile, tonic))[0, 1]), tonic, minor)
        for minor, profile in ((False, KK_MAJOR), (True, KK_MINOR))
        for tonic in range(12)
    )
    return _key_name(best[1], best[2])


def _beat_in_quarters(num: int, den: int) -> float | None:
    """The heard beat of a time signature, in quarter notes (a MIDI tempo counts quarters):
    the written unit in x/2 and x/4; in x/8 and x/16, three units in the compound meters
    (6/8, 9/8, 12/8: the dotted quarter), None in the others (5/8, 7/8: an uneven beat).
    6/4 counts its quarters: it is written as often for a slow three-in-a-bar as for
    two dotted halves, and the file cannot say which."""
    if den in (2, 4):
        return 4 / den
    units = compound_beat(num)
    return 4 / den * units if units == 3 else None


def _onset_repeat(notes: list[Note], end_beat: float, lag: float) -> float:
    """How strongly the notes' onsets (velocity-weighted, every channel, on a grid of a
    twelfth of a quarter note) repeat ``lag`` quarter notes later: their correlation
    with themselves shifted by ``lag`` (mean removed; 1 when every onset repeats)."""
    grid = np.zeros(int(end_beat * 12) + 1)
    for n in notes:
        if n.start < end_beat:
            grid[round(n.start * 12)] += n.velocity / 127
    grid -= grid.mean()
    energy = float(grid @ grid)
    shift = round(lag * 12)
    return float(grid[:-shift] @ grid[shift:]) / energy if energy > 0 else 0.0


def _unstated_beat(notes: list[Note], end_beat: float) -> float:
    """The heard beat, in quarter notes, of a file that states no time signature (the
    standard's 4/4 is a default, not the author's word): the quarter, unless the notes
    repeat at the dotted quarter at least DOTTED_BEAT times as strongly as at the
    quarter (kick, snare and ride every three eighth notes: a beat of three eighths, as
    in compound time)."""
    quarter = _onset_repeat(notes, end_beat, 1.0)
    dotted = _onset_repeat(notes, end_beat, 1.5)
    return 1.5 if dotted > 0 and dotted >= DOTTED_BEAT * max(quarter, 0.0) else 1.0


def _grid_strength(notes: list[Note], end_beat: float) -> float:
    """How well the onsets before ``end_beat`` (quarter notes) keep to the stated tempo's
    grid: their vector strength, velocity-weighted, at the sixteenth and at the triplet
    eighth, the larger (1 when every onset is on that grid; a file played in without a
    click drifts across it and scores near 0, however steady its own pulse)."""
    starts = np.array([n.start for n in notes if n.start < end_beat])
    weights = np.array([n.velocity for n in notes if n.start < end_beat], dtype=float)
    if not len(starts) or weights.sum() <= 0:
        return 0.0
    return max(
        float(abs(weights @ np.exp(2j * np.pi * per_quarter * starts)) / weights.sum())
        for per_quarter in (4, 3)
    )


def midi_truth(path: Path, seconds: float = MAX_SECONDS) -> tuple[float | None, str | None]:
    """(tempo, key) a MIDI file states over its first ``seconds``, each None where the
    file states none or it cannot be trusted (see the module doc)."""
    midi = read_midi(path)
    tempi = midi.tempi or [(0.0, 120.0)]  # the standard's default
    first_bpm = tempi[0][1]
    end_beat = seconds * first_bpm / 60.0
    in_excerpt = {round(bpm, 3) for beat, bpm in tempi if beat < end_beat}
    meters = {(num, den) for beat, num, den in midi.meters if beat < end_beat}
    if meters:
        beats = {_beat_in_quarters(num, den) for num, den in meters}
    else:
        beats = {_unstated_beat(midi.notes, end_beat)}
    one_beat = beats.pop() if len(beats) == 1 else None
    bpm = first_bpm / one_beat if len(in_excerpt) == 1 and one_beat else None
    if bpm is not None and _grid_strength(midi.notes, end_beat) < ON_GRID:
        bpm = None  # played in freely: the tempo event states no tempo the music keeps
    signatures = {(sharps, minor) for beat, sharps, minor in midi.keys if beat < end_beat}
    if len(signatures) != 1 or bpm is None:
        return bpm, None
    sharps, minor = signatures.pop()
    stated = _key_name(7 * sharps + (9 if minor else 0), minor)
    weights = np.zeros(12)
    for n in midi.notes:
        if n.channel != DRUM_CHANNEL and n.start < end_beat:
            weights[n.pitch % 12] += min(n.length, end_beat - n.start)
    return bpm, stated if weights.any() and _notes_key(weights) == stated else None


def render_midi(
    source: Path,
    target: Path,
    seconds: float,
    soundfont: Path = SOUNDFONT,
    package: str = "fluid-soundfont-gm",
) -> Path:
    """Render a MIDI file with FluidSynth and a GM soundfont (from Debian's ``package``),
    then as render() does."""
    if target.exists():
        return target
    if not soundfont.exists():
        raise CorpusError(
            f"{soundfont} not found: rendering MIDI needs apt-get install fluidsynth {package}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent.parent, f"midi-{target.parent.name}-{target.stem}"):
        if target.exists():
            return target
        wav = target.with_name(f"{target.stem}.{os.getpid()}.part.wav")
        try:
            _run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", "44100", "-F", str(wav),
                  str(soundfont), str(source)])  # fmt: skip
            render(wav, target, seconds)
        finally:
            wav.unlink(missing_ok=True)
    return target


def _midi_recordings(root: Path) -> list[Recording]:
    out = []
    for package, (folder, _licence) in MIDI_PACKAGES.items():
        for src in sorted((fetch_package(package, root) / folder).glob("*.mid")):
            bpm, key = midi_truth(src)
            if bpm is None:
                continue
            source = f"{package}/{src.name}"
            path = render_midi(src, root / "audio" / "midi" / f"{package}--{src.stem}.mp3",
                               MAX_SECONDS)  # fmt: skip
            if _duration(path) < MIN_SECONDS:
                continue
            out.append(Recording(path, source, "MIDI (Debian)", bpm, _held_out(source), key))
    return out


def _style_recordings(root: Path, soundfont: str | None = None) -> list[Recording]:
    """The style and key sets, rendered by FluidR3 or by one of OTHER_SOUNDFONTS."""
    from soundcloud_sync_tests.styles import key_set, style_set

    font, folder, package = SOUNDFONT, "styles", "fluid-soundfont-gm"
    if soundfont is not None:
        package, inside, folder, _licence = OTHER_SOUNDFONTS[soundfont]
        font = fetch_package(package, root) / inside
    out = []
    for piece in style_set() + key_set():
        source = f"{folder}/{piece.name}"
        score = root / "styles" / f"{piece.name}.mid"
        if not score.exists():
            write_midi(score, piece.notes, piece.bpm, piece.programs)
        path = render_midi(score, root / "audio" / folder / f"{piece.name}.mp3", MAX_SECONDS,
                           font, package)  # fmt: skip
        style = f"key: {piece.challenge}" if piece.challenge else piece.style
        # A score is held out (or not) whichever soundfont plays it.
        held_out = _held_out(f"styles/{piece.name}")
        out.append(Recording(path, source, style, piece.bpm, held_out, piece.key,
                             piece.genre, soundfont))  # fmt: skip
    return out


def _held_out(source: str) -> bool:
    """A third of the files, chosen by a hash of the name: fixed, and not by looking."""
    return hashlib.sha1(source.encode()).digest()[0] % 3 == 0


def recordings(
    ci: bool = False, root: Path | None = None, soundfonts: bool = False
) -> list[Recording]:
    """The evaluation set (``ci``: the four short CI clips), fetched and rendered on first
    use; ``soundfonts``: with the style and key sets' OTHER_SOUNDFONTS renders too."""
    root = root or cache_dir()
    out: list[Recording] = []
    for package, (folder, suffixes, style, _licence) in PACKAGES.items():
        if ci and package != "tecnoballz-data":
            continue
        files = sorted(p for p in (fetch_package(package, root) / folder).iterdir()
                       if p.suffix in suffixes)  # fmt: skip
        for src in files:
            if ci and src.name not in CI_FILES:
                continue
            source = f"{package}/{src.name}"
            is_module = src.suffix in MODULE_SUFFIXES
            seconds = CI_SECONDS if ci else MAX_SECONDS
            tag = "ci" if ci else "full"
            path = render(src, root / "audio" / tag / f"{package}--{src.stem}.mp3", seconds)
            if not ci and _duration(path) < MIN_SECONDS:
                continue
            bpm = module_bpm(src) if is_module else None
            kind = MODULE_STYLES.get(src.suffix, style) if is_module else style
            out.append(Recording(path, source, kind, bpm, _held_out(source)))
    if not ci:
        out += _midi_recordings(root) + _style_recordings(root)
    if soundfonts and not ci:
        out += [r for name in OTHER_SOUNDFONTS for r in _style_recordings(root, name)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="only the part the tests use")
    args = parser.parse_args()
    for r in recordings(ci=args.ci):
        bpm = f"{r.file_bpm:.2f}" if r.file_bpm else "-"
        print(
            f"{r.source:55s} {r.style:24s} BPM {bpm:>7s} key {r.key or '-':9s} "
            f"held-out {r.held_out}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
