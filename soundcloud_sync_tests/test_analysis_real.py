"""Analysis of real recordings: game music from Debian's archive (see corpus.py).

Tracker modules state their tempo in the file, so these references are exact. The
clips are fetched with ``apt-get download`` once and cached (``SOUNDCLOUD_SYNC_CORPUS``).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from soundcloud_sync.audio import analyze_files
from soundcloud_sync_tests.corpus import CI_FILES, Recording, module_bpm, recordings


def _in_range(bpm: float, lo: float = 70.0, hi: float = 180.0) -> float:
    while bpm > hi:
        bpm /= 2
    while bpm < lo:
        bpm *= 2
    return bpm


@pytest.fixture(scope="module")
def ci_set() -> list[Recording]:
    return recordings(ci=True)


def test_tracker_modules_state_their_tempo(ci_set):
    stated = {r.name: r.file_bpm for r in ci_set}
    assert stated == pytest.approx({"area1-game.mod": 125.0, "area2-game.mod": 150.0,
                                    "in-game-music-1_reg.mod": 93.75,
                                    "mon-lapin_reg-zbb.mod": 750 / 7})  # fmt: skip
    assert module_bpm(ci_set[0].path) is None  # a rendered MP3 states nothing


def test_tempo_of_real_recordings_is_exact_and_in_range(numba_warm, ci_set):
    results = analyze_files([r.path for r in ci_set], max_workers=2)

    for rec, result in zip(ci_set, results, strict=True):
        features = result.features
        assert features is not None, result.error
        expected = _in_range(rec.file_bpm)
        assert features.tempo == pytest.approx(expected, abs=0.1), rec.name
        assert 70.0 <= features.tempo <= 180.0
        assert features.first_beat_s is not None and features.first_beat_s < 60 / 70 * 8


def _fetch_ci_set(root: str) -> list[str]:
    return [r.source for r in recordings(ci=True, root=Path(root))]


def test_an_empty_cache_is_filled_once_by_two_workers_at_once(tmp_path):
    """A fresh machine: both test workers reach for the same package and clips at once.
    (A process pool that shuts down by waiting: `multiprocessing.Pool`'s exit terminates
    its workers, and once left a worker blocked on the task queue's lock, the test hung.)"""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        first, second = pool.map(_fetch_ci_set, [str(tmp_path)] * 2)

    assert first == second and len(first) == 4
    rendered = sorted(p.name for p in (tmp_path / "audio" / "ci").iterdir())
    assert rendered == sorted(f"tecnoballz-data--{Path(n).stem}.mp3" for n in CI_FILES)


def test_a_midi_key_signature_counts_only_where_the_notes_agree(tmp_path):
    """The MIDI part of the set takes a file's key signature as truth only where its
    notes, weighted by length, rank that key first; its tempo where one holds."""
    from soundcloud_sync_tests.corpus import midi_truth
    from soundcloud_sync_tests.midi import read_midi, write_midi
    from soundcloud_sync_tests.styles import STYLES, compose

    piece = compose(STYLES[0], 124.0, "F# minor", drums=True, seed=1, bars=16)
    right = write_midi(tmp_path / "right.mid", piece.notes, 124.0, piece.programs, (3, True))
    default = write_midi(tmp_path / "default.mid", piece.notes, 124.0, piece.programs, (0, False))

    assert midi_truth(right) == (pytest.approx(124.0, abs=0.01), "F# minor")
    assert midi_truth(default) == (pytest.approx(124.0, abs=0.01), None)  # C major: no
    back = read_midi(right)
    assert len(back.notes) == len(piece.notes) and back.keys == [(0.0, 3, True)]


@pytest.mark.parametrize(
    ("meter", "heard"),
    [((4, 4), 120.0), ((3, 4), 120.0), ((6, 4), 120.0), ((2, 2), 60.0), ((6, 8), 80.0),
     ((9, 8), 80.0), ((12, 8), 80.0), ((5, 8), None), ((7, 8), None)],
)  # fmt: skip
def test_a_midi_tempo_counts_the_meters_heard_beat(tmp_path, meter, heard):
    """A MIDI tempo counts quarter notes; the truth is the beat the meter is heard in: the
    dotted quarter in compound time (6/8: 120 quarters a minute are 80 beats), the half
    note in cut time; meters with an uneven beat state none."""
    from soundcloud_sync_tests.corpus import midi_truth
    from soundcloud_sync_tests.midi import read_midi, write_midi
    from soundcloud_sync_tests.styles import STYLES, compose

    piece = compose(STYLES[0], 120.0, "A minor", drums=True, seed=1, bars=8)
    path = write_midi(tmp_path / "m.mid", piece.notes, 120.0, piece.programs, meter=meter)

    assert read_midi(path).meters == [(0.0, *meter)]
    bpm, _key = midi_truth(path)
    assert bpm == (None if heard is None else pytest.approx(heard, abs=0.01))


def test_a_midi_file_without_a_time_signature_is_heard_in_the_beat_its_notes_repeat(tmp_path):
    """No time signature: 4/4 is the standard's default, not the author's word. Kick,
    snare and ride repeating every three eighth notes (as two OpenTTD tunes play them
    across their bars) make a dotted-quarter beat: 120 quarters a minute are 80 beats.
    The same notes under a stated 4/4 keep the quarter; a groove on the quarter without
    a time signature keeps it too."""
    from soundcloud_sync_tests.corpus import midi_truth
    from soundcloud_sync_tests.midi import DRUM_CHANNEL, Note, write_midi
    from soundcloud_sync_tests.styles import STYLES, compose

    cycle = [(0.0, 36), (0.75, 36), (1.5, 38), (2.25, 36)]  # quarter notes, GM drum keys
    cycle += [(t, 51) for t in (0.0, 0.75, 1.25, 1.5, 2.25, 2.75)]  # the ride
    drums = [Note(3 * bar + t, 0.25, pitch, 100, DRUM_CHANNEL)
             for bar in range(40) for t, pitch in cycle]  # fmt: skip
    bass = [Note(1.5 * k, 1.0, 40 + 7 * (k % 2), 90, 0) for k in range(80)]
    unstated = write_midi(tmp_path / "u.mid", drums + bass, 120.0, {0: 33}, meter=None)
    stated = write_midi(tmp_path / "s.mid", drums + bass, 120.0, {0: 33}, meter=(4, 4))
    piece = compose(STYLES[0], 120.0, "A minor", drums=True, seed=1, bars=8)
    straight = write_midi(tmp_path / "q.mid", piece.notes, 120.0, piece.programs, meter=None)

    assert midi_truth(unstated)[0] == pytest.approx(80.0, abs=0.01)
    assert midi_truth(stated)[0] == pytest.approx(120.0, abs=0.01)
    assert midi_truth(straight)[0] == pytest.approx(120.0, abs=0.01)


def test_tracker_highlights_of_a_compound_bar_count_three_rows_groups(tmp_path):
    """An Impulse Tracker song highlighting 2 rows a beat and 12 a bar is in 6/8: its
    heard beat is 6 rows. Speed 4, tempo 115: 2 rows a beat would be 345 BPM; 115."""
    from soundcloud_sync_tests.corpus import _it_rows, module_bpm

    song = bytearray(0xC0 + 1)
    song[:4] = b"IMPM"
    song[0x1E], song[0x1F] = 2, 12  # row highlight: minor (a beat), major (a bar)
    song[0x32], song[0x33] = 4, 115  # initial speed, tempo
    song[0xC0] = 255  # the order list: its end, no patterns
    path = tmp_path / "song.it"
    path.write_bytes(bytes(song))

    assert _it_rows(bytes(song)) == []
    assert module_bpm(path) == pytest.approx(115.0)
    song[0x1F] = 16  # 2 rows a beat, 8 beats a bar: simple time
    path.write_bytes(bytes(song))
    assert module_bpm(path) == pytest.approx(345.0)


def _xm_song(orders: list[int], patterns: list[int]) -> bytes:
    """A FastTracker 2 module of two channels, no instruments, speed 3 and tempo 132 in
    its header: each pattern 64 empty rows but the first, which sets the speed given."""
    header = b"Extended Module: " + b"x" * 20 + b"\x1a" + b"t" * 20 + (0x104).to_bytes(2, "little")
    song = bytearray(header)
    song += (276).to_bytes(4, "little")
    for value in (len(orders), 0, 2, len(patterns), 0, 1, 3, 132):
        song += value.to_bytes(2, "little")
    song += bytes(orders) + bytes(256 - len(orders))
    for speed in patterns:
        # Row 0: channel 1 an effect and its value only (packed), channel 2 all five.
        rows = bytes([0x80 | 8 | 16, 0x0F, speed]) + bytes([0, 0, 0, 0, 0])
        rows += bytes([0x80, 0x80]) * 63
        song += (9).to_bytes(4, "little") + b"\x00" + (64).to_bytes(2, "little")
        song += len(rows).to_bytes(2, "little") + rows
    return bytes(song)


def test_an_xm_module_states_its_tempo_only_where_it_holds(tmp_path):
    """FastTracker 2 modules are read row by row like the others: effect F under 32 sets
    the speed; speed 3, tempo 132, four rows a beat is 264 BPM, where it holds through
    the excerpt, and no tempo where half the song plays at speed 6."""
    from soundcloud_sync_tests.corpus import _xm_rows, module_bpm

    steady = tmp_path / "steady.xm"
    steady.write_bytes(_xm_song([0] * 30, [3]))
    rows = _xm_rows(steady.read_bytes())
    assert len(rows) == 30 * 64 and rows[0] == [(0x0F, 3), (0, 0)] and rows[1] == []
    assert module_bpm(steady) == pytest.approx(264.0)

    changing = tmp_path / "changing.xm"
    changing.write_bytes(_xm_song([0, 1] * 15, [3, 6]))
    assert module_bpm(changing) is None


def test_a_module_whose_first_row_sets_its_pace_is_counted_at_that_pace(tmp_path):
    """The header says speed 3 (264 BPM at tempo 132), but the song's first row sets
    speed 6 and it plays at 6 throughout: 132 BPM. Up to v9's bench the header counted
    (`the_big_march_in_space.it`: header tempo 75, 150 BPM; from row 0 tempo 80, 160)."""
    from soundcloud_sync_tests.corpus import module_bpm

    song = tmp_path / "first-row.xm"
    song.write_bytes(_xm_song([0] * 30, [6]))

    assert module_bpm(song) == pytest.approx(132.0)


def test_a_midi_file_played_in_without_a_click_states_no_tempo(tmp_path):
    """A tempo event is the truth only where the notes keep to its grid. The same tune
    at 100 quarters a minute, quantized (straight sixteenths, or triplet eighths), states
    100; played in freely (its pulse a little faster than the file's, the notes drifting
    across the stated grid, as six Dink Smallwood tunes do) it states none."""
    import numpy as np

    from soundcloud_sync_tests.corpus import midi_truth
    from soundcloud_sync_tests.midi import Note, write_midi

    rng = np.random.default_rng(5)
    melody = [60, 64, 67, 72, 67, 64]
    straight = [Note(k / 4, 0.25, melody[k % 6], 90, 0) for k in range(480)]
    triplets = [Note(k / 3, 0.33, melody[k % 6], 90, 0) for k in range(360)]
    free = [Note(0.05 + k / 4 * 0.93 + rng.normal(0.0, 0.01), 0.25, melody[k % 6], 90, 0)
            for k in range(480)]  # fmt: skip
    for name, notes, stated in (("s", straight, 100.0), ("t", triplets, 100.0), ("f", free, None)):
        path = write_midi(tmp_path / f"{name}.mid", notes, 100.0, {0: 0}, meter=(4, 4))
        bpm, _key = midi_truth(path)
        assert bpm == (None if stated is None else pytest.approx(stated, abs=0.01)), name
