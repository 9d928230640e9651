"""File names from a template, safe on macOS, Windows and Linux.

Titles on SoundCloud contain anything: slashes, ``../``, emoji, 300 characters,
names Windows reserves. A file name made from them must be valid everywhere the
library may be synced to, and must never land outside the library folder.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_TEMPLATE = "{artist} - {title}"

# Room left for the extension, a " [id]" disambiguator and a temporary suffix within
# the 255-byte name limit of ext4/APFS/NTFS.
MAX_COMPONENT_BYTES = 180

_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_SPACES = re.compile(r"\s+")
_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
    *(f"COM{i}" for i in [*range(1, 10), "¹", "²", "³"]),
    *(f"LPT{i}" for i in [*range(1, 10), "¹", "²", "³"]),
}  # fmt: skip


class UnsafePathError(ValueError):
    """A path built from a template would leave the library folder."""


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` of UTF-8 without splitting a character.

    Combining marks and zero-width joiners left dangling at the cut are dropped too,
    so an emoji sequence is not left half-built.
    """
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    cut = data[:max_bytes].decode("utf-8", errors="ignore")
    while cut and (unicodedata.combining(cut[-1]) or cut[-1] in "\u200d\ufe0f"):
        cut = cut[:-1]
    return cut


def sanitize_component(value: str, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """One safe path component: no separators, control or reserved characters.

    Also no leading dots (hidden files, ``..``), no trailing dots or spaces (Windows
    drops them), not a Windows device name (``CON``, ``nul.txt``), never empty.
    """
    text = unicodedata.normalize("NFC", str(value))
    text = _FORBIDDEN.sub("_", text)
    text = _SPACES.sub(" ", text).strip()
    text = text.lstrip(".").strip()
    text = truncate_utf8(text, max_bytes).rstrip(" .")
    if not text:
        return "_"
    if text.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        text = f"_{text}"
    return text


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "Unknown"


def render_template(template: str, fields: Mapping[str, Any]) -> list[str]:
    """Format ``template`` into sanitized path components.

    ``/`` in the *template* makes sub-folders (``"{album}/{artist} - {title}"``);
    ``/`` in a *value* never does. Missing or empty fields read "Unknown".
    """
    values = _Fields({k: ("Unknown" if v in (None, "") else v) for k, v in fields.items()})
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"file name template {template!r}: bad field {{{name}}}")
    parts = [p for p in re.split(r"[/\\]", template) if p.strip()]
    if not parts:
        raise ValueError(f"file name template {template!r} is empty")
    safe_values = _Fields(
        {k: str(v).replace("/", "_").replace("\\", "_") for k, v in values.items()}
    )
    return [sanitize_component(part.format_map(safe_values)) for part in parts]


def safe_filename(
    template: str,
    fields: Mapping[str, Any],
    library_root: str | Path,
    ext: str | None = None,
) -> Path:
    """Absolute path inside ``library_root`` for a track, from ``template`` and ``fields``.

    ``ext`` (``"aiff"`` or ``".aiff"``) is appended to the last component. Raises
    UnsafePathError if the result would resolve outside ``library_root``.
    """
    root = Path(library_root).resolve()
    parts = render_template(template, fields)
    if ext:
        parts[-1] = f"{parts[-1]}.{ext.lstrip('.')}"
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root) or path == root:
        raise UnsafePathError(f"file name template {template!r} leaves the library {root}")
    return path
