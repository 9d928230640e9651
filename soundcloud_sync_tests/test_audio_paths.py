"""File names from hostile titles stay valid everywhere and inside the library."""

from __future__ import annotations

import base64
import re

import pytest

from soundcloud_sync.audio import UnsafePathError, render_template, safe_filename
from soundcloud_sync.audio.charts import playlist_chart_markdown, playlist_chart_png

HOSTILE = [
    "../../../etc/passwd",
    "/etc/shadow",
    "C:\\Windows\\System32\\evil",
    "..",
    ".",
    "...hidden",
    "CON",
    "nul.txt",
    "Com1",
    "LPT9.tar.gz",
    'what: a *track* ? "yes" <no> |pipe|',
    "trailing dots...",
    "trailing spaces   ",
    "tab\tnew\nline\x00nul\x1bescape\x7f",
    "x" * 300,
    "🎧" * 120,
    "👩🏽‍🎤" * 40,  # ZWJ sequences
    "e\u0301" * 150,  # combining accents
    "",
    "   ",
]
WINDOWS_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM\d|LPT\d)(\..*)?$", re.IGNORECASE)


def _assert_portable(name: str) -> None:
    assert name not in ("", ".", "..")
    assert not re.search(r'[\x00-\x1f\x7f/\\:*?"<>|]', name)
    assert not name.startswith(".")
    assert not name.endswith((".", " "))
    assert not WINDOWS_RESERVED.match(name)
    assert len(name.encode("utf-8")) <= 255
    name.encode("utf-8")  # valid UTF-8: no split characters


@pytest.mark.parametrize("title", HOSTILE)
@pytest.mark.parametrize("template", ["{artist} - {title}", "{title}", "{album}/{title}"])
def test_hostile_titles_give_safe_paths_inside_the_library(tmp_path, title, template):
    root = tmp_path / "library"
    path = safe_filename(template, {"artist": title, "title": title, "album": title}, root, "aiff")

    assert path.resolve().is_relative_to(root.resolve())
    assert path.suffix == ".aiff"
    for part in path.relative_to(root.resolve()).parts:
        _assert_portable(part)
        _assert_portable(part.removesuffix(".aiff"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"ok")  # the file system accepts it
    assert path.read_bytes() == b"ok"


def test_long_titles_are_cut_on_character_boundaries(tmp_path):
    path = safe_filename("{title}", {"title": "é" * 300}, tmp_path, "m4a")
    stem = path.stem
    assert set(stem) == {"é"}
    assert 150 <= len(stem.encode()) <= 180


def test_values_never_make_folders_but_the_template_may(tmp_path):
    assert render_template("{artist} - {title}", {"artist": "AC/DC", "title": "T"}) == ["AC_DC - T"]
    assert render_template("{album}/{title}", {"album": "Set", "title": "T"}) == ["Set", "T"]
    assert render_template("{title}", {}) == ["Unknown"]


def test_a_template_that_climbs_out_is_neutralised(tmp_path):
    path = safe_filename("../../{title}", {"title": "x"}, tmp_path)
    assert path.is_relative_to(tmp_path.resolve())


def test_a_symlink_out_of_the_library_is_refused(tmp_path):
    root = tmp_path / "library"
    root.mkdir()
    (root / "Set").symlink_to(tmp_path.parent)
    with pytest.raises(UnsafePathError, match="leaves the library"):
        safe_filename("{album}/{title}", {"album": "Set", "title": "x"}, root)


def test_bad_template_field_is_named(tmp_path):
    with pytest.raises(ValueError, match="bad field"):
        safe_filename("{title.__class__}", {"title": "x"}, tmp_path)


def test_playlist_chart_is_a_png_and_a_data_uri():
    png = playlist_chart_png(
        [124.0, 124.1, 128.0, 174.0, None], ["8A", "8A", "9B", None, "x"], "Set"
    )
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    md = playlist_chart_markdown([124.0], ["8A"], title="Set")
    match = re.fullmatch(r"!\[Set\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", md)
    assert match and base64.b64decode(match[1]).startswith(b"\x89PNG")
    assert playlist_chart_png([], []).startswith(b"\x89PNG")
