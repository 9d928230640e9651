"""Standard MIDI files, read and written (just what the evaluation set needs).

Reading: the tempo, key-signature and time-signature events and the notes, so that a
MIDI file from a Debian package can state its truth (see corpus.py). Writing: the
style set's scores (styles.py) as type-1 files that FluidSynth renders with a General
MIDI soundfont.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

DRUM_CHANNEL = 9  # General MIDI: channel 10 is the drum kit


@dataclass(frozen=True)
class Note:
    start: float  # beats (quarter notes) from the start
    length: float  # beats
    pitch: int  # MIDI note number (a drum sound on the drum channel)
    velocity: int
    channel: int


@dataclass
class MidiFile:
    ticks_per_beat: int
    tempi: list[tuple[float, float]] = field(default_factory=list)  # (beat, BPM)
    keys: list[tuple[float, int, bool]] = field(default_factory=list)  # (beat, sharps, minor)
    meters: list[tuple[float, int, int]] = field(default_factory=list)  # (beat, num, denom)
    notes: list[Note] = field(default_factory=list)


def _varlen(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i


def read_midi(path: Path) -> MidiFile:
    """Parse a standard MIDI file (format 0 or 1, ticks-per-beat timing)."""
    data = path.read_bytes()
    if data[:4] != b"MThd":
        raise ValueError(f"{path}: not a standard MIDI file")
    _fmt, tracks, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000:
        raise ValueError(f"{path}: SMPTE timing is not supported")
    out = MidiFile(division)
    i = 8 + struct.unpack(">I", data[4:8])[0]
    for _ in range(tracks):
        if data[i : i + 4] != b"MTrk":
            break
        end = i + 8 + struct.unpack(">I", data[i + 4 : i + 8])[0]
        j, tick, status = i + 8, 0, 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}
        while j < end:
            delta, j = _varlen(data, j)
            tick += delta
            beat = tick / division
            if data[j] == 0xFF:
                kind = data[j + 1]
                size, j = _varlen(data, j + 2)
                body = data[j : j + size]
                j += size
                if kind == 0x51 and size == 3:
                    out.tempi.append((beat, 60e6 / int.from_bytes(body, "big")))
                elif kind == 0x59 and size == 2:
                    out.keys.append((beat, struct.unpack("b", body[:1])[0], body[1] == 1))
                elif kind == 0x58 and size >= 2:
                    out.meters.append((beat, body[0], 2 ** body[1]))
                elif kind == 0x2F:
                    break
                continue
            if data[j] in (0xF0, 0xF7):
                size, j = _varlen(data, j + 1)
                j += size
                continue
            if data[j] >= 0x80:
                status = data[j]
                j += 1
            kind, channel = status & 0xF0, status & 0x0F
            width = 1 if kind in (0xC0, 0xD0) else 2
            body = data[j : j + width]
            j += width
            if kind == 0x90 and body[1] > 0:
                sounding[(channel, body[0])] = (tick, body[1])
            elif kind in (0x80, 0x90) and (channel, body[0]) in sounding:
                began, velocity = sounding.pop((channel, body[0]))
                out.notes.append(
                    Note(began / division, (tick - began) / division, body[0], velocity, channel)
                )
        i = end
    out.tempi.sort()
    out.keys.sort()
    out.meters.sort()
    return out


# --------------------------------------------------------------------------- writing


def _varlen_bytes(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def write_midi(
    path: Path,
    notes: list[Note],
    bpm: float,
    programs: dict[int, int],
    key: tuple[int, bool] | None = None,
    ticks_per_beat: int = 480,
    meter: tuple[int, int] | None = (4, 4),
) -> Path:
    """A format-0 file: one tempo (quarter notes a minute), a time signature (``meter``:
    numerator, denominator; None writes none), optional key signature (sharps, minor), the notes;
    ``programs`` gives each melodic channel its General MIDI instrument (0-based)."""
    events: list[tuple[int, int, bytes]] = []  # (tick, order, bytes): note-offs first
    events.append((0, 0, b"\xff\x51\x03" + round(60e6 / bpm).to_bytes(3, "big")))
    if meter is not None:
        numerator, denominator = meter
        power = denominator.bit_length() - 1
        events.append((0, 0, b"\xff\x58\x04" + bytes([numerator, power, 24, 8])))
    if key is not None:
        events.append((0, 0, b"\xff\x59\x02" + struct.pack("bB", key[0], int(key[1]))))
    for channel, program in programs.items():
        events.append((0, 1, bytes([0xC0 | channel, program])))
    for n in notes:
        on = round(n.start * ticks_per_beat)
        off = max(on + 1, round((n.start + n.length) * ticks_per_beat))
        velocity = max(1, min(127, n.velocity))
        events.append((on, 3, bytes([0x90 | n.channel, n.pitch, velocity])))
        events.append((off, 2, bytes([0x80 | n.channel, n.pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    track, last = bytearray(), 0
    for tick, _order, body in events:
        track += _varlen_bytes(tick - last) + body
        last = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_beat)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track))
    return path
