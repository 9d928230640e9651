"""Where `PatientPostgresStorage` was before it moved to
`soundcloud_sync.instance.postgres_storage`: a deployment's dagster.yaml written for an
earlier release names this module (`storage: custom:`)."""

from ..instance.postgres_storage import PatientPostgresEventLogStorage, PatientPostgresStorage

__all__ = ["PatientPostgresEventLogStorage", "PatientPostgresStorage"]
