"""The temporal capability: history recording, the temporal API and retention."""

from __future__ import annotations

import asyncio
import contextlib

from qala.capabilities import Capability
from qala.services import Services
from qala.temporal.recorder import HistoryRecorder
from qala.temporal.retention import compaction_loop
from qala.temporal.routes import ROUTERS

PREFIX = "/ngsi-ld/v1"
_TASK = "temporal.compaction"


async def start(svc: Services) -> None:
    svc.hub.add_participant(HistoryRecorder())
    if svc.settings.temporal_compact_interval > 0:
        svc.extras[_TASK] = asyncio.create_task(compaction_loop(svc.store, svc.settings))


async def stop(svc: Services) -> None:
    task = svc.extras.pop(_TASK, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def capability() -> Capability:
    return Capability(
        name="temporal",
        routers=[(router, PREFIX) for router in ROUTERS],
        start=start,
        stop=stop,
    )
