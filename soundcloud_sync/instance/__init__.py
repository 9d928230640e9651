"""Plumbing of the Dagster instance, below the definitions (`defs/` may use it): the
local instance's home and settings, steps that wait for a pool slot without spinning
(`storage`, `postgres_storage`), dead runs cleaned up (`workers`), one run per
playlist for runs started from a terminal or a script (`exclusive`), the local
executor that runs a run's steps in threads of its process (`threads`), the local
launcher that forks each run from a process with the code imported (`launcher`), and a
run's progress as run tags (`progress`).

Knows nothing of the project's assets, jobs or settings.
"""

from .home import ensure_dagster_home, ensure_pool_limits, local_instance, write_instance_settings
from .workers import reap_dead_runs, record_step_process, worker_tags

__all__ = [
    "ensure_dagster_home",
    "ensure_pool_limits",
    "local_instance",
    "reap_dead_runs",
    "record_step_process",
    "worker_tags",
    "write_instance_settings",
]
