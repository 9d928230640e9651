"""Where `PatientSqliteStorage` was before it moved to `soundcloud_sync.instance.storage`:
a dagster.yaml written by an earlier release names this module (`storage: custom:`)."""

from ..instance.storage import PatientSqliteEventLogStorage, PatientSqliteStorage

__all__ = ["PatientSqliteEventLogStorage", "PatientSqliteStorage"]
