"""A local HTTP server for the NGSI-LD tests: it serves ``@context`` documents and receives notifications.

A real server on 127.0.0.1 (a free port), in a thread: ``GET`` of a path
given to :meth:`Receiver.serve` answers that document (and counts the
requests); ``POST`` to any path records the request (path, headers, JSON
body, arrival time) and answers 204, or the next status queued by
:meth:`Receiver.script` (a partner's endpoint failing, then recovering).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class Receiver:
    def __init__(self) -> None:
        self.documents: dict[str, tuple[int, bytes, str]] = {}
        self.gets: Counter[str] = Counter()
        self.posts: list[Received] = []
        self.answers: deque[int] = deque()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                with owner._lock:
                    owner.gets[self.path] += 1
                    found = owner.documents.get(self.path)
                status, body, media = found or (404, b"{}", "application/json")
                self.send_response(status)
                self.send_header("content-type", media)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                size = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(size)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with owner._lock:
                    owner.posts.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    status = owner.answers.popleft() if owner.answers else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def serve(
        self, path: str, document: Any, status: int = 200, media: str = "application/ld+json"
    ) -> str:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.documents[path] = (status, body, media)
        return self.base + path

    def script(self, *statuses: int) -> None:
        with self._lock:
            self.answers.extend(statuses)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [p for p in self.posts if path is None or p.path == path]

    def wait(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[Received]:
        """The posts received once there are ``count`` of them (what there is after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        return self.received(path)
