"""The hub's errors: protocol-neutral, mapped to each API's error format at its edge.

The NGSI-LD API turns them into ProblemDetails (``qala.ngsild.errors``); other APIs (Open311,
the dashboard) map the same classes to their own formats. Messages are written for the person
who sent the request: say what was wrong and, where possible, how to fix it.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base of every error the hub reports to a caller."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidRequest(HubError):
    """The request itself is malformed (syntax, parameters, headers)."""


class BadRequestData(HubError):
    """The request is well formed but its content is not acceptable."""


class NotFound(HubError):
    """The addressed resource does not exist."""


class AlreadyExists(HubError):
    """The resource to create exists already."""


class OperationNotSupported(HubError):
    """The operation is understood but not supported here."""


class TooComplexQuery(HubError):
    """The query exceeds the configured complexity limits."""


class TooManyResults(HubError):
    """The query would return more results than the configured maximum."""


class ContextNotAvailable(HubError):
    """A JSON-LD @context could not be retrieved."""


class UnknownTenant(HubError):
    """The tenant named in the request does not exist."""


class Unauthorized(HubError):
    """No valid credentials were presented."""


class Forbidden(HubError):
    """The caller may not do this."""


class PayloadTooLarge(HubError):
    """The request body exceeds the configured limit."""


class UnsupportedMediaType(HubError):
    """The request body's content type is not accepted."""


class NotAcceptable(HubError):
    """None of the media types in Accept can be produced."""


class Conflict(HubError):
    """The request conflicts with the current state of the resource."""


class ServiceUnavailable(HubError):
    """A dependency (the store, a remote service) is unavailable; retry later."""
