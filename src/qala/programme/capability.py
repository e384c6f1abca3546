"""The programme monitor as a server capability: its HTTP API and its scheduled verification."""

from __future__ import annotations

import asyncio
import contextlib

from qala.capabilities import Capability
from qala.programme.routes import PREFIX, router
from qala.programme.schedule import verification_loop
from qala.services import Services


def capability() -> Capability:
    tasks: list[asyncio.Task[None]] = []

    async def start(svc: Services) -> None:
        interval = svc.settings.programme_verify_interval
        if interval > 0:
            tasks.append(
                asyncio.create_task(
                    verification_loop(
                        svc.store,
                        svc.hub,
                        svc.contexts,
                        interval,
                        max_terms=svc.settings.max_query_terms,
                    )
                )
            )

    async def stop(svc: Services) -> None:
        while tasks:
            task = tasks.pop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return Capability(name="programme", routers=[(router, PREFIX)], start=start, stop=stop)
