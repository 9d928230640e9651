"""One name per measured field, from the analysis to the catalog, the tags, Notion and the
DJ exports: `tempo`, `key`, `camelot`, `key_confidence`, `duration_s`, `lufs` (the names
of `analyze_file`'s result). Adding a field under another name somewhere fails here."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from soundcloud_sync.audio.analysis import AudioFeatures
from soundcloud_sync.audio.tags import TrackTags
from soundcloud_sync.catalog import TrackRow
from soundcloud_sync.catalog.schema import tracks
from soundcloud_sync.export.library import ExportTrack
from soundcloud_sync.notion.schema import TRACK_FIELDS

PACKAGE = Path(__file__).resolve().parents[1] / "soundcloud_sync"
MEASURED = ("tempo", "key", "camelot", "key_confidence", "duration_s", "lufs")
# Other spellings of those fields, never to be used for them in the package
OTHER_SPELLINGS = {
    "bpm": "tempo",
    "tempo_bpm": "tempo",
    "musical_key": "key",
    "initialkey": "key",
    "camelot_key": "camelot",
    "key_strength": "key_confidence",
    "duration_sec": "duration_s",
    "duration_seconds": "duration_s",
    "loudness": "lufs",
    "loudness_lufs": "lufs",
}
# The analysis's own estimators (candidate beats per minute and the like) are not fields
# that travel; its result, `AudioFeatures`, is checked below.
INTERNAL = ("audio/analysis",)
# The catalog migration that renamed the column names its old name; djay's file calls
# its tempo `bpm` (the djay reader reads it by that name, once).
RENAMED_BY = {("catalog/schema.py", "musical_key"), ("sources/djay/library.py", "bpm")}


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_layer_names_the_measured_fields_alike() -> None:
    assert set(MEASURED) <= _fields(AudioFeatures)
    assert set(MEASURED) <= set(tracks.c.keys())  # the catalog's columns
    assert set(tracks.c.keys()) <= _fields(TrackRow)  # the row the steps pass on
    assert set(MEASURED) <= {f.key for f in TRACK_FIELDS}  # Notion's fields
    assert {"tempo", "key", "camelot"} <= _fields(TrackTags)
    assert {"tempo", "key", "duration_s"} <= _fields(ExportTrack)


def _names(tree: ast.AST) -> list[tuple[int, str]]:
    """Names a field can hide behind: attributes, keyword arguments, parameters, class
    fields, and string constants (dictionary keys, column names)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.keyword) and node.arg:
            found.append((node.value.lineno, node.arg))
        elif isinstance(node, ast.arg):
            found.append((node.lineno, node.arg))
        elif isinstance(node, ast.ClassDef):
            found.extend(
                (item.lineno, item.target.id)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


MODULES = [
    p for p in sorted(PACKAGE.rglob("*.py"))
    if not p.relative_to(PACKAGE).as_posix().startswith(INTERNAL)
]  # fmt: skip


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_other_spelling_of_a_measured_field(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    wrong = [
        f"line {line}: {name!r} (call it {OTHER_SPELLINGS[name]!r})"
        for line, name in _names(tree)
        if name in OTHER_SPELLINGS
        and (path.relative_to(PACKAGE).as_posix(), name) not in RENAMED_BY
    ]
    assert not wrong, f"{path.relative_to(PACKAGE)}: {'; '.join(wrong)}"
