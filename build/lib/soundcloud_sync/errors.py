"""The one family of errors meant for the user.

Everything the user can act on (a bad URL or setting, a Notion database that does not
fit, a failed run) derives from `SoundCloudSyncError`, so the command line shows any of
them as one line and keeps tracebacks for real bugs.
"""

from __future__ import annotations


class SoundCloudSyncError(Exception):
    """A problem the user can fix or must know about; its message names what is at fault."""
