"""Where a run's steps execute: threads of the run's process, or Celery workers (deploy/).

`SOUNDCLOUD_SYNC_EXECUTOR=celery` sends every step to the `dagster` queue of the
broker in `CELERY_BROKER_URL`; workers started with `celery -A dagster_celery.app
worker -Q dagster` and the same environment pick them up. The broker and result
backend are passed as environment references, so their URLs (which may carry a
password) never land in run config or the UI.
"""

from __future__ import annotations

from dagster import ExecutorDefinition

from ..config import CELERY_BACKEND_ENV, CELERY_BROKER_ENV, ConfigError, Settings


def executor_for(settings: Settings) -> ExecutorDefinition:
    """The executor the settings name (default: threads of the run's process)."""
    if settings.executor == "celery":
        return celery_executor_for(settings)
    return local_executor()


def local_executor() -> ExecutorDefinition:
    """The run's steps in threads of the run's own process (`instance.threads`): Notion
    writes still overlap downloads and analysis, and no step pays for a process of its
    own (instance, job and imports again: ~0.7 CPU-seconds a step)."""
    from ..instance.threads import threaded_executor

    return threaded_executor


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
