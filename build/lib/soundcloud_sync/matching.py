"""When two track listings look like the same recording: titles and artists as people
and stores spell them differently.

Shared by the catalog (a Spotify track that may be a SoundCloud track) and the Notion
sync (a page someone made by hand), so both read "Track (Original Mix)" and
"track - original mix" alike.
"""

from __future__ import annotations

import re
import unicodedata

# "(Original Mix)", "[Extended Mix]", "- Original Mix", "- Radio Edit": the same recording
# as stores label it, not another version
_MIX = re.compile(
    r"[\(\[]\s*(?:original|extended|radio)\s+(?:mix|edit|version)\s*[\)\]]"
    r"|\s-\s*(?:original|extended|radio)\s+(?:mix|edit|version)\s*$",
    re.I,
)
# "feat. X", "ft. X", "(feat. X)": who sings along is written in the title or the artist
_FEAT = re.compile(r"[\(\[]?\s*\b(?:feat|ft|featuring)\b\.?\s+[^\)\]]*[\)\]]?", re.I)
DURATION_TOLERANCE_MS = 2000


def normalize(text: str | None) -> str:
    """Case, accents, punctuation and '(Original Mix)' do not make a different track."""
    text = unicodedata.normalize("NFKD", _MIX.sub(" ", text or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def recording_key(title: str | None, artist: str | None) -> tuple[str, str]:
    """Title and artist as compared across services: also without 'feat. …', and with
    only the first of several artists ("A, B" and "A & B" name A first)."""
    first_artist = re.split(r",|&|\bx\b|\band\b", _FEAT.sub(" ", artist or ""), maxsplit=1)[0]
    return normalize(_FEAT.sub(" ", title or "")), normalize(first_artist)


def same_length(a_ms: int | None, b_ms: int | None) -> bool:
    """Durations within two seconds: stores trim silence differently."""
    return a_ms is not None and b_ms is not None and abs(a_ms - b_ms) <= DURATION_TOLERANCE_MS
