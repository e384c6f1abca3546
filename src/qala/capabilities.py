"""Capabilities: the parts of Qala that plug into the server (APIs, participants, workers).

Each capability module defines ``capability() -> Capability``. The server mounts their
routers when the application is created, and starts and stops them with the application, in
the order of :data:`CAPABILITIES`. A capability joins the hub's write path by registering
participants or validators on ``services.hub`` in :meth:`Capability.start`, and keeps what it
needs while running in ``services.state``.

An API whose errors are not NGSI-LD ProblemDetails declares its :class:`ErrorFormat`, used for
the errors the server answers on its paths outside its routes (no such resource, method not
allowed, a malformed URL); a capability with something to report on ``/health`` declares a
probe per member of the health body.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from qala.services import Services

#: Modules providing ``capability()``, in start order; their routes are matched in this
#: order too, so the NGSI-LD API (the busiest) comes first.
CAPABILITIES: tuple[str, ...] = (
    "qala.ngsild.capability",
    "qala.auth.capability",
    "qala.temporal.capability",
    "qala.sdm.capability",
    "qala.admin.capability",
    "qala.subscriptions.capability",
    "qala.csources.capability",
    "qala.iot.capability",
    "qala.programme.capability",
    "qala.open311.capability",
    "qala.dashboard.capability",
    "qala.indicators.capability",
)

#: ``(HTTP status, error code, message) -> Response``: one error in an API's own format. The
#: code is the status's name in capitals (``NOT_FOUND``, ``METHOD_NOT_ALLOWED``,
#: ``BAD_REQUEST``…).
ErrorResponder = Callable[[int, str, str], Response]
#: ``services -> member of the /health body``; a probe that fails is reported, not raised.
HealthProbe = Callable[[Services], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ErrorFormat:
    """The error format of the API served under ``prefix`` (a path prefix such as ``/iot/``)."""

    prefix: str
    respond: ErrorResponder
    #: ``(path, status, code, message) -> Response``, for a format that depends on the path
    #: (Open311's ``.json``/``.xml``); None: ``respond`` answers every path.
    respond_at: Callable[[str, int, str, str], Response] | None = None

    def serves(self, path: str) -> bool:
        return path.startswith(self.prefix)


@dataclass(slots=True)
class Capability:
    name: str
    #: (router, URL prefix) pairs to mount.
    routers: list[tuple[APIRouter, str]] = field(default_factory=list)
    start: Callable[[Services], Awaitable[None]] | None = None
    stop: Callable[[Services], Awaitable[None]] | None = None
    #: The format of errors on the capability's paths; None: NGSI-LD ProblemDetails.
    error_format: ErrorFormat | None = None
    #: Members the capability adds to the ``/health`` body, by name, each with its probe.
    health: Mapping[str, HealthProbe] = field(default_factory=dict)


def load_capabilities(names: tuple[str, ...] = CAPABILITIES) -> list[Capability]:
    found = []
    for name in names:
        module = importlib.import_module(name)
        found.append(module.capability())
    return found
