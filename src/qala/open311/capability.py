"""Citizen requests: Open311 GeoReport v2 (``/open311``) and its back office (``/api/v1/open311``).

Start: the :class:`~qala.open311.office.Office` (kept in ``services.state``), the device-fault
rule as a hub participant, and the escalation check, which runs every
``ESCALATION_INTERVAL`` seconds over every city.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from qala.auth.keys import KeyCache
from qala.capabilities import Capability, ErrorFormat
from qala.open311 import errors
from qala.open311.catalogue import load
from qala.open311.faults import FaultRule
from qala.open311.office import Office
from qala.open311.routes import backoffice, georeport
from qala.services import Services

log = logging.getLogger("qala.open311")
ESCALATION_INTERVAL = 600.0


class Open311Tasks:
    """What the capability runs in the background (kept in ``services.state``)."""

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self.tasks: list[asyncio.Task[None]] = []


async def _escalation_loop(office: Office) -> None:
    while True:
        await asyncio.sleep(ESCALATION_INTERVAL)
        for city in office.catalogue.cities:
            try:
                await office.escalate_overdue(city)
            except Exception:
                log.exception("escalation check of %s failed", city.tenant)


async def start(svc: Services) -> None:
    keys = svc.authenticator.keys if svc.authenticator is not None else KeyCache(svc.store)
    office = Office(svc.hub, svc.store, load(), keys,
                    check_keys=not svc.settings.auth_disabled)  # fmt: skip
    svc.state.put(Office, office)
    rule = FaultRule(office)
    svc.hub.add_participant(rule)
    background = Open311Tasks(rule)
    background.tasks.append(asyncio.create_task(_escalation_loop(office), name="open311"))
    svc.state.put(Open311Tasks, background)


async def stop(svc: Services) -> None:
    background = svc.state.pop(Open311Tasks)
    svc.state.pop(Office)
    if background is None:
        return
    svc.hub.remove_participant(background.rule)
    for task in background.tasks:
        task.cancel()
    for task in background.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def capability() -> Capability:
    return Capability(
        name="open311",
        routers=[(georeport.router, "/open311"), (backoffice.router, "/api/v1/open311")],
        start=start,
        stop=stop,
        error_format=ErrorFormat(errors.PREFIX, errors.error_response, errors.error_response_at),
    )
