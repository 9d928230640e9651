"""Catalog tables as plain rows."""

from __future__ import annotations

from typing import Any

import pandas as pd


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python dicts (NaN becomes None, numpy ints become int)."""
    if frame.empty:
        return []
    plain = frame.astype(object)
    return plain.where(plain.notna(), None).to_dict(orient="records")
