"""The temporal capability: history recording, the temporal API and retention."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from qala.capabilities import Capability
from qala.services import Services
from qala.temporal.recorder import HistoryRecorder
from qala.temporal.retention import compaction_loop
from qala.temporal.routes import ROUTERS

PREFIX = "/ngsi-ld/v1"


@dataclass(slots=True)
class Compaction:
    """The task compacting old history into hourly aggregates."""

    task: asyncio.Task[None]


async def start(svc: Services) -> None:
    svc.hub.add_participant(HistoryRecorder())
    if svc.settings.temporal_compact_interval > 0:
        task = asyncio.create_task(compaction_loop(svc.store, svc.settings))
        svc.state.put(Compaction, Compaction(task))


async def stop(svc: Services) -> None:
    compaction = svc.state.pop(Compaction)
    if compaction is not None:
        compaction.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await compaction.task


def capability() -> Capability:
    return Capability(
        name="temporal",
        routers=[(router, PREFIX) for router in ROUTERS],
        start=start,
        stop=stop,
    )
