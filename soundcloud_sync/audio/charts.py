"""A picture a DJ wants of a playlist: tempo histogram and keys on the Camelot wheel.

Rendered with matplotlib's Agg backend (no display needed) to PNG bytes, or to a
data-URI markdown image that Dagster's UI shows inline in materialization metadata.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

CAMELOT_RE = re.compile(r"^(1[0-2]|[1-9])([AB])$")


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(10, 4.6), dpi=100, layout="constrained")


def playlist_chart_png(
    tempos: Iterable[float | None],
    camelot_keys: Iterable[str | None],
    title: str | None = None,
) -> bytes:
    """PNG bytes: tempo histogram (left) and Camelot-wheel key counts (right)."""
    bpm = np.array([t for t in tempos if t], dtype=float)
    keys = Counter(k for k in camelot_keys if k and CAMELOT_RE.match(k))

    fig = _figure()
    ax_t = fig.add_subplot(1, 2, 1)
    if len(bpm):
        # 2-BPM bins on even numbers: the steps a DJ can pitch between without artefacts
        lo, hi = 2 * np.floor(bpm.min() / 2) - 2, 2 * np.ceil(bpm.max() / 2) + 4
        ax_t.hist(bpm, bins=np.arange(lo, hi, 2.0), color="#ff5500", edgecolor="white")
        ax_t.axvline(float(np.median(bpm)), color="#333", linestyle="--", linewidth=1)
        ax_t.set_title(f"Tempo (median {np.median(bpm):.1f} BPM, n={len(bpm)})")
    else:
        ax_t.set_title("Tempo (no tracks analysed)")
    ax_t.set_xlabel("BPM")
    ax_t.set_ylabel("tracks")
    ax_t.yaxis.get_major_locator().set_params(integer=True)

    ax_k = fig.add_subplot(1, 2, 2, projection="polar")
    _camelot_wheel(ax_k, keys)
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _camelot_wheel(ax, keys: Counter[str]) -> None:
    """Two rings of 12 wedges (outer B = major, inner A = minor), 12 at the top."""
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    width = 2 * np.pi / 12
    most = max(keys.values(), default=0) or 1
    for ring, (letter, bottom) in enumerate((("B", 1.0), ("A", 0.45))):
        for n in range(1, 13):
            count = keys.get(f"{n}{letter}", 0)
            theta = (n % 12) * width
            shade = 0.12 + 0.88 * count / most if count else 0.05
            color = (1.0, 0.33, 0.0, shade) if ring == 0 else (0.1, 0.35, 0.85, shade)
            ax.bar(theta, 0.5, width=width * 0.96, bottom=bottom, color=color, edgecolor="white")
            label = f"{n}{letter}" + (f"\n{count}" if count else "")
            ax.text(theta, bottom + 0.25, label, ha="center", va="center", fontsize=7)
    ax.set_ylim(0, 1.5)
    ax.set_axis_off()
    ax.set_title(f"Keys on the Camelot wheel (n={sum(keys.values())})")


def png_markdown(png: bytes, alt: str = "chart") -> str:
    """A data-URI markdown image (Dagster's UI renders it inline)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def playlist_chart_markdown(
    tempos: Iterable[float | None], camelot_keys: Iterable[str | None], title: str | None = None
) -> str:
    """``playlist_chart_png`` as markdown, ready for ``MetadataValue.md``."""
    return png_markdown(playlist_chart_png(tempos, camelot_keys, title), alt=title or "playlist")


def cached_chart_markdown(
    tempos: Iterable[float | None],
    camelot_keys: Iterable[str | None],
    title: str,
    cache_dir: Path,
) -> str:
    """``playlist_chart_markdown``, drawn again only when the values changed.

    Drawing costs ~0.7 CPU-seconds (matplotlib's import and the PNG) on every run that
    has measured tracks, an unchanged re-sync included; one file per playlist (``title``)
    keeps the last picture with the digest of what it shows.
    """
    from ..files import write_atomic

    tempos, camelot_keys = list(tempos), list(camelot_keys)
    values = json.dumps([title, [t and round(float(t), 2) for t in tempos], camelot_keys])
    digest = hashlib.sha256(values.encode()).hexdigest()
    path = cache_dir / f"{hashlib.sha256(title.encode()).hexdigest()[:20]}.md"
    try:
        known, markdown = path.read_text().split("\n", 1)
        if known == digest:
            return markdown
    except (OSError, ValueError):
        pass
    markdown = playlist_chart_markdown(tempos, camelot_keys, title)
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, f"{digest}\n{markdown}".encode())
    return markdown
