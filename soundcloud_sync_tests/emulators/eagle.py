"""A local stand-in for the Eagle app's API v1 (http://localhost:41595), for tests.

Faithful to what external-apis.md records: answers ``{"status": "success", "data": …}``
(or ``{"status": "error", …}``), folders as a tree with ``children``, items whose
``url`` is the ``website`` given at import, list filters (keyword, ext, tags,
folders, limit, offset) and **no deduplication**: importing the same file twice makes
two items, as Eagle does. ``return_item_ids=False`` makes ``addFromPath`` answer
without the new id, as older Eagle versions do.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import string
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from soundcloud_sync_tests.emulators.base import BackgroundServer


def _eagle_id(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase + string.digits, k=13))


@dataclass
class EagleState:
    folders: list[dict[str, Any]] = field(default_factory=list)  # top level, nested children
    items: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


class EagleEmulator(BackgroundServer):
    """``with EagleEmulator() as eagle: eagle.url`` — a threaded local HTTP server."""

    def __init__(
        self, return_item_ids: bool = True, seed: int = 0, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.host, self.port = host, port
        self.state = EagleState()
        self.return_item_ids = return_item_ids
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EagleEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                emulator._handle(self, "GET")

            def do_POST(self) -> None:
                emulator._handle(self, "POST")

        return self._serve(ThreadingHTTPServer((self.host, self.port), Handler), "eagle-emulator")

    # ----------------------------------------------------------------- helpers
    def all_folders(self) -> list[dict[str, Any]]:
        def walk(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return list(itertools.chain.from_iterable([n, *walk(n["children"])] for n in nodes))

        return walk(self.state.folders)

    def items_with_url(self, url: str) -> list[dict[str, Any]]:
        return [i for i in self.state.items if i["url"] == url]

    # ----------------------------------------------------------------- HTTP
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(handler.path)
        with self._lock:
            self.state.requests.append((method, parsed.path))
        body: dict[str, Any] = {}
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                return self._send(handler, 400, {"status": "error", "message": "invalid JSON"})
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        route = {
            ("GET", "/api/application/info"): self._info,
            ("GET", "/api/folder/list"): self._folder_list,
            ("POST", "/api/folder/create"): self._folder_create,
            ("POST", "/api/item/addFromPath"): self._add_from_path,
            ("POST", "/api/item/addFromPaths"): self._add_from_paths,
            ("GET", "/api/item/list"): self._item_list,
            ("GET", "/api/item/info"): self._item_info,
            ("POST", "/api/item/update"): self._item_update,
        }.get((method, parsed.path))
        if route is None:
            return self._send(handler, 404, {"status": "error", "message": "Not Found"})
        with self._lock:
            code, payload = route(query if method == "GET" else body)
        self._send(handler, code, payload)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _ok(data: Any = None) -> tuple[int, dict[str, Any]]:
        return 200, ({"status": "success"} if data is None else {"status": "success", "data": data})

    @staticmethod
    def _error(message: str) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "error", "message": message}

    def _info(self, _: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._ok(
            {"version": "3.0.0", "prereleaseVersion": None, "buildVersion": "emulator",
             "execPath": "/Applications/Eagle.app", "platform": "darwin"}
        )  # fmt: skip

    def _folder_list(self, _: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._ok(json.loads(json.dumps(self.state.folders)))

    def _folder_create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = body.get("folderName")
        if not name:
            return self._error("folderName is required")
        folder = {
            "id": _eagle_id(self._rng), "name": name, "description": "", "children": [],
            "modificationTime": int(time.time() * 1000), "tags": [], "imageCount": 0,
            "images": [], "folders": [], "imagesMappings": {}, "isExpand": True,
        }  # fmt: skip
        parent_id = body.get("parent")
        if parent_id:
            parent = next((f for f in self.all_folders() if f["id"] == parent_id), None)
            if parent is None:
                return self._error(f"parent folder {parent_id} not found")
            parent["children"].append(folder)
        else:
            self.state.folders.append(folder)  # Eagle allows duplicate names
        return self._ok({k: v for k, v in folder.items() if k != "imageCount"})

    def _add_one(self, spec: dict[str, Any], folder_id: str | None) -> str | tuple[int, dict]:
        path, name = spec.get("path"), spec.get("name")
        if not path or not name:
            return self._error("path and name are required")
        if not Path(path).is_file():
            return self._error(f"file not found: {path}")
        if folder_id and not any(f["id"] == folder_id for f in self.all_folders()):
            return self._error(f"folder {folder_id} not found")
        item_id = _eagle_id(self._rng)
        now = int(time.time() * 1000)
        self.state.items.append(
            {"id": item_id, "name": name, "size": Path(path).stat().st_size,
             "ext": Path(path).suffix.lstrip(".").lower(), "tags": list(spec.get("tags") or []),
             "folders": [folder_id] if folder_id else [], "isDeleted": False,
             "url": spec.get("website") or "", "annotation": spec.get("annotation") or "",
             "modificationTime": now, "lastModified": now, "width": 0, "height": 0,
             "palettes": []}
        )  # fmt: skip
        return item_id

    def _add_from_path(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        result = self._add_one(body, body.get("folderId"))
        if isinstance(result, tuple):
            return result
        return self._ok(result if self.return_item_ids else None)

    def _add_from_paths(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for spec in body.get("items") or []:
            result = self._add_one(spec, body.get("folderId"))
            if isinstance(result, tuple):
                return result
        return self._ok()

    def _item_list(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        items = [i for i in self.state.items if not i["isDeleted"]]
        if query.get("keyword"):
            kw = query["keyword"].lower()
            items = [i for i in items if kw in i["name"].lower() or kw in i["annotation"].lower()]
        if query.get("ext"):
            items = [i for i in items if i["ext"] == query["ext"].lower()]
        if query.get("tags"):
            wanted = {t.strip() for t in query["tags"].split(",") if t.strip()}
            items = [i for i in items if wanted <= set(i["tags"])]
        if query.get("folders"):
            wanted = {f.strip() for f in query["folders"].split(",") if f.strip()}
            items = [i for i in items if wanted & set(i["folders"])]
        offset = int(query.get("offset") or 0)
        limit = int(query.get("limit") or 200)
        return self._ok(json.loads(json.dumps(items[offset : offset + limit])))

    def _item_info(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        item = next((i for i in self.state.items if i["id"] == query.get("id")), None)
        return self._ok(dict(item)) if item else self._error(f"item {query.get('id')} not found")

    def _item_update(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        item = next((i for i in self.state.items if i["id"] == body.get("id")), None)
        if item is None:
            return self._error(f"item {body.get('id')} not found")
        for key in ("tags", "annotation", "url", "star"):
            if key in body:
                item[key] = body[key]
        return self._ok(dict(item))


def main(argv: list[str] | None = None) -> int:
    """``python -m soundcloud_sync_tests.emulators.eagle --port 41595``: for offline demos."""
    import argparse

    parser = argparse.ArgumentParser(description="Eagle API v1 emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=41595)
    args = parser.parse_args(argv)
    with EagleEmulator(host=args.host, port=args.port) as eagle:
        print(f"Eagle emulator at {eagle.url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
