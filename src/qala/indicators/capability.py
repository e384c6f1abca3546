"""City indicators as a capability: ``/api/v1/indicators/…`` (the routes are in
``indicators.routes``); the running :class:`~qala.indicators.service.IndicatorService` is kept
in ``services.state``, and the scheduled computation (``indicators.schedule``) runs beside it."""

from __future__ import annotations

import asyncio
import contextlib

from qala.capabilities import Capability
from qala.indicators import routes
from qala.indicators.schedule import computation_loop
from qala.indicators.service import IndicatorService
from qala.services import Services

PREFIX = "/api/v1/indicators"


def capability() -> Capability:
    tasks: list[asyncio.Task[None]] = []

    async def start(svc: Services) -> None:
        # citizen requests come from the Open311 capability's entities in the hub, when it
        # runs (it starts before this one)
        requests = any(cap.name == "open311" for cap in svc.capabilities)
        service = IndicatorService(svc.hub, svc.store, svc.contexts, requests=requests)
        svc.state.put(IndicatorService, service)
        interval = svc.settings.indicators_compute_interval
        if interval > 0:
            after = svc.settings.indicators_compute_after
            first = interval if after is None else after
            loop = computation_loop(service, svc.hub, interval, first)
            tasks.append(asyncio.create_task(loop, name="indicators schedule"))

    async def stop(svc: Services) -> None:
        while tasks:
            task = tasks.pop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        svc.state.pop(IndicatorService)

    return Capability(
        name="indicators", routers=[(routes.router, PREFIX)], start=start, stop=stop
    )
