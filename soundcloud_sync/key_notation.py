"""How a musical key is written: note names and Camelot codes.

Shared by the analysis (the key it measures) and the djay reader (the key djay stored),
so both name a key alike and the two can be compared.
"""

from __future__ import annotations

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def camelot(tonic: int, mode: str) -> str:
    """Camelot code of a key: A minor -> 8A, C major -> 8B."""
    if mode == "minor":
        return f"{((7 * (tonic - 9)) % 12 + 7) % 12 + 1}A"
    return f"{((7 * tonic) % 12 + 7) % 12 + 1}B"
