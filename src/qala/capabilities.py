"""Capabilities: the parts of Qala that plug into the server (APIs, participants, workers).

Each capability module defines ``capability() -> Capability``. The server mounts their
routers when the application is created, and starts and stops them with the application, in
the order of :data:`CAPABILITIES`. A capability joins the hub's write path by registering
participants or validators on ``services.hub`` in :meth:`Capability.start`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter

from qala.services import Services

#: Modules providing ``capability()``, in start order; their routes are matched in this
#: order too, so the NGSI-LD API (the busiest) comes first.
CAPABILITIES: tuple[str, ...] = (
    "qala.ngsild.capability",
    "qala.auth.capability",
    "qala.temporal.capability",
    "qala.sdm.validator",
    "qala.admin.capability",
    "qala.subscriptions.capability",
    "qala.iot.capability",
    "qala.programme.capability",
)


@dataclass(slots=True)
class Capability:
    name: str
    #: (router, URL prefix) pairs to mount.
    routers: list[tuple[APIRouter, str]] = field(default_factory=list)
    start: Callable[[Services], Awaitable[None]] | None = None
    stop: Callable[[Services], Awaitable[None]] | None = None


def load_capabilities(names: tuple[str, ...] = CAPABILITIES) -> list[Capability]:
    found = []
    for name in names:
        module = importlib.import_module(name)
        found.append(module.capability())
    return found
