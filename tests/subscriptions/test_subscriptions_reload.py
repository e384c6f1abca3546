"""Concurrent subscription changes share reloads of the subscription index.

Each create, update or delete of a subscription reloads its tenant's subscriptions before it is
answered, so that the next write is matched against it. Changes arriving together must not wait
for one reload each, in turn: those arriving while a reload is queued share it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi.testclient import TestClient
from subscriptions_support import Receiver, subscription

from ngsi import BASE
from qala.subscriptions.engine import SubscriptionEngine
from testkit import ADMIN_KEY

CONCURRENT = 30


def test_concurrent_changes_share_reloads_and_each_is_live_when_answered(
    client: TestClient, receiver: Receiver
) -> None:
    engine = client.app.state.services.state.get(SubscriptionEngine)  # type: ignore[attr-defined]
    reloads = 0
    of_tenant = engine.repo.of_tenant

    async def slow_of_tenant(tenant_id: int) -> Any:
        nonlocal reloads
        reloads += 1
        await asyncio.sleep(0.05)  # a database busy with other requests
        return await of_tenant(tenant_id)

    engine.repo.of_tenant = slow_of_tenant
    live_when_answered: list[bool] = []

    async def create_all() -> list[str]:
        transport = httpx.ASGITransport(app=client.app)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}", "NGSILD-Tenant": "astana"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://qala", headers=headers
        ) as http:

            async def create(n: int) -> str:
                body = subscription(receiver.url(), id=f"urn:ngsi-ld:Subscription:reload{n}")
                response = await http.post(f"{BASE}/subscriptions", json=body)
                assert response.status_code == 201, response.text
                tenant = await engine.svc.hub.tenant("astana")
                live_when_answered.append(body["id"] in engine.indexes[tenant.id].subs)
                return body["id"]

            return list(await asyncio.gather(*(create(n) for n in range(CONCURRENT))))

    created = client.portal.call(create_all)  # type: ignore[union-attr]

    assert len(set(created)) == CONCURRENT
    assert live_when_answered == [True] * CONCURRENT
    # One reload per change would be 30 in a row; shared, a change waits for at most the
    # reload in progress and the one queued after it.
    assert reloads <= CONCURRENT // 3, reloads

    # Each of them notifies on the next write.
    entity = {
        "id": "urn:ngsi-ld:Streetlight:reload",
        "type": "Streetlight",
        "status": {"type": "Property", "value": "ok"},
    }
    response = client.post(f"{BASE}/entities", json=entity, headers={"NGSILD-Tenant": "astana"})
    assert response.status_code == 201, response.text
    notified = receiver.wait(CONCURRENT)
    assert {n.body["subscriptionId"] for n in notified} == set(created)
