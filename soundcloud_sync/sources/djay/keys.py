"""djay's key index (0-23) in the project's notation ("A minor", "C# major", Camelot).

djay stores a track's key as ``keySignatureIndex``: pairs of a major key and its
relative minor, even index major and odd index minor, the pairs a semitone apart
starting from D♭ major / B♭ minor (0, 1) up to C major / A minor (22, 23). Sources
and the evidence for this order are in ``docs/djay.md``.
"""

from __future__ import annotations

from ...key_notation import NOTE_NAMES, camelot

KEY_COUNT = 24


def key_of_index(index: object) -> tuple[str, str] | None:
    """(``"A minor"``, ``"8A"``) for djay's key index; None when unset or out of range."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < KEY_COUNT:
        return None
    major_tonic = (1 + index // 2) % 12  # pair 0 is D-flat major
    if index % 2 == 0:
        return f"{NOTE_NAMES[major_tonic]} major", camelot(major_tonic, "major")
    minor_tonic = (major_tonic + 9) % 12  # the relative minor, a minor third below
    return f"{NOTE_NAMES[minor_tonic]} minor", camelot(minor_tonic, "minor")
