"""Running the pipeline's jobs on the local Dagster instance (CLI and Python API).

Everything a terminal or a script starts goes through here, so it is an ordinary run
in the UI; the Dagster definitions themselves live in `soundcloud_sync.defs`.
"""

from .execute import RunOutcome, run_audit, run_sync
from .instance import (
    ensure_pool_limits,
    local_instance,
    register_playlists,
    registered_keys,
    unregister_playlists,
)

__all__ = [
    "RunOutcome",
    "ensure_pool_limits",
    "local_instance",
    "register_playlists",
    "registered_keys",
    "run_audit",
    "run_sync",
    "unregister_playlists",
]
