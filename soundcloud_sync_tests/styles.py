"""Scores of short pieces in the styles DJs play, with their tempo and key as truth.

Each piece is a list of notes (midi.Note) for a drum kit, a bass, chords and a lead,
written the way each style is usually played: four on the floor for house, techno and
trance; the two-step and the half-time feel of drum & bass at 170+; the boom-bap and
R&B grooves at 70-100 with swung hats; trap at 130-160 with its snare on the third beat
and hi-hats in sixteenths with rolls; pop, synthwave, breakbeat. Some pieces have no
drums. Tempo (beats are quarter notes, counted the way the style's DJs count them) and
key are set by the score, so they are exact.

Two renderers play a score: FluidSynth with a General MIDI soundfont (the bench's
style set: sampled instruments nobody here made, see corpus.py) and synth.render_piece
(numpy only, for the CI tests). Everything is seeded: the same piece every time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from soundcloud_sync.key_notation import NOTE_NAMES  # one spelling of the twelve notes
from soundcloud_sync_tests.midi import DRUM_CHANNEL, Note

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
KICK, RIM, SNARE, CLAP, HAT, PEDAL, OPEN, RIDE, SHAKER = 36, 37, 38, 39, 42, 44, 46, 51, 70
BASS, CHORDS, LEAD = 0, 1, 2  # melodic channels

# Progressions as scale degrees (0 = tonic), one chord a bar; each starts on the tonic.
# "V" in minor is the harmonic minor's major dominant (raised seventh), marked 4.5.
PROGRESSIONS = {
    "minor": ((0, 5, 6, 0), (0, 3, 4.5, 0), (0, 0, 5, 6), (0, 3, 0, 4.5), (0, 5, 3, 4.5)),
    "major": ((0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 0, 4), (0, 0, 3, 4)),
}
# The loops that make a key hard to read, as common in dance music and pop as the
# others: i-VI-III-VII (its relative major's chords, all four), i-iv-VII-III, the
# major I-IV-I-IV vamp (a fifth below is as good a fit) and vi-IV-I-V read from I.
HARD_PROGRESSIONS = {
    "minor": ((0, 5, 2, 6), (0, 3, 6, 2)),
    "major": ((0, 3, 0, 3), (0, 5, 3, 4)),
}
ROMAN = {"minor": ("i", "ii", "III", "iv", "v", "VI", "VII"),
         "major": ("I", "ii", "iii", "IV", "V", "vi", "vii")}  # fmt: skip
DORIAN = (0, 2, 3, 5, 7, 9, 10)
PHRYGIAN = (0, 1, 3, 5, 7, 8, 10)
MIXOLYDIAN = (0, 2, 4, 5, 7, 9, 10)


@dataclass(frozen=True)
class Challenge:
    """A way music makes its key hard to read, as a change to how a piece is played.

    The truth stays the key the score is written in: the tonic the bass and the loop
    come home to, major or minor by its third (a dorian or phrygian tune is minor, a
    mixolydian one major, as DJs' key notation counts them).
    """

    name: str
    progressions: dict[str, tuple[tuple[float, ...], ...]]  # per mode, one chord a bar
    # A mode's scale instead of major/minor, one per progression of the mode.
    scales: dict[str, tuple[tuple[int, ...], ...]] | None = None
    bass: str = "root"  # "root", "fifth" (the chord's fifth on the strong beats), "riff"
    programs: tuple[int, int, int] | None = None  # bright GM timbres instead of the style's
    pentatonic: bool = False  # the lead plays the mode's pentatonic scale only
    chords: bool = True  # False: a stab on the tonic every fourth bar, nothing more
    drums_gain: float = 1.0  # velocity scale of the kit (drum-heavy mixes: louder)
    melodic_gain: float = 1.0  # velocity scale of bass, chords and lead


# The hard cases: a loud bass on the fifth (its third partial is the key a fifth up),
# loops that lean on the dominant, minor loops on their relative major's chords (and
# major loops on their relative minor's), modes and pentatonic tunes, bright timbres
# whose upper partials are as loud as the notes, and drum-heavy mixes with a bass riff
# and next to no harmony.
CHALLENGES = (
    Challenge(
        "fifth bass",
        {"minor": ((0, 3, 0, 4.5), (0, 5, 6, 0)), "major": ((0, 3, 4, 0), (0, 4, 5, 3))},
        bass="fifth",
        programs=(39, 89, 81),
    ),
    Challenge(
        "dominant",
        {
            "minor": ((0, 4.5, 0, 4.5), (0, 0, 4.5, 4.5), (0, 3, 4.5, 4.5)),
            "major": ((0, 4, 0, 4), (0, 0, 4, 4), (0, 4, 5, 4)),
        },
    ),
    Challenge(
        "relative",
        {
            "minor": ((0, 5, 2, 6), (0, 6, 5, 6), (0, 2, 6, 3)),
            "major": ((0, 5, 0, 5), (0, 5, 3, 4), (0, 5, 1, 4)),
        },
    ),
    Challenge(
        "modal",
        {"minor": ((0, 3, 0, 3), (0, 1, 0, 1)), "major": ((0, 6, 3, 0), (0, 6, 0, 6))},
        scales={"minor": (DORIAN, PHRYGIAN), "major": (MIXOLYDIAN, MIXOLYDIAN)},
    ),
    Challenge(
        "pentatonic",
        {"minor": ((0, 0, 5, 6), (0, 6, 0, 3)), "major": ((0, 0, 3, 0), (0, 5, 3, 0))},
        pentatonic=True,
    ),
    Challenge(
        "bright",
        {"minor": ((0, 5, 6, 0), (0, 3, 4.5, 0)), "major": ((0, 4, 5, 3), (0, 3, 4, 0))},
        programs=(39, 62, 81),
        melodic_gain=1.15,
    ),
    Challenge(
        "drum-heavy",
        {"minor": ((0, 0, 0, 0),), "major": ((0, 0, 0, 0),)},
        bass="riff",
        chords=False,
        drums_gain=1.2,
        melodic_gain=0.8,
    ),
)
PENTATONIC = {"minor": (0, 3, 5, 7, 10), "major": (0, 2, 4, 7, 9)}
# Bright timbres (GM, 0-based) for bass, chords, lead: synth bass 2, slap bass; synth
# brass, brass, overdriven guitar, clavinet; saw, square and charang leads.
BRIGHT_PROGRAMS = ((39, 62, 81), (36, 29, 80), (38, 7, 84), (39, 61, 81))


@dataclass(frozen=True)
class Style:
    name: str
    genre: str  # what a SoundCloud upload of the style usually carries
    tempi: tuple[float, float]  # usual range, beats per minute
    swing: float = 0.0  # how late the off-beat sixteenths fall, in sixteenths
    programs: tuple[int, int, int] = (38, 89, 81)  # GM bass, chords, lead (0-based)


STYLES = (
    Style("house", "House", (118, 128), 0.0, (38, 4, 80)),
    Style("techno", "Techno", (126, 142), 0.0, (38, 90, 81)),
    Style("trance", "Trance", (132, 140), 0.0, (38, 90, 81)),
    Style("dnb two-step", "Drum & Bass", (168, 178), 0.0, (38, 89, 81)),
    Style("dnb half-time", "Drum & Bass", (168, 176), 0.0, (38, 89, 88)),
    Style("boom-bap", "Hip-hop & Rap", (82, 96), 0.3, (33, 4, 11)),
    Style("trap", "Trap", (130, 160), 0.0, (38, 89, 10)),
    Style("pop", "Pop", (96, 126), 0.0, (33, 0, 80)),
    Style("r&b", "R&B & Soul", (70, 98), 0.25, (33, 4, 88)),
    Style("synthwave", "Synthwave", (84, 118), 0.0, (38, 89, 81)),
    Style("breakbeat", "Breakbeat", (124, 140), 0.1, (38, 4, 81)),
)


@dataclass(frozen=True)
class Piece:
    name: str
    style: str
    genre: str
    bpm: float
    key: str  # "A minor"
    drums: bool
    swing: float
    programs: dict[int, int]
    notes: list[Note]
    challenge: str | None = None  # what makes its key hard (key_set), None for the others

    @property
    def seconds(self) -> float:
        return max(n.start + n.length for n in self.notes) * 60.0 / self.bpm


def _drums(style: str, bar: int, rng: np.random.Generator) -> list[tuple[float, int, int]]:
    """(sixteenth within the bar, drum, velocity) for one bar of the style's groove."""
    hits: list[tuple[float, int, int]] = []

    def add(steps, drum, vel):
        hits.extend((float(s), drum, vel) for s in steps)

    fill = bar % 8 == 7
    if style in ("house", "techno", "trance"):
        add((0, 4, 8, 12), KICK, 118)
        add((4, 12), CLAP, 96)
        add((2, 6, 10, 14), OPEN if style != "techno" else HAT, 84)
        if style == "techno":
            add(range(16), RIDE if bar % 2 else HAT, 46)
        elif style == "house":
            add((1, 3, 5, 7, 9, 11, 13, 15), HAT, 50)
    elif style == "dnb two-step":
        add((0, 10), KICK, 120)
        add((4, 12), SNARE, 112)
        add(range(0, 16, 2), HAT, 72)
        add((7, 15), SNARE, 38)  # ghost notes
        if bar % 2:
            add((1, 3, 9, 11), HAT, 44)
    elif style == "dnb half-time":
        add((0, 11) if bar % 2 else (0, 14), KICK, 120)
        add((8,), SNARE, 118)
        add(range(16), SHAKER if bar % 2 else HAT, 60)  # the busy top of a half-time groove
        add(range(0, 16, 4), RIDE, 70)
    elif style == "boom-bap":
        add((0, 7, 10) if bar % 2 else (0, 3, 10), KICK, 118)
        add((4, 12), SNARE, 112)
        add(range(0, 16, 2), HAT, 76)
    elif style == "trap":
        kicks = ((0, 6, 11), (0, 3, 10, 14), (0, 7, 11), (0, 2, 9, 13))[bar % 4]
        add(kicks, KICK, 122)
        add((8,), CLAP, 118)
        add(range(0, 14 if fill or bar % 4 == 3 else 16), HAT, 70)
        if fill or bar % 4 == 3:  # a hi-hat roll: triplet thirty-seconds
            hits.extend((14 + i / 3, HAT, 56 + 6 * i) for i in range(6))
    elif style == "pop":
        add((0, 8, 10) if bar % 2 else (0, 8), KICK, 116)
        add((4, 12), SNARE, 106)
        add(range(0, 16, 2), HAT, 70)
        if bar % 4 == 3:
            add((14,), OPEN, 80)
    elif style == "r&b":
        add((0, 6, 10) if bar % 2 else (0, 9), KICK, 112)
        add((4, 12), RIM if bar % 4 < 2 else CLAP, 100)
        add(range(16), HAT, 54)
    elif style == "synthwave":
        add((0, 8) if bar % 2 else (0, 8, 10), KICK, 118)
        add((4, 12), SNARE, 116)
        add(range(0, 16, 2), HAT, 66)
    elif style == "breakbeat":
        add((0, 10), KICK, 120)
        add((2,), KICK, 96) if bar % 2 else None
        add((4, 12), SNARE, 114)
        add((7, 9, 15), SNARE, 44)
        add(range(0, 16, 2), HAT, 70)
    if fill and style not in ("trap",):
        add((13, 14, 15), SNARE, 90)
    # Humanised velocities: a real player never hits twice alike.
    return [(s, d, int(v * rng.uniform(0.88, 1.0))) for s, d, v in hits]


def _chord(tonic: int, scale: tuple[int, ...], degree: float, sevenths: bool) -> list[int]:
    """Pitch classes (relative to C, above ``tonic``) of the chord on ``degree``."""
    d = int(degree)
    tones = [scale[(d + k) % 7] + 12 * ((d + k) // 7) for k in (0, 2, 4, 6)[: 4 if sevenths else 3]]
    if degree == 4.5:  # the major dominant of a minor key: raise its third
        tones[1] += 1
    return [tonic + t for t in tones]


def _bass_steps(style: str, bar: int) -> list[tuple[float, float]]:
    """(sixteenth, length in sixteenths) of the bass notes in one bar."""
    if style in ("house", "trance") or (style == "techno" and bar % 2):
        return [(s, 1.5) for s in (2, 6, 10, 14)] + (
            [(s, 0.8) for s in (3, 7, 11, 15)] if style == "trance" else []
        )
    if style == "techno":
        return [(s, 0.8) for s in range(16) if s % 4]
    if style.startswith("dnb"):
        return [(0, 10), (10, 6)] if bar % 2 else [(0, 16)]
    if style == "trap":
        return [(0, 6), (6, 5), (11, 5)] if bar % 2 else [(0, 10), (10, 6)]
    if style in ("boom-bap", "r&b"):
        return [(0, 3), (7, 2), (10, 4)] if bar % 2 else [(0, 5), (6, 2), (10, 3), (14, 2)]
    if style == "synthwave":
        return [(s, 1.6) for s in range(0, 16, 2)]
    return [(0, 3), (6, 2), (8, 3), (12, 2), (14, 2)]  # pop, breakbeat


def compose(
    style: Style,
    bpm: float,
    key: str,
    drums: bool,
    seed: int,
    bars: int,
    progression: tuple[float, ...] | None = None,
    challenge: Challenge | None = None,
    scale: tuple[int, ...] | None = None,
) -> Piece:
    """One piece: ``bars`` bars of 4/4 at ``bpm`` in ``key``; ``challenge`` plays it the
    way that makes its key hard to read (``scale``: the mode it is written in)."""
    rng = np.random.default_rng(seed)
    tonic_name, mode = key.split()
    tonic = NOTE_NAMES.index(tonic_name)
    scale = scale or (MAJOR if mode == "major" else MINOR)
    named = progression is not None
    if progression is None:
        options = PROGRESSIONS[mode]
        progression = options[seed % len(options)]
    sevenths = style.name in ("r&b", "boom-bap") and seed % 2 == 0
    plain = challenge or Challenge("", {})
    notes: list[Note] = []

    def when(sixteenth: float) -> float:
        """Beats from the start for a sixteenth of the piece, with the style's swing and
        a few milliseconds of human timing."""
        swung = sixteenth + (style.swing if int(sixteenth) % 2 == 1 and sixteenth % 1 == 0 else 0)
        jitter = rng.normal(0.0, 0.004) * bpm / 60.0
        return max(0.0, swung / 4 + jitter)

    def loud(velocity: float, gain: float) -> int:
        return min(127, round(velocity * gain))

    for bar in range(bars):
        degree = progression[bar % len(progression)]
        chord = _chord(tonic, scale, degree, sevenths)
        base = 16 * bar
        if drums:
            for step, drum, vel in _drums(style.name, bar, rng):
                notes.append(Note(when(base + step), 0.2, drum, loud(vel, plain.drums_gain),
                                  DRUM_CHANNEL))  # fmt: skip
        for j, (step, length) in enumerate(_bass_steps(style.name, bar)):
            # The chord's root between C2 and B2 (or its fifth on the strong steps, or a
            # riff on the tonic's pentatonic scale).
            pitch = chord[0]
            if plain.bass == "fifth" and j % 2 == 0:
                pitch = chord[2]
            elif plain.bass == "riff":  # tonic, seventh (sixth), third, fifth
                third = 1 if mode == "minor" else 2
                pitch = tonic + PENTATONIC[mode][(0, 0, 4, 0, third, 3)[j % 6]]
            notes.append(Note(when(base + step), length / 4 * 0.9, 36 + pitch % 12,
                              loud(100, plain.melodic_gain), BASS))  # fmt: skip
        # Chords: a sustained pad, or stabs on the style's off-beats (a drum-heavy mix:
        # one stab of the tonic chord every fourth bar).
        voicing = [60 + (p - 60) % 12 if p < 60 else p for p in (48 + c for c in chord)]
        stabs = {"house": (2, 7, 10), "techno": (3, 11), "boom-bap": (0, 10), "r&b": (0, 7, 10)}
        for p in voicing:
            if not plain.chords:
                if bar % 4 == 0:
                    notes.append(Note(base / 4, 0.5, p, loud(70, plain.melodic_gain), CHORDS))
            elif style.name in stabs:
                for s in stabs[style.name]:
                    notes.append(Note(when(base + s), 0.6, p, loud(70, plain.melodic_gain),
                                      CHORDS))  # fmt: skip
            else:
                notes.append(Note(base / 4, 3.9, p, loud(64, plain.melodic_gain), CHORDS))
        # Lead: chord tones and passing scale notes in eighths, in the upper register,
        # every other half of the piece (a lead rarely plays throughout).
        passing = PENTATONIC[mode] if plain.pentatonic else scale
        if (bar // 4) % 2 == 1 and plain.chords:
            pitch = 72 + tonic % 12
            for s in range(0, 16, 2):
                if rng.random() < 0.25:
                    continue
                on_chord = s % 4 == 0
                pool = (
                    [72 + c % 12 for c in chord]
                    if on_chord
                    else [72 + tonic % 12 + x for x in passing]
                )
                pitch = min(pool, key=lambda q: abs(q - pitch) + rng.random() * 4)
                notes.append(Note(when(base + s), 0.45, pitch, loud(78, plain.melodic_gain),
                                  LEAD))  # fmt: skip
    name = f"{style.name.replace(' ', '-').replace('&', 'n')}-{bpm:g}-{key.replace(' ', '-')}"
    name += "" if drums else "-nodrums"
    if challenge is not None:
        name += "-" + challenge.name.replace(" ", "-")
    if named:
        name += "-" + "-".join(ROMAN[mode][int(d)] for d in progression)
    programs = dict(zip((BASS, CHORDS, LEAD), style.programs, strict=True))
    return Piece(name, style.name, style.genre, bpm, key, drums, style.swing, programs, notes)


def style_set(pieces_per_style: int = 8, seconds: float = 60.0) -> list[Piece]:
    """The style set: for each style, pieces spread over its usual tempi, every key of
    the 24 in turn across the whole set, one piece in four without drums (not drum &
    bass or trap, where a beat without drums is rare)."""
    out = []
    keys = [f"{n} {m}" for m in ("minor", "major") for n in NOTE_NAMES]
    k = 0
    for s_i, style in enumerate(STYLES):
        lo, hi = style.tempi
        for i in range(pieces_per_style):
            bpm = round(
                lo + (hi - lo) * ((i * 5) % pieces_per_style) / max(1, pieces_per_style - 1), 1
            )
            drums = not (i % 4 == 3 and style.name not in ("dnb two-step", "dnb half-time", "trap"))
            bars = int(np.ceil(seconds * bpm / 240.0))
            key = keys[(7 * k + s_i) % 24]
            out.append(compose(style, bpm, key, drums, seed=1000 * s_i + i, bars=bars))
            k += 1
    # Two more a style on the loops that make a key hard to read.
    for s_i, style in enumerate(STYLES):
        lo, hi = style.tempi
        for j in range(2):
            key = keys[(7 * k + s_i) % 24]
            mode = key.split()[1]
            bpm = round(lo + (hi - lo) * (0.3 + 0.4 * j), 1)
            out.append(compose(style, bpm, key, True, seed=1000 * s_i + 50 + j,
                               bars=int(np.ceil(seconds * bpm / 240.0)),
                               progression=HARD_PROGRESSIONS[mode][(s_i + j) % 2]))  # fmt: skip
            k += 1
    return out


def key_set(pieces_per_challenge: int = 8, seconds: float = 60.0) -> list[Piece]:
    """Pieces whose key is hard to read (see CHALLENGES): each challenge in turn across
    the styles and the 24 keys, half minor and half major, one in eight without drums
    (never the drum-heavy ones)."""
    out = []
    for c_i, challenge in enumerate(CHALLENGES):
        for j in range(pieces_per_challenge):
            style = STYLES[(3 * c_i + j) % len(STYLES)]
            mode = ("minor", "major")[j % 2]
            tonic = NOTE_NAMES[(7 * (c_i * pieces_per_challenge + j) + 5 * c_i) % 12]
            lo, hi = style.tempi
            bpm = round(lo + (hi - lo) * ((3 * j) % 8) / 7, 1)
            options = challenge.progressions[mode]
            which = (j // 2) % len(options)
            scale = challenge.scales[mode][which] if challenge.scales else None
            drums = (
                challenge.name == "drum-heavy"
                or j % 8 != 5
                or style.name.startswith(("dnb", "trap"))
            )
            piece = compose(style, bpm, f"{tonic} {mode}", drums, seed=5000 + 100 * c_i + j,
                            bars=int(np.ceil(seconds * bpm / 240.0)),
                            progression=options[which], challenge=challenge, scale=scale)  # fmt: skip
            if challenge.name == "bright":
                programs = BRIGHT_PROGRAMS[j % len(BRIGHT_PROGRAMS)]
            else:
                programs = challenge.programs or style.programs
            piece = replace(piece, programs=dict(zip((BASS, CHORDS, LEAD), programs, strict=True)),
                            challenge=challenge.name)  # fmt: skip
            out.append(piece)
    return out
