"""Live changes for the dashboard's maps: a hub participant feeding server-sent events.

:class:`LiveFeed` is registered on the hub (``svc.hub.add_participant``): after every commit it
sees the changes and hands each connected listener those of its tenant that the listener's
actor may read (the hub's access rule: ``access.read_scope`` of the tenant as committed, so a
partner hears of its own entities and the types the city shares with partners, the public of
its open-data types). An event names the entity, its types, the change and when it was made,
never values: the page reads the entities again through the NGSI-LD API with its own
credentials. A listener that falls behind gets one ``resync`` event instead of the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from qala.hub import DEFAULT_TENANT, Actor, Change, RowBatch, Tenant, WriteContext, access
from qala.jsonld.compiled import CompiledContext

#: Events a listener may hold before it is told to resynchronise instead.
QUEUE_SIZE = 2000
#: Seconds between comments that keep an idle stream open through proxies.
HEARTBEAT = 15.0


@dataclass(eq=False)
class Listener:
    """One browser's stream: its tenant, who it is, the context its names are compacted with,
    and the types it asked for (empty: every type it may read)."""

    tenant: str
    actor: Actor
    context: CompiledContext
    types: frozenset[str] = frozenset()
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    behind: bool = False

    def offer(self, event: dict[str, Any]) -> None:
        if self.behind:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.behind = True
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    self.queue.get_nowait()
            self.queue.put_nowait({"event": "resync"})


class LiveFeed:
    """The participant: no rows of its own; after the commit, events to the listeners."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def rows_for(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> list[RowBatch]:
        return []

    async def after_commit(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> None:
        name = tenant.name or DEFAULT_TENANT
        for listener in tuple(self._listeners):
            if listener.tenant != name:
                continue
            scope = access.read_scope(listener.actor, tenant)
            for change in changes:
                entity = change.after or change.before
                if entity is None:
                    continue
                if scope is not None and not scope.matches(entity):
                    continue
                if listener.types and not listener.types.intersection(entity.types):
                    continue
                listener.offer(
                    {
                        "event": "change",
                        "id": change.entity_id,
                        "type": [listener.context.compact(t) for t in entity.types],
                        "kind": change.kind,
                        "at": ctx.now_iso,
                    }
                )

    def listen(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def forget(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    async def stream(self, listener: Listener, duration: float) -> AsyncIterator[bytes]:
        """The listener's events as ``text/event-stream`` for ``duration`` seconds; the page
        reconnects when the stream ends (before the server's request timeout would cut it)."""
        self.listen(listener)
        loop = asyncio.get_running_loop()
        until = loop.time() + duration
        try:
            yield b"retry: 1000\n\n"
            yield _event({"event": "ready"})
            while (left := until - loop.time()) > 0:
                try:
                    event = await asyncio.wait_for(listener.queue.get(), min(HEARTBEAT, left))
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                batch = [event]
                while not listener.queue.empty() and len(batch) < 500:
                    batch.append(listener.queue.get_nowait())
                listener.behind = False
                for item in batch:
                    yield _event(item)
        finally:
            self.forget(listener)


def _event(item: dict[str, Any]) -> bytes:
    kind = item.get("event", "message")
    data = {k: v for k, v in item.items() if k != "event"}
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
