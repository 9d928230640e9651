"""Dagster's PostgreSQL storage (dagster-postgres), with steps that wait for a pool slot
without burning a core: the same pacing as `storage.PatientSqliteStorage`, for the
deployment in deploy/ (`storage: custom:` in its dagster.yaml, the same `postgres_db`
settings as Dagster's own `storage: postgres:`)."""

from __future__ import annotations

from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

from .storage import PatientClaims


class PatientPostgresEventLogStorage(PatientClaims, PostgresEventLogStorage):
    """Dagster's PostgreSQL event log with paced slot claims."""


class PatientPostgresStorage(DagsterPostgresStorage):
    """Dagster's PostgreSQL storage (the same tables), paced claims."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._event_log_storage = PatientPostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> PatientPostgresStorage:
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data,
            get_token_provider_from_config(config_value),
        )
