"""Files: written so a reader (a DJ program, another process) never sees half of one,
and what tells that the code in a folder changed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    A program reading the file sees the old version or the new one, never a mix, and
    a crash mid-write leaves the old one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def python_files_identity(folder: Path) -> tuple[tuple[str, int], ...]:
    """Every Python file under ``folder`` with its mtime: it changes whenever the code
    there does (an edit, a `git pull`, an upgrade), and costs a stat per file to read."""
    return tuple((str(p), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*.py")))
