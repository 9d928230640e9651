"""Where a run's steps execute: Dagster's default, or Celery workers (deploy/).

`SOUNDCLOUD_SYNC_EXECUTOR=celery` sends every step to the `dagster` queue of the
broker in `CELERY_BROKER_URL`; workers started with `celery -A dagster_celery.app
worker -Q dagster` and the same environment pick them up. The broker and result
backend are passed as environment references, so their URLs (which may carry a
password) never land in run config or the UI.
"""

from __future__ import annotations

import os

from dagster import ExecutorDefinition, multiprocess_executor

EXECUTOR_ENV = "SOUNDCLOUD_SYNC_EXECUTOR"
BROKER_ENV = "CELERY_BROKER_URL"
BACKEND_ENV = "CELERY_RESULT_BACKEND"
CHOICES = ("default", "celery")


def executor_for(name: str | None) -> ExecutorDefinition:
    """The executor named by SOUNDCLOUD_SYNC_EXECUTOR (default: local processes)."""
    if not name or name == "default":
        return local_executor()
    if name == "celery":
        return celery_executor_from_env()
    raise ValueError(f"{EXECUTOR_ENV}={name!r}: choose one of {', '.join(CHOICES)}")


def local_executor() -> ExecutorDefinition:
    """Dagster's multiprocess executor, each step forked from a server that has already
    imported the project: a step starts in milliseconds instead of re-importing Dagster,
    pandas and the pipeline (seconds each), so a sync with nothing to do ends quickly.
    Steps still run side by side (Notion writes overlap downloads and analysis)."""
    return multiprocess_executor.configured(
        {"start_method": {"forkserver": {"preload_modules": ["soundcloud_sync.definitions"]}}},
        name="local_processes",
    )


def celery_executor_from_env() -> ExecutorDefinition:
    """dagster-celery's executor bound to the broker/backend of the environment.

    Celery's own workers read the same two variables, so one environment serves both.
    """
    try:
        from dagster_celery import celery_executor
    except ImportError as exc:  # the `scale` extra is not installed
        raise ValueError(
            f"{EXECUTOR_ENV}=celery needs dagster-celery: pip install 'soundcloud-sync[scale]'"
        ) from exc
    if not os.environ.get(BROKER_ENV):
        raise ValueError(f"{EXECUTOR_ENV}=celery needs {BROKER_ENV} (e.g. redis://host:6379/0)")
    config: dict = {"broker": {"env": BROKER_ENV}}
    if os.environ.get(BACKEND_ENV):
        config["backend"] = {"env": BACKEND_ENV}
    return celery_executor.configured(config, name="celery")
