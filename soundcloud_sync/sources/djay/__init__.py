"""djay Pro's library (``MediaLibrary.db``), read without touching it.

Knows nothing of Notion or Dagster: `read_library` gives the tracks (with djay's
analysis and the DJ's own data), the playlists in djay's order and the plays.
"""

from .keys import key_of_index
from .library import read_library
from .models import DjayLibrary, DjayLibraryError, DjayPlay, DjayPlaylist, DjayTrack
from .tsaf import TsafError, TsafObject, decode

__all__ = [
    "DjayLibrary",
    "DjayLibraryError",
    "DjayPlay",
    "DjayPlaylist",
    "DjayTrack",
    "TsafError",
    "TsafObject",
    "decode",
    "key_of_index",
    "read_library",
]
