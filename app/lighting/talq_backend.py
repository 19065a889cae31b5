"""The relay's TALQ backend: Eclor's light commands sent to a TALQ gateway as override commands.

:class:`TalqBackend` implements :class:`app.lighting.backend.LightingBackend`
(``connected``, ``run``, ``send``). The commands the relay hands over in one
round are sent together: those of one staff override (same level, ramp, expiry)
make one ``POST /override-commands``, addressed to the TALQ group when the
override is one of a group the gateway holds (``talq_groups``; the next rounds
of the same override, claimed right after, are covered by that one command),
else to each light's ``LampActuatorFunction`` (``talq_devices``). The
gateway's answer:

- 201 (processed): the commands are ``accepted``;
- 202 (accepted for processing): they stay ``sent`` until the gateway reports
  the command in effect (``PATCH /devices`` or a log report, see
  ``app.lighting.talq_gateways``), which ends them ``applied``;
- 400 / 422 (the gateway refuses the command): they end ``failed``;
- anything else, a timeout or no connection: the gateway is unavailable, the
  commands wait and are sent again (same ``cmsRefId``) until their expiry,
  after which the relay closes them ``expired``.

A light with no TALQ address cannot be reached through the gateway: its
command ends ``failed``. Every request goes through :func:`app.outbound.fetch`
(the outbound guard), over https with the gateway's CA when one is set.
"""

from __future__ import annotations

import asyncio
import logging
import time
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func
from sqlalchemy.engine import Engine
import sqlalchemy as sa
from sqlmodel import col, select

from app import outbound
from app.db import read_session, utcnow
from app.lighting import talq
from app.lighting.backend import BackendUnavailable, Inbound, OutgoingCommand
from app.models.lighting import LightOverride, Streetlight
from app.models.lighting_talq import TalqDevice, TalqGroup

log = logging.getLogger("eclor.lighting.talq")
GROUP_ROUND_S = 2.0
"""The commands of one group override claimed within this many seconds of its group command are
covered by it (the relay claims a large group in rounds of 500, milliseconds apart); later ones are
retries, and send it again."""


@dataclass(frozen=True)
class TalqLink:
    """How Eclor reaches its TALQ gateway (from the ``ECLOR_TALQ_*`` settings)."""

    url: str  # the gateway's TALQ API root, e.g. https://gw.example.org/talq/v2
    cms_address: str  # Eclor's address as a CMS (clientAddress)
    token: str = ""  # sent as Authorization: Bearer
    ca_file: str = ""  # PEM bundle that signs the gateway's certificate
    client_cert: str = ""  # PEM certificate (and key) when the gateway asks for one
    client_key: str = ""
    timeout_s: float = 10.0
    private_network: bool = False  # the gateway's host may be on a private address
    allow_loopback: bool = False  # development and tests only
    probe_s: float = 5.0  # how often an unavailable gateway is asked again

    @property
    def reach(self) -> outbound.Reach:
        host = urlsplit(self.url).hostname or ""
        return outbound.Reach(
            allow_loopback=self.allow_loopback,
            private_host=host if self.private_network else "",
        )

    def tls(self) -> ssl.SSLContext | bool:
        if not (self.ca_file or self.client_cert):
            return True
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if self.client_cert:
            context.load_cert_chain(self.client_cert, self.client_key or None)
        return context

    def headers(self) -> dict[str, str]:
        headers = {"talq-api-version": talq.API_VERSION, "accept": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        return headers


def request(link: TalqLink, method: str, path: str, body: Any = None) -> httpx.Response:
    """One TALQ request to the gateway through the outbound guard (blocking)."""
    params = talq.request_params(link.cms_address)
    if method == "GET":
        params.pop("talqRequestId")
    return outbound.fetch(
        method,
        link.url.rstrip("/") + path,
        reach=link.reach,
        timeout=link.timeout_s,
        verify=link.tls(),
        params=params,
        headers=link.headers(),
        json=body,
    )


@dataclass(frozen=True)
class _Where:
    light_id: str
    group_id: str | None
    target: talq.Target | None


def _where(
    engine: Engine, device_ids: Sequence[str], override_ids: Sequence[int] = ()
) -> tuple[dict[str, _Where], dict[str, Any], dict[int, str]]:
    """Each device's TALQ target, the TALQ groups (address, light count) of their groups, and the
    group each group override of ``override_ids`` is for."""
    found: dict[str, _Where] = {}
    groups: dict[str, Any] = {}
    group_overrides: dict[int, str] = {}
    with read_session(engine) as session:
        if override_ids:
            group_overrides = {
                int(override_id): target
                for override_id, target in session.execute(
                    sa.select(col(LightOverride.id), col(LightOverride.target_id)).where(
                        col(LightOverride.id).in_(list(override_ids)),
                        col(LightOverride.scope) == "group",
                    )
                ).all()
            }
        for part in range(0, len(device_ids), 500):
            for device_id, light_id, group_id, address, actuator in session.execute(
                sa.select(
                    col(Streetlight.device_id),
                    col(Streetlight.id),
                    col(Streetlight.group_id),
                    col(TalqDevice.device_address),
                    col(TalqDevice.actuator_function),
                )
                .outerjoin(TalqDevice, col(TalqDevice.light_id) == col(Streetlight.id))
                .where(col(Streetlight.device_id).in_(device_ids[part : part + 500]))
            ).all():
                target = talq.device_target(address, actuator) if address else None
                found[device_id] = _Where(light_id, group_id, target)
        group_ids = sorted(
            {w.group_id for w in found.values() if w.group_id} | set(group_overrides.values())
        )
        if group_ids:
            sizes = dict(
                session.execute(
                    select(col(Streetlight.group_id), func.count())
                    .where(col(Streetlight.group_id).in_(group_ids))
                    .group_by(col(Streetlight.group_id))
                ).all()
            )
            for group_id, address in session.execute(
                select(col(TalqGroup.group_id), col(TalqGroup.group_address)).where(
                    col(TalqGroup.group_id).in_(group_ids)
                )
            ).all():
                groups[group_id] = (address, sizes.get(group_id, 0))
    return found, groups, group_overrides


@dataclass
class _Pending:
    command: OutgoingCommand
    done: asyncio.Future[None]


class TalqBackend:
    """A TALQ gateway over HTTP(S), behind the relay's backend interface."""

    def __init__(self, link: TalqLink, engine: Engine, sink: Callable[[Inbound], None]) -> None:
        self.link = link
        self.engine = engine
        self.sink = sink
        self.connected = asyncio.Event()
        self.requests = 0  # override commands sent (for tests and the ops page)
        # Each round is answered by the gateway (no broker queue to keep under a window of
        # unanswered commands), and its feedback reaches the CMS API, not this process.
        self.windowed = False
        self._pending: list[_Pending] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self._group_sent: dict[tuple[Any, ...], float] = {}  # group commands just sent

    async def run(self, stop: asyncio.Event) -> None:
        """HTTP has no link to keep: the gateway is taken as reachable until a request fails,
        then asked (``GET /services``) every ``probe_s`` seconds until it answers."""
        self.connected.set()
        while not stop.is_set():
            if not self.connected.is_set():
                try:
                    answer = await asyncio.to_thread(request, self.link, "GET", "/services")
                    if answer.status_code < 500:
                        self.connected.set()
                except (httpx.HTTPError, outbound.NotPublic, outbound.AnswerTooLarge, OSError):
                    pass
            try:
                await asyncio.wait_for(stop.wait(), self.link.probe_s)
            except TimeoutError:
                pass

    async def send(self, command: OutgoingCommand) -> None:
        if (command.expires_at - utcnow()).total_seconds() <= 0:
            raise BackendUnavailable("expired")
        pending = _Pending(command, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        if len(self._pending) == 1:  # the relay hands a round over at once: one flush for it
            asyncio.get_running_loop().call_soon(self._start_flush)
        await pending.done

    def _start_flush(self) -> None:
        task = asyncio.ensure_future(self._flush())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            where, groups, group_overrides = await asyncio.to_thread(
                _where,
                self.engine,
                sorted({p.command.device_id for p in batch}),
                sorted({p.command.override_id for p in batch if p.command.override_id}),
            )
        except Exception as exc:  # the database is away: the commands wait
            for p in batch:
                p.done.set_exception(BackendUnavailable(str(exc)))
            return
        unmapped = [p for p in batch if where.get(p.command.device_id, _NOWHERE).target is None]
        for p in unmapped:
            self._answer(p.command, "rejected")
            p.done.set_result(None)
        batches: dict[tuple[Any, ...], list[_Pending]] = {}
        for p in batch:
            if p in unmapped:
                continue
            c = p.command
            key: tuple[Any, ...] = (c.override_id, c.level, c.ramp_s, c.reason, c.expires_at)
            if c.override_id is None:
                key = (c.command_id, *key)  # a program or sensor command goes on its own
            batches.setdefault(key, []).append(p)
        results = await asyncio.gather(
            *(self._send_batch(part, where, groups, group_overrides) for part in batches.values()),
            return_exceptions=True,
        )
        for part, result in zip(batches.values(), results, strict=True):
            if isinstance(result, BaseException):  # never leave the relay waiting
                log.error("sending TALQ override commands failed", exc_info=result)
                for p in part:
                    if not p.done.done():
                        p.done.set_exception(BackendUnavailable(str(result)))

    async def _send_batch(
        self,
        part: list[_Pending],
        where: dict[str, _Where],
        groups: dict[str, Any],
        group_overrides: dict[int, str],
    ) -> None:
        first = part[0].command
        per_group: dict[str, int] = {}
        for p in part:
            group_id = where[p.command.device_id].group_id
            if group_id:
                per_group[group_id] = per_group.get(group_id, 0) + 1
        whole = {g for g, n in per_group.items() if g in groups and groups[g][1] == n}
        overridden = group_overrides.get(first.override_id or 0)
        sent_key = (first.override_id, overridden, first.level)
        if overridden in groups:
            # An override of a group the gateway holds: one group command covers every light of it,
            # whichever relay round (500 commands at most) each light's command comes in.
            whole.add(overridden)
            stamp = self._group_sent.get(sent_key)
            if stamp is not None and time.monotonic() - stamp < GROUP_ROUND_S:
                covered = [p for p in part if where[p.command.device_id].group_id == overridden]
                for p in covered:
                    p.done.set_result(None)
                part = [p for p in part if p not in covered]
                whole.discard(overridden)
                if not part:
                    return
        targets = [talq.Target("groups", groups[g][0]) for g in sorted(whole)]
        for p in part:
            w = where[p.command.device_id]
            if w.group_id not in whole:
                assert w.target is not None
                targets.append(w.target)
        ref = (
            first.command_id
            if len(part) == 1 and first.override_id is None
            else f"eclor-override-{first.override_id}"
        )
        body = talq.override_command(
            targets,
            level=first.level,
            ramp_s=first.ramp_s,
            reason=first.reason,
            expires_at=first.expires_at,
            cms_ref=ref,
        )
        try:
            answer = await asyncio.to_thread(request, self.link, "POST", "/override-commands", body)
        except (httpx.HTTPError, outbound.NotPublic, outbound.AnswerTooLarge, OSError) as exc:
            log.warning("TALQ gateway unavailable: %s", exc)
            self.connected.clear()
            for p in part:
                p.done.set_exception(BackendUnavailable(str(exc) or type(exc).__name__))
            return
        self.requests += 1
        status = answer.status_code
        if overridden in whole and status in (200, 201, 202):
            self._group_sent[sent_key] = time.monotonic()
        if status in (200, 201, 202):
            for p in part:
                if status != 202:
                    self._answer(p.command, "accepted")
                p.done.set_result(None)
            return
        if status in (400, 404, 422):
            log.warning("TALQ gateway refused an override command (%s): %s", status, answer.text)
            for p in part:
                self._answer(p.command, "rejected")
                p.done.set_result(None)
            return
        for p in part:
            p.done.set_exception(BackendUnavailable(f"TALQ gateway answered {status}"))

    def _answer(self, command: OutgoingCommand, status: str) -> None:
        self.sink(
            Inbound(
                "ack",
                command.device_id,
                {"command_id": command.command_id, "status": status},
                utcnow(),
            )
        )


_NOWHERE = _Where("", None, None)


def talq_link(settings: Any) -> TalqLink:
    """The gateway link the settings describe."""
    return TalqLink(
        url=settings.talq_gateway_url,
        cms_address=settings.talq_cms_address_resolved,
        token=settings.talq_gateway_token,
        ca_file=str(settings.talq_ca_file or ""),
        client_cert=str(settings.talq_client_cert or ""),
        client_key=str(settings.talq_client_key or ""),
        timeout_s=settings.talq_timeout_s,
        private_network=settings.talq_gateway_private_network,
        allow_loopback=settings.outbound_allows_loopback,
    )
