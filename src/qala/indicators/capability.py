"""City indicators as a capability: ``/api/v1/indicators/…`` (the routes are in
``indicators.routes``); the running :class:`~qala.indicators.service.IndicatorService` is kept
in ``services.state``."""

from __future__ import annotations

from qala.capabilities import Capability
from qala.indicators import routes
from qala.indicators.service import IndicatorService
from qala.services import Services

PREFIX = "/api/v1/indicators"


async def start(svc: Services) -> None:
    # citizen requests come from the Open311 capability's entities in the hub, when it runs
    # (it starts before this one)
    requests = any(cap.name == "open311" for cap in svc.capabilities)
    svc.state.put(
        IndicatorService,
        IndicatorService(svc.hub, svc.store, svc.contexts, requests=requests),
    )


async def stop(svc: Services) -> None:
    svc.state.pop(IndicatorService)


def capability() -> Capability:
    return Capability(
        name="indicators", routers=[(routes.router, PREFIX)], start=start, stop=stop
    )
