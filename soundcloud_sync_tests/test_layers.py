"""The floors of the package: no import climbs one, and Dagster stays in the Dagster layer.

Bottom up: the rooms that talk to one service or hold one kind of state (`sources`,
`notion`, `audio`, `catalog`, `eagle`, `export`, and the small shared modules), then
`steps` (how the rooms' results meet the catalog), `instance` (the Dagster instance's
plumbing), `defs` (the Dagster definitions), `runs` (running jobs for the CLI and the
API), and the entry points (`cli`, `api`, `definitions`) that read the settings.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "soundcloud_sync"
ROOMS = ("sources", "notion", "audio", "catalog", "eagle", "export")
SHARED = ("errors", "matching", "files", "sqlite_wal", "key_notation", "ratelimit")
ENTRY = ("api", "cli", "definitions", "progress")
SETTINGS = ("config", "playlists_file")
ABOVE_ROOMS = (*SETTINGS, "steps", "instance", "defs", "runs", *ENTRY)

# importer (first part under soundcloud_sync) -> parts it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    **{room: ABOVE_ROOMS for room in (*ROOMS, *SHARED)},
    "steps": (*SETTINGS, "instance", "defs", "runs", *ENTRY),
    "instance": (*SETTINGS, "steps", "defs", "runs", *ENTRY, *ROOMS),
    "defs": ("runs", "api", "cli", "definitions", "progress"),
    "runs": ("api", "cli", "progress"),
    **{module: ("steps", "instance", "defs", "runs", *ENTRY) for module in SETTINGS},
}
# rooms that know nothing of each other (the catalog keeps the sources' models)
STRANGERS: dict[str, tuple[str, ...]] = {
    "sources": ("notion", "audio", "catalog", "eagle", "export"),
    "notion": ("sources", "audio", "catalog", "eagle", "export"),
    "audio": ("sources", "notion", "catalog", "eagle", "export"),
    "eagle": ("sources", "notion", "audio", "catalog", "export"),
    "catalog": ("notion", "audio", "eagle", "export"),
}
DAGSTER_LAYER = ("instance", "defs", "runs", *ENTRY)
# Dagster has no public hook for a storage class, for executing a plan's steps or a run
# in a process of our making: these subclass or drive its private ones (and are pinned to
# one Dagster minor version, see test_packaging.py)
PRIVATE_DAGSTER_ALLOWED = (
    "instance/storage.py",
    "instance/postgres_storage.py",
    "instance/threads.py",
    "instance/launcher.py",
)


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, absolute (function-level imports included)."""
    package = ".".join(("soundcloud_sync", *path.relative_to(PACKAGE).parent.parts))
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def _floor(path: Path) -> str:
    first = path.relative_to(PACKAGE).parts[0]
    return first.removesuffix(".py")


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "soundcloud_sync" and len(parts) > 1 else None


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_climbs_a_floor(path: Path) -> None:
    floor = _floor(path)
    banned = set(FORBIDDEN.get(floor, ())) | set(STRANGERS.get(floor, ()))
    climbing = sorted({m for m in _imports(path) if _part(m) in banned})
    assert not climbing, f"{path.relative_to(PACKAGE)} ({floor}) imports {climbing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_dagster_stays_in_the_dagster_layer(path: Path) -> None:
    relative = path.relative_to(PACKAGE).as_posix()
    dagster = sorted({m for m in _imports(path) if m.split(".")[0].startswith("dagster")})
    if _floor(path) not in DAGSTER_LAYER:
        assert not dagster, f"{relative} imports {dagster}: Dagster belongs to defs/runs"
    private = [m for m in dagster if "._" in f".{m}" and m.split(".")[0] == "dagster"]
    if relative not in PRIVATE_DAGSTER_ALLOWED:
        assert not private, f"{relative} imports Dagster's private {private}: use the public name"
