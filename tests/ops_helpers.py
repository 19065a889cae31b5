"""Helpers for the operations-centre tests: a Server-Sent Events reader over a live server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from app import auth


class SseClient:
    """Reads one ``text/event-stream`` response event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next_event(self) -> dict[str, Any]:
        fields: dict[str, str] = {}
        async for line in self.lines:
            if line == "":
                if "data" in fields:
                    event = json.loads(fields["data"])
                    event["sse_id"] = fields.get("id")
                    return event
                fields.clear()
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            fields[name] = fields.get(name, "") + value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def first_comment(self) -> str:
        while not self.comments:
            async for line in self.lines:
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    break
        return self.comments[0]


@contextlib.asynccontextmanager
async def sse(
    base_url: str, token: str, *, last_event_id: int | None = None, path: str = "/staff/ops/stream"
) -> AsyncIterator[SseClient]:
    headers = {"accept": "text/event-stream"}
    if last_event_id is not None:
        headers["last-event-id"] = str(last_event_id)
    async with (
        httpx.AsyncClient(
            base_url=base_url, cookies={auth.SESSION_COOKIE: token}, timeout=httpx.Timeout(30.0)
        ) as http,
        http.stream("GET", path, headers=headers) as response,
    ):
        assert response.status_code == 200, response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseClient(response)
