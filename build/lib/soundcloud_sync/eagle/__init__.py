"""Eagle: import the library's files into the Eagle app, once each."""

from soundcloud_sync.eagle.client import (
    DEFAULT_URL,
    EagleClient,
    EagleError,
    EagleImport,
    EagleNotRunning,
    EagleStatus,
    track_tags,
)

__all__ = [
    "DEFAULT_URL",
    "EagleClient",
    "EagleError",
    "EagleImport",
    "EagleNotRunning",
    "EagleStatus",
    "track_tags",
]
