"""Access control as a capability: authentication of every request, the audit participant,
and the API of ``auth.routes`` (``/qala/v1/keys`` and ``/qala/v1/audit``)."""

from __future__ import annotations

import logging

from qala.auth import audit, routes
from qala.auth.middleware import install
from qala.capabilities import Capability
from qala.services import Services

log = logging.getLogger("qala.auth")
PREFIX = "/qala/v1"


def capability() -> Capability:
    async def start(svc: Services) -> None:
        install(svc, svc.settings)
        svc.hub.add_participant(audit.AuditParticipant())
        if svc.settings.auth_disabled:
            log.warning(
                "AUTHENTICATION IS DISABLED (QALA_AUTH_DISABLED=true): every request acts as "
                "admin. Use this only for conformance testing or on a closed network."
            )
        tokens = svc.authenticator.tokens if svc.authenticator is not None else None
        if tokens is not None:
            try:
                await tokens.load()
            except Exception as exc:  # a JWKS URL may be down at start: retried on use
                log.warning("could not load the JWKS from %s yet: %s", tokens.source, exc)

    return Capability(name="auth", routers=[(routes.router, PREFIX)], start=start)
