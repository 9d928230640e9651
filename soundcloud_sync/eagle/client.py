"""A small client for the Eagle app's local API v1.

Eagle runs only while the app is open, and it does not deduplicate imports: the
same file imported twice is two items. So every import first looks for an item
in the playlist's folder whose ``url`` (Eagle's name for the ``website`` given at
import) is the track's SoundCloud URL, and imports only when there is none.
When Eagle is not running, calls answer a "not running" status instead of
raising, so a sync never fails for want of a desktop app.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import requests

DEFAULT_URL = "http://localhost:41595"
PAGE_SIZE = 5000

ImportStatus = Literal["imported", "existing", "not-running", "error"]


class EagleError(RuntimeError):
    """Eagle answered, but with an error (the message names the call and Eagle's reason)."""


class EagleNotRunning(EagleError):
    """Nothing answers at the Eagle URL."""


@dataclass(frozen=True)
class EagleStatus:
    running: bool
    url: str
    version: str | None = None
    message: str = ""


@dataclass(frozen=True)
class EagleImport:
    status: ImportStatus
    item_id: str | None = None
    folder_id: str | None = None
    reason: str | None = None


def track_tags(
    playlist: str | None = None,
    genre: str | None = None,
    key: str | None = None,
    camelot: str | None = None,
    tempo: float | None = None,
) -> list[str]:
    """Eagle tags for a track: playlist, genre, key (standard and Camelot), "124 BPM"."""
    tags = [playlist, genre, key, camelot, f"{round(tempo)} BPM" if tempo else None]
    return list(dict.fromkeys(t.strip() for t in tags if t and t.strip()))


class EagleClient:
    """``EagleClient(url).import_file(path, name=…, website=…, folder=…)``."""

    def __init__(self, url: str | None = None, timeout: float = 10.0) -> None:
        self.url = (url or DEFAULT_URL).rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._lock = threading.Lock()
        self._import_lock = threading.Lock()  # one find-then-add at a time: no twin imports
        self._folders: dict[tuple[str | None, str], str] = {}
        self._by_url: dict[str, dict[str, str]] = {}  # folder id -> {website: item id}

    # ----------------------------------------------------------------- transport
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._session.request(
                method, f"{self.url}{path}", timeout=self.timeout, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise EagleNotRunning(f"Eagle not running at {self.url}") from exc
        try:
            payload = response.json()
        except ValueError as exc:
            raise EagleError(f"Eagle {path}: HTTP {response.status_code}, not JSON") from exc
        if response.status_code >= 400 or payload.get("status") != "success":
            reason = payload.get("message") or payload.get("data") or f"HTTP {response.status_code}"
            raise EagleError(f"Eagle {path}: {reason}")
        return payload.get("data")

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> EagleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- status
    def status(self) -> EagleStatus:
        """Whether Eagle answers at ``url``, with its version; never raises."""
        try:
            info = self._call("GET", "/api/application/info") or {}
        except EagleNotRunning as exc:
            return EagleStatus(False, self.url, message=str(exc))
        except EagleError as exc:
            return EagleStatus(False, self.url, message=str(exc))
        version = info.get("version") if isinstance(info, dict) else None
        return EagleStatus(True, self.url, version, f"Eagle {version or ''} at {self.url}".strip())

    def is_running(self) -> bool:
        return self.status().running

    # ----------------------------------------------------------------- folders
    def folders(self) -> list[dict[str, Any]]:
        """Every folder, flattened from Eagle's tree (each keeps its ``children``)."""
        out: list[dict[str, Any]] = []
        stack = list(self._call("GET", "/api/folder/list") or [])
        while stack:
            folder = stack.pop(0)
            out.append(folder)
            stack.extend(folder.get("children") or [])
        return out

    def folder_id(self, name: str, parent_id: str | None = None) -> str:
        """Id of the folder called ``name`` (under ``parent_id``), created when missing."""
        key = (parent_id, name)
        with self._lock:
            if key in self._folders:
                return self._folders[key]
            if parent_id is None:
                candidates = list(self._call("GET", "/api/folder/list") or [])
            else:
                parent = next((f for f in self.folders() if f["id"] == parent_id), None)
                if parent is None:
                    raise EagleError(f"Eagle folder {parent_id} not found")
                candidates = parent.get("children") or []
            found = next((f["id"] for f in candidates if f.get("name") == name), None)
            if found is None:
                body: dict[str, Any] = {"folderName": name}
                if parent_id:
                    body["parent"] = parent_id
                found = self._call("POST", "/api/folder/create", json=body)["id"]
            self._folders[key] = found
            return found

    # ----------------------------------------------------------------- items
    def list_items(self, folder_id: str | None = None, **filters: str) -> list[dict[str, Any]]:
        """Items matching Eagle's list filters (``folders``, ``tags``, ``ext``, ``keyword``)."""
        params = dict(filters)
        if folder_id:
            params["folders"] = folder_id
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        offset = 0
        while True:
            page = self._call(
                "GET", "/api/item/list", params={**params, "limit": PAGE_SIZE, "offset": offset}
            )
            fresh = [i for i in page or [] if i.get("id") not in seen]
            items.extend(fresh)
            seen.update(i["id"] for i in fresh)
            if len(page or []) < PAGE_SIZE or not fresh:
                return items
            offset += PAGE_SIZE

    def _url_index(self, folder_id: str | None) -> dict[str, str]:
        key = folder_id or ""
        if key not in self._by_url:
            index: dict[str, str] = {}
            for item in self.list_items(folder_id):
                if item.get("url") and not item.get("isDeleted"):
                    index.setdefault(item["url"], item["id"])
            self._by_url[key] = index
        return self._by_url[key]

    def find_item(self, website: str, folder_id: str | None = None) -> str | None:
        """Id of the item in ``folder_id`` (None: the whole library) imported from ``website``."""
        return self._url_index(folder_id).get(website)

    def import_file(
        self,
        path: str | os.PathLike[str],
        *,
        name: str,
        website: str,
        folder: str | None = None,
        folder_id: str | None = None,
        tags: Iterable[str] = (),
        annotation: str | None = None,
    ) -> EagleImport:
        """Import ``path`` once into the folder ``folder`` (a name, found or created).

        Returns ``existing`` with the item id when an item from ``website`` is already
        there, ``not-running`` when Eagle does not answer, ``error`` with Eagle's reason.
        """
        try:
            target = folder_id or (self.folder_id(folder) if folder else None)
            with self._import_lock:
                return self._import(path, name, website, target, list(tags), annotation)
        except EagleNotRunning as exc:
            return EagleImport("not-running", reason=str(exc))
        except EagleError as exc:
            return EagleImport("error", reason=str(exc))

    def _import(
        self,
        path: str | os.PathLike[str],
        name: str,
        website: str,
        target: str | None,
        tags: list[str],
        annotation: str | None,
    ) -> EagleImport:
        existing = self.find_item(website, target)
        if existing:
            return EagleImport("existing", existing, target)
        body: dict[str, Any] = {
            "path": str(Path(path).resolve()),
            "name": name,
            "website": website,
            "tags": tags,
        }
        if annotation:
            body["annotation"] = annotation
        if target:
            body["folderId"] = target
        data = self._call("POST", "/api/item/addFromPath", json=body)
        item_id = data if isinstance(data, str) else None
        if item_id is None:
            # Older Eagle answers without the id: find the item we just made.
            self._by_url.pop(target or "", None)
            item_id = self.find_item(website, target)
        elif (target or "") in self._by_url:
            self._by_url[target or ""][website] = item_id
        return EagleImport("imported", item_id, target)
