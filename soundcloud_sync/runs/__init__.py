"""Running the pipeline's jobs on the local Dagster instance (CLI and Python API).

Everything a terminal or a script starts goes through here, so it is an ordinary run
in the UI; the Dagster definitions themselves live in `soundcloud_sync.defs`, the
instance's plumbing in `soundcloud_sync.instance`.
"""

from .execute import RunOutcome, run_audit, run_djay, run_sync
from .registry import register_playlists, registered_keys, unregister_playlists

__all__ = [
    "RunOutcome",
    "register_playlists",
    "registered_keys",
    "run_audit",
    "run_djay",
    "run_sync",
    "unregister_playlists",
]
