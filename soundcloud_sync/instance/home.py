"""The local Dagster instance that the CLI, the Python API and `soundcloud-sync dev` share:
its home, its dagster.yaml and its pools' limits."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from dagster import DagsterInstance
from sqlalchemy.exc import IntegrityError

from ..files import write_atomic

# Every process of the machine takes its requests from one limiter per API (and every
# machine, with the catalog on PostgreSQL), so steps of several runs may overlap
# without exceeding a rate: two Notion steps (the next run's starts while the last one
# ends, and Notion never idles between runs), and the SoundCloud steps of every run the
# queue lets execute at once, up to three (of max_concurrent_runs: 5), so the downloads
# of several playlists overlap while api-v2 stays within its budget. Other pools keep 1.
LOCAL_POOL_LIMITS = {"notion_api": 2, "soundcloud_api": 3}


def ensure_dagster_home(default_home: Path) -> Path:
    """Use $DAGSTER_HOME, or ``default_home`` (under SOUNDCLOUD_SYNC_HOME), with our
    dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or default_home).resolve()
    write_instance_settings(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# The dagster.yaml that earlier releases wrote (sha256 of the file as written). Such a
# file, never edited, is replaced by today's: the first lacks the run monitoring, the one
# run per playlist and the patient slot waits that keep a killed run from blocking the
# next; later ones, five runs at once and runs forked from a warm process.
EARLIER_INSTANCE_SETTINGS = {
    "d2c16812fc6f1bc969fea047d47de1912191e906abaa80997a30a660d20ca048",  # first release
    # 2026-11: three runs at once (with the home's path written in; see below)
    "d81001794161c939a7c34065a6ba3f27b00b8fc9e5cf91c0537ace34c506cf10",
    # 2026-12: five runs at once, each a new process (Dagster's default run launcher)
    "3268dbfa033dc50c073e6edcf86b393409307ec4a870e7f0564d13d2eebd75c7",
}


def write_instance_settings(home: Path, overwrite: bool = False) -> Path:
    """Our dagster.yaml in `home` (unless it has one of its own), storage pointed at
    `home` itself. A file an earlier release wrote and nobody edited is brought up to
    date; a file the user edited is theirs.

    The path is written out, so any process can open the instance by its folder
    (`DagsterInstance.from_config`) without DAGSTER_HOME set.
    """
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if overwrite or not config.exists() or _written_by_earlier_release(config, home):
        template = resources.files("soundcloud_sync").joinpath("dagster_instance.yaml")
        text = template.read_text().replace("{env: DAGSTER_HOME}", json.dumps(str(home)))
        write_atomic(config, text.encode())  # a second process starting now reads all of it
    return config


def _written_by_earlier_release(config: Path, home: Path) -> bool:
    """The file as an earlier release wrote it: the first wrote its template as it is,
    later ones with the home's path in place of ``{env: DAGSTER_HOME}``."""
    try:
        text = config.read_bytes()
    except OSError:
        return False
    template = text.replace(json.dumps(str(home)).encode(), b"{env: DAGSTER_HOME}")
    return any(hashlib.sha256(t).hexdigest() in EARLIER_INSTANCE_SETTINGS for t in (text, template))


@contextmanager
def local_instance(default_home: Path) -> Iterator[DagsterInstance]:
    """The instance the CLI, the API and `soundcloud-sync dev` share: $DAGSTER_HOME, or
    ``default_home`` (`Settings.dagster_home`)."""
    home = ensure_dagster_home(default_home)
    with DagsterInstance.get() as instance:
        if home == default_home.resolve():  # a deployment's own home is left alone
            ensure_pool_limits(instance)
        yield instance


def ensure_pool_limits(
    instance: DagsterInstance, limits: dict[str, int] = LOCAL_POOL_LIMITS
) -> None:
    """Set the pools' limits once; a limit set since (UI, `dagster instance concurrency
    set`) is never overwritten. Two processes starting at once may both find a pool
    missing; the one that loses the race to create it finds it there and moves on."""
    storage = instance.event_log_storage
    known = storage.get_concurrency_keys()
    for pool, slots in limits.items():
        if pool in known:
            continue
        try:
            storage.set_concurrency_slots(pool, slots)
        except IntegrityError:
            if pool not in storage.get_concurrency_keys():
                raise
