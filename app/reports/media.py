"""Photos an Open311 partner gives by ``media_url``: fetched by the worker, kept as the report's own.

The fetch goes through ``app.outbound`` (public https addresses only, checked
again when connecting; at most the upload size read), and the picture is
checked and re-encoded like any upload. A URL that does not give a picture is
noted on the report (staff see it) and never retried; a server that does not
answer is retried later.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from app import images, outbound
from app.db import write_session
from app.jobs import JobContext, RetryLater, enqueue
from app.models.reports import Report, ReportEvent, ReportPhoto
from sqlmodel import Session

KIND = "reports.media"
TIMEOUT_S = 20


def queue(session: Session, report_id: int, url: str) -> None:
    enqueue(
        session,
        KIND,
        {"report_id": report_id, "url": url},
        dedupe_key=f"{KIND}:{report_id}:{url[:300]}",
        max_attempts=5,
    )


def usable_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and bool(parts.hostname) and len(url) <= 500


def _note(ctx: JobContext, report_id: int, text: str) -> None:
    with write_session(ctx.engine) as session:
        if session.get(Report, report_id) is not None:
            session.add(ReportEvent(report_id=report_id, kind="note", public=False, text=text))


def _keep(ctx: JobContext, report_id: int, photo: images.ProcessedPhoto) -> None:
    media_dir = ctx.settings.resolved_media_dir
    stored = images.save(photo, media_dir)
    with write_session(ctx.engine) as session:
        if session.get(Report, report_id) is None:
            return
        session.add(
            ReportPhoto(
                report_id=report_id,
                kind="overview",
                display_name=stored.display_name,
                thumb_name=stored.thumb_name,
                width=photo.width,
                height=photo.height,
                sha256=photo.sha256,
            )
        )


async def fetch(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The ``reports.media`` job: fetch ``url`` and keep it as a photo of ``report_id``."""
    report_id, url = int(payload["report_id"]), str(payload["url"])
    settings = ctx.settings
    allow_loopback = settings.outbound_allows_loopback
    limit = settings.max_upload_bytes
    try:
        outbound.check_host(urlsplit(url).hostname or "", allow_loopback=allow_loopback)
    except outbound.NotPublic as exc:
        await asyncio.to_thread(_note, ctx, report_id, f"media_url refusée ({exc}) : {url}")
        return
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(
            connector=outbound.connector(allow_loopback=allow_loopback), timeout=timeout
        ) as client:
            async with client.get(url, allow_redirects=False) as response:
                status = response.status
                data = await outbound.read_capped(response, limit + 1)
    except outbound.NotPublic as exc:
        await asyncio.to_thread(_note, ctx, report_id, f"media_url refusée ({exc}) : {url}")
        return
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RetryLater(600, f"media_url not reached: {exc}") from None
    if status >= 500:
        raise RetryLater(600, f"media_url answered {status}")
    if status != 200:
        await asyncio.to_thread(_note, ctx, report_id, f"media_url : réponse {status} : {url}")
        return
    try:
        photo = await asyncio.to_thread(images.process, data, max_bytes=limit)
    except images.ImageRejected as exc:
        await asyncio.to_thread(
            _note, ctx, report_id, f"media_url sans image utilisable ({exc.message}) : {url}"
        )
        return
    await asyncio.to_thread(_keep, ctx, report_id, photo)
