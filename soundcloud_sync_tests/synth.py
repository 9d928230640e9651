"""Synthesized dance music with a known tempo and key (numpy only).

The audio room's tests and the SoundCloud emulator's streams need real audio whose
right answers are known: a four-on-the-floor kick on every beat, hats on the
off-beats, a bass line and a chord pad in the key. The harmony is tonic-heavy
(bars: i i iv v for minor, I I IV V for major; the bass plays the chord root)
so a key detector has one right answer, not its relative major/minor.

``render_track`` returns **mono float32** samples in [-1, 1], shape ``(n,)``.
``encode_audio`` / ``encode_bytes`` accept mono ``(n,)`` or multi-channel
``(n, channels)`` arrays.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from soundcloud_sync.audio.ffmpeg import ffmpeg_exe
from soundcloud_sync.key_notation import NOTE_NAMES  # one spelling of the twelve notes

if TYPE_CHECKING:
    from soundcloud_sync_tests.styles import Piece

_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E"}

# ffmpeg encoder, container format and default bitrate per codec name.
CODECS: dict[str, tuple[str, str, str | None]] = {
    "mp3": ("libmp3lame", "mp3", "192k"),
    "m4a": ("aac", "ipod", "256k"),
    "aac": ("aac", "adts", "256k"),
    "alac": ("alac", "ipod", None),
    "wav": ("pcm_s16le", "wav", None),
    "aiff": ("pcm_s16be", "aiff", None),
    "flac": ("flac", "flac", None),
    "opus": ("libopus", "ogg", "96k"),
    "ogg": ("libvorbis", "ogg", "192k"),
}


def parse_key(key: str) -> tuple[int, str]:
    """``"A minor"`` / ``"F# major"`` / ``"Bbm"`` -> (pitch class 0-11, "major"|"minor")."""
    text = key.strip()
    parts = text.split()
    if len(parts) == 2:
        tonic, mode = parts[0], parts[1].lower()
    elif text.endswith("m") and len(text) <= 3:
        tonic, mode = text[:-1], "minor"
    else:
        tonic, mode = text, "major"
    tonic = tonic[0].upper() + tonic[1:]
    tonic = _FLATS.get(tonic, tonic)
    if tonic not in NOTE_NAMES or mode not in ("major", "minor"):
        raise ValueError(f"unrecognised key {key!r} (expected e.g. 'A minor', 'F# major')")
    return NOTE_NAMES.index(tonic), mode


def _midi_hz(midi: float) -> float:
    return float(440.0 * 2.0 ** ((midi - 69) / 12.0))


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.35 * sr)) / sr
    freq = 45 + 110 * np.exp(-t * 30)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    return (np.sin(phase) * np.exp(-t * 9)).astype(np.float32)


def _hat(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.05 * sr)
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0)  # crude high-pass
    return (0.25 * noise * np.exp(-np.arange(n) / sr * 80)).astype(np.float32)


def _tone(
    freq: float,
    n: int,
    sr: int,
    harmonics: int,
    attack: float,
    release: float,
    rolloff: float | None = None,
) -> np.ndarray:
    """A note of ``harmonics`` partials, the h-th 1/h as loud (a sawtooth's), or
    ``rolloff`` ** (h - 1) as loud (a darker sound)."""
    t = np.arange(n) / sr
    wave = np.zeros(n)
    for h in range(1, harmonics + 1):
        level = 1 / h if rolloff is None else rolloff ** (h - 1)
        wave += level * np.sin(2 * np.pi * freq * h * t)
    env = np.minimum(1.0, t / attack) * np.minimum(1.0, (n / sr - t) / release)
    return wave * np.clip(env, 0.0, 1.0)


def _add(buf: np.ndarray, sound: np.ndarray, start: int) -> None:
    if start >= len(buf):
        return
    end = min(len(buf), start + len(sound))
    buf[start:end] += sound[: end - start]


def render_track(
    bpm: float, key: str, seconds: float, sr: int = 44100, seed: int = 0
) -> np.ndarray:
    """Render a mono float32 dance loop at exactly ``bpm`` in ``key``, ``seconds`` long.

    Beats fall on exact (fractional) sample positions, so the true tempo is ``bpm``
    to machine precision. Peak is normalised to -1 dBFS.
    """
    tonic, mode = parse_key(key)
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    out = np.zeros(n, dtype=np.float64)
    beat = 60.0 / bpm
    n_beats = int(np.ceil(seconds / beat)) + 1

    kick, hat = _kick(sr), _hat(sr, rng)
    for b in range(n_beats):
        _add(out, kick, round(b * beat * sr))
        _add(out, hat * rng.uniform(0.8, 1.0), round((b + 0.5) * beat * sr))

    scale = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10)
    degrees = (0, 0, 3, 4)  # i i iv v  /  I I IV V
    bar = 4 * beat
    for bar_i in range(int(np.ceil(seconds / bar))):
        degree = degrees[bar_i % len(degrees)]
        root = tonic + scale[degree]
        third = tonic + scale[(degree + 2) % 7] + (12 if degree + 2 >= 7 else 0)
        fifth = tonic + scale[(degree + 4) % 7] + (12 if degree + 4 >= 7 else 0)
        bar_start = bar_i * bar
        # Pad: the triad, sustained over the bar, an octave around middle C.
        pad_len = int(bar * sr)
        pad = sum(
            _tone(_midi_hz(60 + p), pad_len, sr, harmonics=3, attack=0.05, release=0.05)
            for p in (root, third, fifth)
        )
        _add(out, 0.12 * pad, round(bar_start * sr))
        # Bass: chord root on every off-beat eighth, tonic-heavy.
        for b in range(4):
            start = bar_start + (b + 0.5) * beat
            note = _tone(_midi_hz(36 + root), int(0.4 * beat * sr), sr, 4, 0.005, 0.03)
            _add(out, 0.35 * note, round(start * sr))
        # Lead: tonic-triad arpeggio in sixteenths on the first bar of each phrase.
        if bar_i % 4 == 0:
            arp = (tonic, tonic + scale[2], tonic + 7, tonic + 12)
            for s in range(16):
                start = bar_start + s * beat / 4
                note = _tone(_midi_hz(72 + arp[s % 4]), int(0.2 * beat * sr), sr, 2, 0.003, 0.05)
                _add(out, 0.08 * note, round(start * sr))

    peak = float(np.max(np.abs(out))) or 1.0
    return (out * (10 ** (-1 / 20) / peak)).astype(np.float32)


def render_bright_bass(key: str, seconds: float, sr: int = 44100) -> np.ndarray:
    """Mono float32: a sustained sawtooth bass (12 partials, each 1/h as loud) on the
    chord roots of i-i-iv-v (I-I-IV-V), two seconds a chord, under quiet triads.

    The bass's partials are loud next to the chords: its 3rd partial is a fifth up, its
    5th a major third up, which is what pulls a plain chromagram off the key.
    """
    tonic, mode = parse_key(key)
    scale = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10)
    out = np.zeros(round(seconds * sr))
    chord = round(2.0 * sr)
    for i in range(len(out) // chord):
        degree = (0, 0, 3, 4)[i % 4]
        _add(out, 0.5 * _tone(_midi_hz(48 + tonic + scale[degree]), chord, sr, 12, 0.01, 0.05),
             i * chord)  # fmt: skip
        for step in (0, 2, 4):
            note = tonic + scale[(degree + step) % 7] + (12 if degree + step >= 7 else 0)
            _add(out, 0.1 * _tone(_midi_hz(60 + note), chord, sr, 2, 0.05, 0.05), i * chord)
    return (out * (10 ** (-1 / 20) / (float(np.max(np.abs(out))) or 1.0))).astype(np.float32)


def _ffmpeg_encode_args(codec: str, bitrate: str | None) -> list[str]:
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {sorted(CODECS)}")
    encoder, fmt, default_rate = CODECS[codec]
    args = ["-c:a", encoder]
    rate = bitrate or default_rate
    if rate and encoder not in ("alac", "flac") and not encoder.startswith("pcm_"):
        args += ["-b:a", rate]
    return [*args, "-f", fmt]


def _run_encode(samples: np.ndarray, sr: int, codec: str, bitrate: str | None, out: str) -> bytes:
    data = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype="<f4")
    channels = 1 if data.ndim == 1 else data.shape[1]
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "f32le", "-ar", str(sr), "-ac", str(channels), "-i", "pipe:0",
        *_ffmpeg_encode_args(codec, bitrate), out,
    ]  # fmt: skip
    proc = subprocess.run(cmd, input=data.tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"ffmpeg failed encoding {codec} to {out}: {proc.stderr.decode()[-500:]}"
        )
    return proc.stdout


def encode_audio(
    samples: np.ndarray,
    sr: int,
    path: str | Path,
    codec: str = "mp3",
    bitrate: str | None = None,
) -> Path:
    """Encode float samples to ``path`` with ffmpeg (mp3, m4a, alac, wav, aiff, flac, ...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run_encode(samples, sr, codec, bitrate, str(path))
    return path


def encode_bytes(
    samples: np.ndarray, sr: int, codec: str = "mp3", bitrate: str | None = None
) -> bytes:
    """Encode float samples and return the file's bytes (streamable containers only)."""
    if codec in ("m4a", "alac"):
        raise ValueError("MP4 is not streamable to a pipe; use encode_audio() with a path")
    return _run_encode(samples, sr, codec, bitrate, "pipe:1")


def encode_mp3_bytes(samples: np.ndarray, sr: int = 44100, bitrate: str = "128k") -> bytes:
    """MP3 bytes for ``samples`` (what SoundCloud's progressive streams serve)."""
    return encode_bytes(samples, sr, "mp3", bitrate)


# --------------------------------------------------------------------------- scores


def _noise_hit(sr: int, rng: np.random.Generator, seconds: float, decay: float,
               highpass: bool) -> np.ndarray:  # fmt: skip
    noise = rng.standard_normal(int(seconds * sr))
    if highpass:
        noise = np.diff(noise, prepend=0.0)
    return noise * np.exp(-np.arange(len(noise)) / sr * decay)


# The clicky kick's click: white noise for 30 ms, decaying by e every 12.5 ms, its
# standard deviation 0.8 of the kick's peak (its own peak about twice the kick's). Louder
# (1.0 and up), the click is the strongest hit in the snare's bands once a bar and the
# two-step reads as a slow backbeat (see test_audio_analysis).
KICK_CLICK = 0.8
# A dark sound's partials: each DARK_ROLLOFF as loud as the one below (a sawtooth's fall
# as 1/h), the second 0.04 as strong in power as the first. Two style scores played so
# have an octave ratio (analysis.key.octave_ratio) of 0.04, drums or not, darker than
# most of MuseScore General Lite's renders (median 0.07; FluidR3's 0.15).
DARK_ROLLOFF = 0.2


def _drum_sounds(
    sr: int, rng: np.random.Generator, ringing_hats: bool = False, clicky_kick: bool = False
) -> dict[int, np.ndarray]:
    """General MIDI drum numbers -> a numpy sound for each (see styles.py); with
    ``ringing_hats`` the closed and pedal hi-hats ring for 0.3 s, as a loose hat does,
    into the snare's bands; with ``clicky_kick`` the kick's beater clicks across them, as
    some soundfonts' kicks do (TimGM6mb's)."""
    t = np.arange(int(0.2 * sr)) / sr
    body = np.sin(2 * np.pi * 185 * t) * np.exp(-t * 30)
    snare = 0.5 * body + 0.35 * _noise_hit(sr, rng, 0.2, 25, False)
    clap = np.zeros(int(0.15 * sr))
    for k in range(3):  # three hands, 10 ms apart
        _add(clap, 0.3 * _noise_hit(sr, rng, 0.1, 60, True), int(k * 0.01 * sr))
    hat = _hat(sr, rng).astype(np.float64)
    sounds = {
        36: _kick(sr).astype(np.float64), 37: 0.4 * _noise_hit(sr, rng, 0.03, 200, True),
        38: snare, 40: snare, 39: clap, 42: hat, 44: 0.6 * hat,
        46: 0.25 * _noise_hit(sr, rng, 0.3, 12, True), 51: 0.12 * _noise_hit(sr, rng, 0.4, 8, True),
        70: 0.12 * _noise_hit(sr, rng, 0.04, 90, True),
    }  # fmt: skip
    if ringing_hats:
        sounds[42] = 0.5 * _noise_hit(sr, rng, 0.3, 40, True)
        sounds[44] = 0.6 * sounds[42]
    if clicky_kick:
        _add(sounds[36], KICK_CLICK * _noise_hit(sr, rng, 0.03, 80, False), 0)
    return sounds


def render_piece(
    piece: Piece,
    sr: int = 44100,
    seconds: float | None = None,
    ringing_hats: bool = False,
    clicky_kick: bool = False,
    dark: bool = False,
) -> np.ndarray:
    """Mono float32: a styles.Piece played by numpy instruments (drums as above, bass,
    chords and lead as additive tones), peak at -1 dBFS. The CI's stand-in for the
    FluidSynth renders of the bench, and the bench's second sound of the style scores
    (bench/synth_styles.py). ``ringing_hats`` and ``clicky_kick``: see _drum_sounds;
    ``dark``: the pitched voices' partials fall by DARK_ROLLOFF."""
    from soundcloud_sync_tests.midi import DRUM_CHANNEL

    rng = np.random.default_rng(7)
    beat = 60.0 / piece.bpm
    total = seconds if seconds is not None else piece.seconds
    out = np.zeros(round(total * sr))
    drums = _drum_sounds(sr, rng, ringing_hats, clicky_kick)
    voices = {0: (6, 0.005, 0.03, 0.5), 1: (3, 0.02, 0.05, 0.12), 2: (3, 0.005, 0.05, 0.15)}
    rolloff = DARK_ROLLOFF if dark else None
    for note in piece.notes:
        start = round(note.start * beat * sr)
        if start >= len(out):
            continue
        gain = note.velocity / 127
        if note.channel == DRUM_CHANNEL:
            if note.pitch in drums:
                _add(out, gain * drums[note.pitch], start)
            continue
        harmonics, attack, release, level = voices.get(note.channel, voices[1])
        n = max(int(note.length * beat * sr), int(0.02 * sr))
        tone = _tone(_midi_hz(note.pitch), n, sr, harmonics, attack, release, rolloff)
        _add(out, level * gain * tone, start)
    return (out * (10 ** (-1 / 20) / (float(np.max(np.abs(out))) or 1.0))).astype(np.float32)


def style_tempo(
    style: str, bpm: float, key: str, seed: int, seconds: float = 30.0, **sound: bool
) -> float | None:
    """Our tempo, no genre, of one style score (``styles.compose``, with drums) played by
    these instruments for ``seconds``; ``sound``: render_piece's ringing_hats or
    clicky_kick. The tests' and bench/synth_styles.py's one way to ask it."""
    from soundcloud_sync.audio.analysis import analyze_samples
    from soundcloud_sync_tests.styles import STYLES, compose

    [spec] = [s for s in STYLES if s.name == style]
    piece = compose(spec, bpm, key, drums=True, seed=seed, bars=int(seconds * bpm / 240) + 1)
    return analyze_samples(render_piece(piece, seconds=seconds, **sound), 44100).tempo


def piece_key(piece: Piece, seconds: float = 30.0, **sound: bool) -> str | None:
    """Our key of a styles.Piece played by these instruments for ``seconds``; ``sound``:
    render_piece's options (``dark``, say). The tests' and bench/synth_styles.py's one way
    to ask it."""
    from soundcloud_sync.audio.analysis import analyze_samples

    return analyze_samples(render_piece(piece, seconds=seconds, **sound), 44100).key
