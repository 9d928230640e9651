"""Where a run's steps execute: local processes, or Celery workers (deploy/).

`SOUNDCLOUD_SYNC_EXECUTOR=celery` sends every step to the `dagster` queue of the
broker in `CELERY_BROKER_URL`; workers started with `celery -A dagster_celery.app
worker -Q dagster` and the same environment pick them up. The broker and result
backend are passed as environment references, so their URLs (which may carry a
password) never land in run config or the UI.
"""

from __future__ import annotations

from dagster import ExecutorDefinition, Field, multi_or_in_process_executor

from ..config import CELERY_BACKEND_ENV, CELERY_BROKER_ENV, ConfigError, Settings


def executor_for(settings: Settings) -> ExecutorDefinition:
    """The executor the settings name (default: local processes)."""
    if settings.executor == "celery":
        return celery_executor_for(settings)
    return local_executor()


# What the server that local steps are forked from imports once, before the first step.
STEP_SERVER_PRELOAD = ["soundcloud_sync.definitions"]


def local_executor() -> ExecutorDefinition:
    """Dagster's multiprocess executor, each step forked from a server that has already
    imported the project: a step starts in milliseconds instead of re-importing Dagster,
    pandas and the pipeline (seconds each), so a sync with nothing to do ends quickly.
    Steps still run side by side (Notion writes overlap downloads and analysis).

    Run config ``execution: {config: {in_process: true}}`` runs the steps one after the
    other in the run's own process instead: for a run whose steps form one line anyway
    (a sync without audio), that saves starting the server, a second import of the project.
    """
    return multi_or_in_process_executor.configured(
        _local_executor_config,
        name="local_processes",
        config_schema={
            "in_process": Field(
                bool,
                default_value=False,
                description="Run the steps one at a time in the run's process.",
            )
        },
    )


def _local_executor_config(config: dict) -> dict:
    if config["in_process"]:
        return {"in_process": {}}
    return {
        "multiprocess": {"start_method": {"forkserver": {"preload_modules": STEP_SERVER_PRELOAD}}}
    }


def celery_executor_for(settings: Settings) -> ExecutorDefinition:
    """dagster-celery's executor bound to the broker/backend of the environment.

    Celery's own workers read the same two variables, so one environment serves both.
    """
    try:
        from dagster_celery import celery_executor
    except ImportError as exc:  # the `scale` extra is not installed
        raise ConfigError(
            "SOUNDCLOUD_SYNC_EXECUTOR: celery needs dagster-celery: "
            "pip install 'soundcloud-sync[scale]'"
        ) from exc
    if not settings.celery_broker_url:
        raise ConfigError(
            f"SOUNDCLOUD_SYNC_EXECUTOR: celery needs {CELERY_BROKER_ENV} (e.g. redis://host:6379/0)"
        )
    config: dict = {"broker": {"env": CELERY_BROKER_ENV}}
    if settings.celery_result_backend:
        config["backend"] = {"env": CELERY_BACKEND_ENV}
    return celery_executor.configured(config, name="celery")
