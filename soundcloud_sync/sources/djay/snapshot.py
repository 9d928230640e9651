"""A consistent, private snapshot of a library djay may be writing.

djay keeps ``MediaLibrary.db`` in WAL mode. Opening it in place, even read-only, would
take shared locks and write read marks into its ``-shm`` file, and ``immutable=1``
would ignore the WAL and could read a file half-way through a checkpoint. So we copy
the database and its ``-wal`` into a private folder (plain reads: no lock, not a byte
changed) and open the copy, where SQLite replays the committed part of the WAL. If
either file changed while it was copied, the copy is taken again.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .models import DjayLibraryError

SQLITE_MAGIC = b"SQLite format 3\x00"
COPY_ATTEMPTS = 5


def _fingerprint(path: Path) -> tuple[tuple[int, int] | None, ...]:
    """(mtime, size) of the database and its WAL: what changes whenever djay writes."""
    result: list[tuple[int, int] | None] = []
    for part in (path, Path(f"{path}-wal")):
        try:
            st = part.stat()
        except FileNotFoundError:
            result.append(None)
        else:
            result.append((st.st_mtime_ns, st.st_size))
    return tuple(result)


def check_sqlite(path: Path) -> None:
    """Refuse, in one line, a path that is missing or is not an SQLite database."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise DjayLibraryError(path, "no such file") from None
    except IsADirectoryError:
        raise DjayLibraryError(path, "is a folder, not djay's MediaLibrary.db") from None
    except OSError as exc:
        raise DjayLibraryError(path, f"cannot be read ({exc.strerror})") from None
    if head != SQLITE_MAGIC:
        raise DjayLibraryError(path, "not an SQLite database (djay's MediaLibrary.db is one)")


@contextmanager
def open_snapshot(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a private copy of the library as it was at one moment."""
    check_sqlite(path)
    with tempfile.TemporaryDirectory(prefix="djay-snapshot-") as tmp:
        copy = Path(tmp) / "MediaLibrary.db"
        for attempt in range(COPY_ATTEMPTS):
            before = _fingerprint(path)
            shutil.copyfile(path, copy)
            wal = Path(f"{path}-wal")
            if before[1] is not None:
                # gone meanwhile: checkpointed and removed, and the fingerprint tells
                with contextlib.suppress(FileNotFoundError):
                    shutil.copyfile(wal, Path(f"{copy}-wal"))
            if _fingerprint(path) == before:
                break
            Path(f"{copy}-wal").unlink(missing_ok=True)
            time.sleep(0.1 * (attempt + 1))
        else:
            raise DjayLibraryError(
                path, f"djay kept writing it while it was copied ({COPY_ATTEMPTS} tries)"
            )
        conn = sqlite3.connect(copy)
        try:
            conn.execute("PRAGMA query_only = 1")
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.DatabaseError as exc:
                raise DjayLibraryError(path, f"damaged SQLite file ({exc})") from None
            yield conn
        finally:
            conn.close()
