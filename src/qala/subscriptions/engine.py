"""The notification engine: the outbox participant, the subscription cache and the delivery
worker.

* **Outbox.** :class:`OutboxParticipant` is a hub participant: inside every write transaction it
  matches the changes against the tenant's cached subscriptions and returns outbox rows holding
  the rendered entities, so a notification is committed with the change it reports (never
  lost, never showing a later state) or not at all.
* **Cache.** Each process keeps every tenant's subscriptions compiled in memory
  (:class:`~qala.subscriptions.matching.TenantIndex`). A change through this process's API
  replaces the tenant's index before the response is sent; changes made by other processes are
  noticed by polling the per-tenant version counters (``notification_poll_interval``).
* **Delivery.** After a commit the participant wakes the worker. Each subscription with pending
  rows gets its own task, which takes the subscription's delivery lease (one sender across all
  processes, rows sent in order), sends the rows in batches and deletes them only after the
  endpoint accepted them (2xx, or an MQTT broker's acknowledgement). Failures are retried with
  exponential backoff; a slow or dead endpoint holds up only its own subscription. A poll loop
  picks up what is due without a wake-up: retries, rows left by a restart or by another
  process, periodic (``timeInterval``) subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from typing import Any

import orjson

from qala.hub import Change, RowBatch, Tenant, WriteContext
from qala.hub.model import now_us, us_to_iso
from qala.hub.query import EntityQuery
from qala.ngsild.linked import Linker
from qala.ngsild.render import render_entity
from qala.services import Services
from qala.subscriptions.matching import (
    LINKS,
    TenantIndex,
    collapse,
    matches,
    notification_item,
    with_links,
)
from qala.subscriptions.model import CompiledSubscription, compile_subscription
from qala.subscriptions.repository import Repository
from qala.subscriptions.senders import Outcome, Senders, notification_document, notification_id

log = logging.getLogger("qala.subscriptions")

_WOKEN = "qala.subscriptions.woken"
LEASE_US = 60_000_000
#: How long a delivery task waits for more rows before giving its lease back.
IDLE_SECONDS = 2.0
#: Outbox rows sent together in one notification when a backlog builds up.
BATCH_ROWS = 50
#: Periodic notifications report at most this many entities per period.
PERIODIC_MAX_ENTITIES = 100_000
ORPHAN_SWEEP_SECONDS = 30.0

Key = tuple[int, str]


class OutboxParticipant:
    """Writes the notifications a change causes into the outbox, in the change's transaction."""

    def __init__(self, engine: SubscriptionEngine) -> None:
        self.engine = engine

    def rows_for(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> list[RowBatch]:
        if not changes:
            return []
        index = self.engine.indexes.get(tenant.id)
        if index is None or not index.reacts:
            return []
        now = ctx.now_us
        found: dict[str, list[dict[str, Any]]] = {}
        for change in collapse(changes):
            for sub in index.candidates(change):
                if not sub.active_at(now):
                    continue
                try:
                    if not matches(sub, change):
                        continue
                    item = notification_item(sub, change, now)
                except Exception:  # one broken subscription must not block the city's writes
                    log.exception("subscription %s failed to match %s", sub.id, change.entity_id)
                    continue
                found.setdefault(sub.id, []).append(item)
        if not found:
            return []
        size = max(1, self.engine.max_entities)
        rows = []
        for sub_id, data in found.items():
            for start in range(0, len(data), size):
                payload = orjson.dumps(data[start : start + size]).decode()
                rows.append((tenant.id, sub_id, now, payload))
        ctx.extra[_WOKEN] = [(tenant.id, sub_id) for sub_id in found]
        return [Repository.outbox_batch(rows)]

    async def after_commit(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> None:
        for key in ctx.extra.get(_WOKEN, ()):
            self.engine.wake(key)


class SubscriptionEngine:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        settings = svc.settings
        self.repo = Repository(svc.store)
        self.max_terms = settings.max_query_terms
        self.max_entities = settings.notification_max_entities
        self.poll = settings.notification_poll_interval
        self.retry_base = settings.notification_retry_base
        self.retry_max = settings.notification_retry_max
        self.indexes: dict[int, TenantIndex] = {}
        self.versions: dict[int, int] = {}
        self.tenant_names: dict[int, str] = {}
        # Compiled subscriptions by (tenant, id), with the definition they were compiled from:
        # a refresh recompiles only what changed.
        self._compiled: dict[tuple[int, str], tuple[bytes, CompiledSubscription]] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.senders = Senders(
            timeout=settings.notification_timeout,
            allow_local=settings.allow_local_endpoints,
            concurrency=settings.notification_concurrency,
        )
        self.participant = OutboxParticipant(self)
        self._sem = asyncio.Semaphore(settings.notification_concurrency)
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._events: dict[Key, asyncio.Event] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: dict[int, asyncio.Task[None]] = {}
        self._kick = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_sweep = 0.0

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self.tenant_names = await self.repo.tenant_names()
        for tenant_id, version in (await self.repo.versions()).items():
            await self.refresh_tenant(tenant_id, version)
        self._loop_task = asyncio.create_task(self._run(), name="qala-notifications")

    async def stop(self) -> None:
        self._stopping = True
        for timer in self._timers.values():
            timer.cancel()
        tasks = [
            t
            for t in [self._loop_task, *self._tasks.values(), *self._queued.values()]
            if t is not None
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.repo.release_all(self.owner)
        await self.senders.close()

    # -- the subscription cache -------------------------------------------------------------

    async def refresh_tenant(self, tenant_id: int, version: int | None = None) -> None:
        """Reload one tenant's subscriptions into a new index (then swap it in); return once a
        reload that began after this call has finished.

        Callers arriving while a reload is queued (waiting for the one in progress) share it:
        it begins after all their changes were committed, so it serves them all. Under many
        concurrent subscription changes a change then waits for at most two reloads, not for
        one per change queued before it. The reload runs in its own task: a caller that goes
        away (a cancelled request) does not cancel it for the others.
        """
        queued = self._queued.get(tenant_id)
        if queued is None:
            queued = asyncio.create_task(
                self._reload_after_current(tenant_id, version), name="qala-subscriptions-reload"
            )
            queued.add_done_callback(_log_failure)
            self._queued[tenant_id] = queued
        await asyncio.shield(queued)

    async def _reload_after_current(self, tenant_id: int, version: int | None) -> None:
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            # From here on, a new caller's change may be missed by this reload: it queues
            # the next one.
            self._queued.pop(tenant_id, None)
            if version is None:
                version = (await self.repo.versions()).get(tenant_id, 0)
            if tenant_id not in self.tenant_names:
                self.tenant_names = await self.repo.tenant_names()
            name = self.tenant_names.get(tenant_id, "")
            compiled = []
            seen: set[tuple[int, str]] = set()
            for stored in await self.repo.of_tenant(tenant_id):
                key = (tenant_id, stored.id)
                seen.add(key)
                definition = orjson.dumps(stored.body, option=orjson.OPT_SORT_KEYS)
                cached = self._compiled.get(key)
                if cached is not None and cached[0] == definition:
                    compiled.append(cached[1])
                    continue
                try:
                    sub = await self.compile(tenant_id, name, stored.body)
                except Exception:
                    log.exception("subscription %s of tenant %r cannot be loaded", stored.id, name)
                    continue
                self._compiled[key] = (definition, sub)
                compiled.append(sub)
            for key in [k for k in self._compiled if k[0] == tenant_id and k not in seen]:
                del self._compiled[key]
            self.indexes[tenant_id] = TenantIndex.build(compiled)
            self.versions[tenant_id] = version

    async def compile(
        self, tenant_id: int, tenant_name: str, doc: dict[str, Any]
    ) -> CompiledSubscription:
        resolver = self.svc.contexts
        ctx = await resolver.compile(doc.get("@context") or None)
        notify_ctx = ctx
        if "jsonldContext" in doc:
            notify_ctx = await resolver.compile([doc["jsonldContext"]])
        return compile_subscription(
            tenant_id, tenant_name, doc, ctx, notify_ctx, max_terms=self.max_terms
        )

    async def subscription(self, tenant_id: int, sub_id: str) -> CompiledSubscription | None:
        index = self.indexes.get(tenant_id)
        sub = index.subs.get(sub_id) if index is not None else None
        if sub is None:
            await self.refresh_tenant(tenant_id)
            index = self.indexes.get(tenant_id)
            sub = index.subs.get(sub_id) if index is not None else None
        return sub

    async def _refresh_changed(self) -> None:
        for tenant_id, version in (await self.repo.versions()).items():
            if self.versions.get(tenant_id) != version:
                await self.refresh_tenant(tenant_id, version)

    # -- delivery ---------------------------------------------------------------------------

    def wake(self, key: Key, stale_owner: str | None = None) -> None:
        """Make sure ``key``'s pending notifications are being sent."""
        if self._stopping:
            return
        event = self._events.get(key)
        if event is not None:
            event.set()
            return
        self._events[key] = asyncio.Event()
        self._tasks[key] = asyncio.create_task(
            self._deliver(key, stale_owner), name=f"qala-notify-{key[1]}"
        )

    def _wake_at(self, key: Key, at_us: int) -> None:
        if self._stopping:
            return
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        # A little late rather than early: the lease is claimed only once it is due.
        delay = max(0.0, (at_us - now_us()) / 1_000_000) + 0.002
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(key, None)
            self.wake(key)

        self._timers[key] = loop.call_later(delay, fire)

    def backoff_us(self, failures: int) -> int:
        delay = min(self.retry_base * 2 ** max(0, failures - 1), self.retry_max)
        return int(delay * random.uniform(0.9, 1.1) * 1_000_000)

    async def _deliver(self, key: Key, stale_owner: str | None) -> None:
        tenant_id, sub_id = key
        event = self._events[key]
        held = False
        idle = 0.0
        # The record of the last success (rows deleted, counters) is written while the next
        # notification is prepared and sent; its rows are left out of the next read.
        recording: asyncio.Task[None] | None = None
        recorded: list[int] = []
        try:
            now = now_us()
            held = await self.repo.claim(
                tenant_id, sub_id, self.owner, now, now + LEASE_US, stale_owner
            )
            while held and not self._stopping:
                sub = await self.subscription(tenant_id, sub_id)
                if sub is None:  # deleted: what it still had pending goes with it
                    await self.repo.drop_outbox(tenant_id, sub_id)
                    break
                if not sub.is_active:  # paused: keep the rows for when it resumes
                    break
                event.clear()
                limit = 1000 if sub.throttling_us else BATCH_ROWS
                rows = await self.repo.pending(tenant_id, sub_id, limit, recorded)
                if not rows:
                    if recording is not None:
                        await recording
                        recording, recorded = None, []
                        continue
                    # Stay a while for more: woken by this process's writes, and looking
                    # again every poll interval for rows other processes wrote.
                    try:
                        await asyncio.wait_for(event.wait(), self.poll)
                        idle = 0.0
                    except TimeoutError:
                        idle += self.poll
                        if idle >= IDLE_SECONDS:
                            break
                    continue
                idle = 0.0
                outcome, used = await self._send(sub, rows)
                if recording is not None:
                    await recording  # one record in flight at a time, in order
                    recording, recorded = None, []
                now = now_us()
                if not outcome.ok:
                    held = False  # a failure gives the lease back
                    self._wake_at(key, await self._failed(sub, outcome.reason, now))
                    break
                next_send = now + sub.throttling_us if sub.throttling_us else None
                recording = asyncio.create_task(
                    self.repo.delivered(
                        tenant_id, sub_id, used, now, next_send, self.owner, now + LEASE_US
                    )
                )
                recorded = used
                if next_send is not None:
                    self._wake_at(key, next_send)
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivering the notifications of subscription %s failed", sub_id)
        finally:
            if recording is not None:
                with contextlib.suppress(Exception):
                    await recording
            if held and not self._stopping:
                with contextlib.suppress(Exception):
                    await self.repo.release(tenant_id, sub_id, self.owner)
            self._tasks.pop(key, None)
            self._events.pop(key, None)
            if event.is_set() and not self._stopping:
                self.wake(key)

    def _assemble(
        self, sub: CompiledSubscription, rows: list[tuple[int, str]]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """The entities of one notification, and the outbox rows it covers."""
        if sub.throttling_us:
            # Throttled: one notification with the latest state of each entity.
            latest: dict[str, dict[str, Any]] = {}
            covered = []
            for row_id, payload in rows:
                items = orjson.loads(payload)
                fresh = {item.get("id") for item in items} - set(latest)
                if covered and len(latest) + len(fresh) > self.max_entities:
                    break  # the rest goes in the next notification
                for item in items:
                    latest.pop(item.get("id"), None)
                    latest[item.get("id")] = item
                covered.append(row_id)
            return list(latest.values()), covered
        data = []
        used = []
        for row_id, payload in rows:
            items = orjson.loads(payload)
            if used and len(data) + len(items) > self.max_entities:
                break
            data.extend(items)
            used.append(row_id)
        return data, used

    async def _send(
        self, sub: CompiledSubscription, rows: list[tuple[int, str]]
    ) -> tuple[Outcome, list[int]]:
        """Send one notification made of the oldest rows; the outcome and the rows it took."""
        data, used = self._assemble(sub, rows)
        data = await self._joined(sub, data)
        nid = notification_id(sub.id, used[0], used[-1])
        async with self._sem:
            index = self.indexes.get(sub.tenant_id)
            if index is None or sub.id not in index.subs:
                # Deleted while this notification waited (for a sending slot, for its linked
                # entities): once DELETE has answered, no notification of it starts. Its rows
                # are done with; the next round finds the subscription gone.
                return Outcome(ok=True), used
            body, headers = notification_document(sub, data, nid, us_to_iso(now_us()))
            return await self.senders.send(sub, body, headers), used

    async def _joined(
        self, sub: CompiledSubscription, data: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``notification.join``: the entities the notified ones link to, as they are now,
        inline or after them (flat). The links were found in the write (:data:`LINKS`)."""
        links = [item.pop(LINKS, None) or [] for item in data]
        if sub.join is None or not any(links):
            return data
        linker = Linker(
            _TenantReader(self.svc, sub.tenant_id),  # type: ignore[arg-type]
            sub.tenant_name,
            None,  # type: ignore[arg-type]
            sub.notify_ctx,
            sub.join,
        )
        pairs = [[(str(key), str(target)) for key, target in found] for found in links]
        return await linker.join_rendered(data, pairs, sub.render)

    async def _failed(self, sub: CompiledSubscription, reason: str, now: int) -> int:
        """Record a failed attempt; when to try again."""
        failures = await self.repo.failures(sub.tenant_id, sub.id) + 1
        retry_at = now + self.backoff_us(failures)
        log.warning(
            "notification of subscription %s to %s failed (%s); retry in %.1f s",
            sub.id,
            sub.uri,
            reason,
            (retry_at - now) / 1_000_000,
        )
        await self.repo.failed(sub.tenant_id, sub.id, now, reason, retry_at, self.owner)
        return retry_at

    # -- the poll loop ----------------------------------------------------------------------

    def kick(self) -> None:
        self._kick.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                await self._refresh_changed()
                await self._dispatch_due()
                await self._periodic()
                if loop.time() - self._last_sweep > ORPHAN_SWEEP_SECONDS:
                    self._last_sweep = loop.time()
                    for tenant_id, sub_id in await self.repo.orphans():
                        await self.repo.drop_outbox(tenant_id, sub_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the notification poll failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.poll)
            self._kick.clear()

    async def _dispatch_due(self) -> None:
        now = now_us()
        for tenant_id, sub_id, owner, until in await self.repo.due(now):
            key = (tenant_id, sub_id)
            if key in self._tasks:
                continue
            if owner is None or owner == self.owner or (until is not None and until < now):
                self.wake(key)
            elif _dead_local_owner(owner, self.owner):
                self.wake(key, stale_owner=owner)

    async def _periodic(self) -> None:
        now = now_us()
        for tenant_id, sub_id, next_at, interval in await self.repo.periodic_due(now):
            following = next_at + interval
            if following <= now:
                following = now + interval
            if not await self.repo.advance_periodic(tenant_id, sub_id, next_at, following):
                continue  # another process took this period
            sub = await self.subscription(tenant_id, sub_id)
            if sub is None or not sub.active_at(now):
                continue
            await self._periodic_rows(sub, now)

    async def _periodic_rows(self, sub: CompiledSubscription, now: int) -> None:
        page = max(1, self.svc.settings.max_limit)
        filters = [f for f in (sub.q, sub.scope) if f is not None]
        data: list[dict[str, Any]] = []
        offset = 0
        while offset < PERIODIC_MAX_ENTITIES:
            query = EntityQuery(
                selectors=list(sub.selectors),
                filters=list(filters),
                geo=sub.geo,
                limit=page,
                offset=offset,
            )
            result = await self.svc.store.query(sub.tenant_id, query)
            data.extend(
                with_links(sub, e, render_entity(e, sub.notify_ctx, sub.render))
                for e in result.entities
            )
            if len(result.entities) < page:
                break
            offset += page
        if not data:
            return
        size = max(1, self.max_entities)
        rows = [
            (sub.tenant_id, sub.id, now, orjson.dumps(data[i : i + size]).decode())
            for i in range(0, len(data), size)
        ]
        await self.repo.enqueue(rows)
        self.wake(sub.key)


class _TenantReader:
    """What :class:`~qala.ngsild.linked.Linker` reads linked entities with: the tenant's
    entities as a notification sees them (as periodic notifications read them)."""

    def __init__(self, svc: Services, tenant_id: int) -> None:
        self.svc = svc
        self.tenant_id = tenant_id

    async def query(self, tenant: str | None, query: EntityQuery, actor: Any = None) -> Any:
        return await self.svc.store.query(self.tenant_id, query)


def _dead_local_owner(owner: str, me: str) -> bool:
    """Whether a lease owner was a process on this machine that has since ended (or an
    earlier server in this very process: a container restarted with the same pid)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner != me
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _log_failure(task: asyncio.Task[None]) -> None:
    """Log a failed subscription reload (its callers also see the error, if any still wait)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("reloading subscriptions failed", exc_info=task.exception())
