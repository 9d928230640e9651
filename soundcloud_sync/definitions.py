"""The one `Definitions` object of the project (loaded by `dagster dev`)."""

from __future__ import annotations

import functools

from dagster import (
    Definitions,
    JobDefinition,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)

from .config import Settings
from .defs import assets
from .defs.djay import djay_library_sensor, sync_djay_job
from .defs.executors import executor_for
from .defs.jobs import audit_playlist_job, reanalyze_audio_job, sync_playlist_job
from .defs.resources import resources_from_settings
from .defs.schedules import schedules_for
from .defs.sensors import new_tracks_sensor, playlist_registry_sensor


def build_definitions(settings: Settings | None = None) -> Definitions:
    """The definitions for ``settings`` (by default, the environment's: loading the
    definitions is an entry point, as the CLI and the API are)."""
    settings = (settings or Settings.from_env()).apply()
    return Definitions(
        assets=load_assets_from_package_module(assets),
        asset_checks=load_asset_checks_from_package_module(assets),
        jobs=[sync_playlist_job, audit_playlist_job, reanalyze_audio_job, sync_djay_job],
        sensors=[new_tracks_sensor, playlist_registry_sensor, djay_library_sensor],
        schedules=schedules_for(settings),
        resources=resources_from_settings(settings),
        executor=executor_for(settings),
    )


defs = build_definitions()


@functools.lru_cache(maxsize=8)
def _job_for(settings: Settings, name: str) -> JobDefinition:
    return build_definitions(settings).resolve_job_def(name)


def sync_playlist_job_def() -> JobDefinition:
    """Module-level handle so the CLI can execute the job reconstructably.

    Built from the environment of the moment, not the one at import time; Dagster asks
    for it several times a run, so it is built once per distinct settings.
    """
    return _job_for(Settings.from_env(), sync_playlist_job.name)


def audit_playlist_job_def() -> JobDefinition:
    return _job_for(Settings.from_env(), audit_playlist_job.name)


def reanalyze_audio_job_def() -> JobDefinition:
    return _job_for(Settings.from_env(), reanalyze_audio_job.name)


def sync_djay_job_def() -> JobDefinition:
    return _job_for(Settings.from_env(), sync_djay_job.name)
