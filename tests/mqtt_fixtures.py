"""Reusable MQTT fixtures and helpers for Eclor's tests.

* ``embedded_broker``: one :class:`app.mqtt_broker.EmbeddedBroker` in a thread
  for the whole test session.
* ``mqtt_url``: the broker tests talk to: ``ECLOR_TEST_MQTT_URL`` when set
  (Mosquitto in CI), else the embedded broker.
* ``topic_prefix``: a prefix no other test (or parallel run on a shared
  broker) uses.
* :func:`unique_client_id`, :func:`mqtt_client`, :class:`Inbox` and
  :func:`run_async` for tests written as plain functions around ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiomqtt
import pytest

from app.mqtt_broker import BrokerThread, start_in_thread

T = TypeVar("T")

TEST_MQTT_URL_ENV = "ECLOR_TEST_MQTT_URL"


@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[BrokerThread]:
    """An embedded broker on a free loopback port, shared by the session."""
    handle = start_in_thread()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def mqtt_url(request: pytest.FixtureRequest) -> str:
    """``ECLOR_TEST_MQTT_URL`` when set, else the URL of the embedded broker."""
    external = os.environ.get(TEST_MQTT_URL_ENV)
    if external:
        return external
    broker: BrokerThread = request.getfixturevalue("embedded_broker")
    return broker.url


@pytest.fixture
def topic_prefix() -> Iterator[str]:
    """A topic prefix unique to this test.

    On an external broker, the retained messages left under it are cleared at the end.
    """
    prefix = f"eclor-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    external = os.environ.get(TEST_MQTT_URL_ENV)
    if external:
        # In its own thread: a browser test's Playwright keeps an event loop running in this one.
        cleaner = threading.Thread(target=lambda: asyncio.run(clear_retained(external, prefix)))
        cleaner.start()
        cleaner.join(30)


async def clear_retained(url: str, prefix: str, settle: float = 0.2) -> int:
    """Delete every retained message under ``prefix/``; return how many there were."""
    topics: set[str] = set()
    async with mqtt_client(url) as client:
        await client.subscribe(f"{prefix}/#")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settle):
                async for message in client.messages:
                    if message.retain and message.payload:
                        topics.add(str(message.topic))
        for topic in topics:
            await client.publish(topic, b"", qos=1, retain=True)
    return len(topics)


def unique_client_id(label: str = "client") -> str:
    """A client id no other test uses (shared brokers take over duplicate ids)."""
    return f"eclor-test-{label}-{uuid.uuid4().hex[:10]}"


def run_async(coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    """Run ``coro`` on a fresh event loop, failing the test after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def mqtt_client(
    url: str,
    *,
    identifier: str | None = None,
    v5: bool = True,
    **options: Any,
) -> aiomqtt.Client:
    """An aiomqtt client for ``mqtt://host:port`` (MQTT 5 unless ``v5=False``)."""
    parts = urlsplit(url)
    return aiomqtt.Client(
        parts.hostname or "127.0.0.1",
        parts.port or 1883,
        identifier=identifier or unique_client_id(),
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        **options,
    )


class Inbox:
    """Collects the messages a client receives, to wait for the ones a test expects."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self._by_topic: dict[str, list[aiomqtt.Message]] = {}
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def _collect(self) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in self.client.messages:
                async with self._changed:
                    self.messages.append(message)
                    self._by_topic.setdefault(str(message.topic), []).append(message)
                    self._changed.notify_all()

    def start(self) -> None:
        self._task = asyncio.create_task(self._collect())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def on(self, topic: str) -> list[aiomqtt.Message]:
        """Messages received so far on exactly ``topic``."""
        return list(self._by_topic.get(topic, ()))

    def json_on(self, topic: str) -> list[Any]:
        """Decoded JSON payloads received so far on ``topic``."""
        return [json.loads(m.payload) for m in self.on(topic)]

    async def wait_for(
        self, predicate: Callable[[list[aiomqtt.Message]], bool], timeout: float = 5.0
    ) -> list[aiomqtt.Message]:
        """Wait until ``predicate(messages)`` holds; raise TimeoutError otherwise."""

        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self.messages))

        await asyncio.wait_for(until(), timeout)
        return self.messages

    async def wait_count(
        self, topic: str, count: int, timeout: float = 5.0
    ) -> list[aiomqtt.Message]:
        """Wait until ``count`` messages arrived on ``topic``; return them."""
        await self.wait_for(lambda _: len(self._by_topic.get(topic, ())) >= count, timeout)
        return self.on(topic)


@contextlib.asynccontextmanager
async def subscribed_inbox(
    url: str, topic_filter: str, *, qos: int = 1, **options: Any
) -> AsyncIterator[Inbox]:
    """A connected MQTT 5 client subscribed to ``topic_filter`` and collecting messages."""
    async with mqtt_client(url, **options) as client:
        await client.subscribe(topic_filter, qos=qos)
        inbox = Inbox(client)
        inbox.start()
        try:
            yield inbox
        finally:
            await inbox.close()
