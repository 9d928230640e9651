"""Key: a chromagram without the notes' upper partials, matched against key profiles."""

from __future__ import annotations

import numpy as np

from soundcloud_sync.audio.analysis.common import HOP

# EDMA profiles (major, minor), tonic first.
EDMA_MAJOR = np.array(
    [0.16519551, 0.04749026, 0.08293076, 0.06687112, 0.09994645, 0.09274123,
     0.05294487, 0.13159476, 0.05218986, 0.07443653, 0.06940723, 0.0642515]
)  # fmt: skip
EDMA_MINOR = np.array(
    [0.17235348, 0.05336489, 0.0761009, 0.10043649, 0.05621498, 0.08527853,
     0.0497915, 0.13451001, 0.07458916, 0.05003023, 0.09187879, 0.05545106]
)  # fmt: skip


KEY_MARGIN_FOR_CERTAINTY = 0.15
# A key's own triad must sound: its three notes' mean standing (in standard deviations
# of the profile) counts this much beside the profile's correlation. In a loop leaning on
# its dominant (i-v-i-v, a bass on the fifth), the fifth outweighs the tonic, being in
# both chords, and the correlation alone named the key a fifth up, whose third is absent.
TRIAD_WEIGHT = 0.2
# Pitches the key is read from: MIDI C1 (33 Hz) up to B7 (3951 Hz), one row a semitone.
LOW_PITCH, PITCHES = 24, 84
# A partial of a note is taken to be at most `decay` times as strong (in amplitude) as the
# partial below it; the first PARTIALS partials of every note are accounted for. Bright
# sounds need 0.8: less, and their partials read as the notes a fifth and a third up. On
# a dark soundfont 0.8 removed real fifths and read keys a fifth down, where 0.5 served
# best. How dark a recording sounds is its octave ratio (`octave_ratio`): from DARK (or
# less) to BRIGHT (or more) the decay bends from DARK_DECAY to BRIGHT_DECAY. On the
# bench's set the real recordings' median is 0.15 (a tenth under 0.07), the dark
# soundfont's 0.07 (a tenth under 0.03). Bent over a range twice as high (0.06-0.12, on
# a ratio that still counted the kick), the decay moved six real recordings' keys away
# from essentia's, four of them to major.
PARTIALS = 6
DARK, BRIGHT = 0.05, 0.09
DARK_DECAY, BRIGHT_DECAY = 0.5, 0.8
# octave_ratio's peaks: above PEAK_FLOOR of the frame's loudest pitch, held HELD_FRAMES
# frames (70 ms).
PEAK_FLOOR = 0.05
HELD_FRAMES = 3
OCTAVE = 12  # semitones
# Folding weighs each pitch by a bell over octaves centred on A4 (440 Hz), 2 octaves wide:
# with equal weights a loud bass line outvoted the chords that tell minor from major.
KEY_CENTRE_HZ = 440.0
KEY_OCTAVES = 2.0


def pitch_power(spec: np.ndarray, sr: int) -> np.ndarray:
    """Power per semitone (LOW_PITCH..+PITCHES) and frame, from a complex STFT.

    Each bin's power goes to the pitch of the frequency its phase says it holds (the
    phase advance from one frame to the next), not to the bin's centre: a bin is 11 Hz
    wide, two semitones at 100 Hz, so bass notes would otherwise smear into their
    neighbours while their partials land sharp.
    """
    n_fft = 2 * (spec.shape[0] - 1)
    highest_hz = 440 * 2 ** ((LOW_PITCH + PITCHES - 0.5 - 69) / 12)
    top = min(spec.shape[0], int(highest_hz * n_fft / sr) + 2)
    s = spec[:top]
    # How far each bin's phase turned since the previous frame, beyond what its centre
    # frequency turns in one hop, is how far off the centre its sound is.
    turn = s * np.conj(np.concatenate([s[:, :1], s[:, :-1]], axis=1))
    bins = np.arange(top, dtype=np.float32)[:, None]
    advance = np.angle(turn) - np.float32(2 * np.pi * HOP / n_fft) * bins
    advance -= np.float32(2 * np.pi) * np.round(advance / np.float32(2 * np.pi))
    freq = (bins + advance * np.float32(n_fft / (2 * np.pi * HOP))) * np.float32(sr / n_fft)
    pitch = np.rint(12 * np.log2(np.maximum(freq, 1.0) / 440.0) + (69 - LOW_PITCH))
    pitch = pitch.astype(np.int64)
    inside = (pitch >= 0) & (pitch < PITCHES)
    frames = s.shape[1]
    row = np.where(inside, pitch, 0) + PITCHES * np.arange(frames)[None, :]
    power = (s.real**2 + s.imag**2) * inside
    return np.bincount(row.ravel(), power.ravel(), PITCHES * frames).reshape(frames, PITCHES).T


def octave_ratio(pitches: np.ndarray) -> float | None:
    """How bright the notes sound: the median, over the held peaks of the sounding frames,
    of the power an octave above a peak relative to the peak's (None when nothing holds a
    peak). Octaves played as notes count too: it ranks sounds, it does not measure one
    note's partials.

    A peak is a pitch louder than both neighbours and than PEAK_FLOOR of its frame's
    loudest, held for HELD_FRAMES frames in a row: a kick's pitch falls faster, and its
    peaks, with nothing an octave above them, made drum-heavy mixes of bright voices
    read as dark.
    """
    frames = pitches[:, sounding_frames(pitches.sum(axis=0))]
    usable = frames.shape[1] - HELD_FRAMES + 1  # frames that start a held run
    if len(frames) < OCTAVE + 2 or usable < 1:
        return None
    middle = frames[1:-1]
    peak = (middle > frames[:-2]) & (middle > frames[2:])
    peak &= middle > PEAK_FLOOR * frames.max(axis=0)
    held = peak[:, :usable].copy()
    for later in range(1, HELD_FRAMES):
        held &= peak[:, later : later + usable]
    held[len(middle) - OCTAVE + 1 :] = False  # the octave above must be inside the range
    rows, at = np.nonzero(held)
    if not len(rows):
        return None
    pitch = rows + 1  # middle's row 0 is the second pitch
    return float(np.median(frames[pitch + OCTAVE, at] / frames[pitch, at]))


def partial_decay(pitches: np.ndarray) -> float:
    """How much weaker (in amplitude) each partial is taken to be than the one below, for
    this recording's brightness; with no held peak to judge by, the bright sound's (the
    one value every version before 13 took)."""
    ratio = octave_ratio(pitches)
    if ratio is None:
        return BRIGHT_DECAY
    return float(np.interp(ratio, (DARK, BRIGHT), (DARK_DECAY, BRIGHT_DECAY)))


def without_partials(pitches: np.ndarray) -> np.ndarray:
    """The pitch power with each note's upper partials taken out, lowest note first.

    The third partial of a note sounds an octave and a fifth above it, so a chroma of
    the whole spectrum counts every note's fifth too and reads keys a fifth too high.
    Whatever a lower pitch can explain as its partial (up to ``partial_decay`` per step)
    is removed before the pitches are folded into pitch classes.
    """
    out = pitches.copy()
    decay = partial_decay(pitches)
    partials = [(round(12 * np.log2(h)), decay ** (2 * (h - 1))) for h in range(2, PARTIALS + 1)]
    for p in range(len(out)):
        for offset, share in partials:
            if p + offset < len(out):
                out[p + offset] -= np.minimum(out[p + offset], share * out[p])
    return out


def pitch_classes(pitches: np.ndarray) -> np.ndarray:
    """Fold semitone rows (from LOW_PITCH) into 12 pitch classes, C first, the middle
    register weighing most (see KEY_CENTRE_HZ)."""
    octaves = (np.arange(len(pitches)) + LOW_PITCH - 69) / 12 - np.log2(KEY_CENTRE_HZ / 440.0)
    weight = np.exp(-0.5 * (octaves / KEY_OCTAVES) ** 2)
    classes = np.zeros((12, pitches.shape[1]), dtype=pitches.dtype)
    for p in range(len(pitches)):
        classes[(p + LOW_PITCH) % 12] += weight[p] * pitches[p]
    return classes


def _key_scores(profile: np.ndarray) -> list[tuple[float, int, str]]:
    """Each of the 24 keys' score for a 12-bin profile, best first: the correlation with
    the key's EDMA profile plus TRIAD_WEIGHT times how far its tonic triad stands out."""
    z = (profile - profile.mean()) / max(float(profile.std()), 1e-12)
    scores = []
    for mode, template in (("major", EDMA_MAJOR), ("minor", EDMA_MINOR)):
        third = 4 if mode == "major" else 3
        for tonic in range(12):
            r = float(np.corrcoef(profile, np.roll(template, tonic))[0, 1])
            triad = (z[tonic] + z[(tonic + third) % 12] + z[(tonic + 7) % 12]) / 3
            scores.append((r + TRIAD_WEIGHT * float(triad), tonic, mode))
    return sorted(scores, reverse=True)


def estimate_key(shares: np.ndarray) -> tuple[int, str, float] | None:
    """(tonic pitch class, "major"|"minor", confidence) from per-frame chroma ``(12, n)``.

    The key is the one whose profile best matches the frames' mean. The confidence asks
    two things: how far it leads the runner-up (scaled so a lead of
    KEY_MARGIN_FOR_CERTAINTY or more is 1), and whether each half of the track, read on
    its own, names the same key (each half that does not takes a quarter off): a
    near-tie, or a key only the whole track and not its parts agrees on, is a guess.
    """
    profile = shares.mean(axis=1) if shares.size else np.zeros(12)
    if not np.any(profile > 0):
        return None
    scores = _key_scores(profile)
    (r, tonic, mode), runner_up = scores[0], scores[1][0]
    lead = min(1.0, max(0.0, (r - runner_up) / KEY_MARGIN_FOR_CERTAINTY))
    half = shares.shape[1] // 2
    parts = [shares[:, :half], shares[:, half:]] if half else []
    agree = [_key_scores(x.mean(axis=1))[0][1:] == (tonic, mode) for x in parts]
    stability = 1.0 - 0.25 * sum(not a for a in agree)
    return tonic, mode, round(lead * stability, 3)


def frame_shares(chroma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each frame's chroma as shares of that frame, which frames sound at all).

    Each sounding frame votes equally (loud drops do not drown the rest); near-silent
    frames (intros, fades, gaps) do not vote at all.
    """
    energy = chroma.sum(axis=0)
    return chroma / np.maximum(energy, 1e-12), sounding_frames(energy)


def sounding_frames(energy: np.ndarray) -> np.ndarray:
    """Which frames sound at all: above a thousandth of the loud frames' energy (the 95th
    percentile, so a single burst does not set the bar)."""
    return energy > 1e-3 * (np.percentile(energy, 95) if energy.size else 0)
