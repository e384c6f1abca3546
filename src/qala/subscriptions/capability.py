"""The subscriptions capability: ``/ngsi-ld/v1/subscriptions`` and the notification worker."""

from __future__ import annotations

from qala.capabilities import Capability
from qala.services import Services
from qala.subscriptions.engine import SubscriptionEngine
from qala.subscriptions.routes import router

PREFIX = "/ngsi-ld/v1"


async def start(svc: Services) -> None:
    engine = SubscriptionEngine(svc)
    await engine.start()
    svc.state.put(SubscriptionEngine, engine)
    svc.hub.add_participant(engine.participant)


async def stop(svc: Services) -> None:
    engine = svc.state.pop(SubscriptionEngine)
    if engine is None:
        return
    svc.hub.remove_participant(engine.participant)
    await engine.stop()


def capability() -> Capability:
    return Capability(name="subscriptions", routers=[(router, PREFIX)], start=start, stop=stop)
