"""The IoT Agent error format: ``{"name": "...", "message": "..."}`` bodies with a fitting
HTTP status, for every error of the ``/iot`` API.

:class:`IotError` is raised where the IoT Agent names the error itself; a :class:`HubError`
is mapped to its IoT Agent name (:func:`hub_error_response`); :class:`IotRoute` answers every
error of a route (parameter validation included) in this format.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from qala.hub import (
    AlreadyExists,
    Conflict,
    ContextNotAvailable,
    Forbidden,
    HubError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    UnknownTenant,
)

log = logging.getLogger("qala.iot")


class IotError(Exception):
    """An error answered in the IoT Agent format."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def error_response(status: int, name: str, message: str) -> Response:
    body = orjson.dumps({"name": name, "message": message})
    return Response(body, status_code=status, media_type="application/json")


_HUB_ERRORS: list[tuple[type[HubError], int, str]] = [
    (NotFound, 404, "NOT_FOUND"),
    (UnknownTenant, 404, "NOT_FOUND"),
    (AlreadyExists, 409, "DUPLICATED_ENTITY"),
    (Conflict, 409, "CONFLICT"),
    (PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
    (ServiceUnavailable, 503, "SERVICE_UNAVAILABLE"),
    (ContextNotAvailable, 400, "BAD_CONTEXT"),
    (Unauthorized, 401, "UNAUTHORIZED"),
    (Forbidden, 403, "FORBIDDEN"),
]


def hub_error_response(exc: HubError) -> Response:
    for cls, status, name in _HUB_ERRORS:
        if isinstance(exc, cls):
            return error_response(status, name, exc.detail)
    return error_response(400, "BAD_REQUEST", exc.detail)


#: The answer to a measure the ingestion rejected, by the kind of its rejection.
_MEASURE_ERRORS = {
    "unknown_apikey": (404, "DEVICE_NOT_FOUND"),
    "unknown_device": (404, "DEVICE_NOT_FOUND"),
    "wrong_apikey": (404, "DEVICE_NOT_FOUND"),
    "invalid_json": (400, "WRONG_SYNTAX"),
    "invalid_payload": (400, "WRONG_SYNTAX"),
    "type_mismatch": (400, "TYPE_MISMATCH"),
    "unknown_attribute": (400, "UNKNOWN_ATTRIBUTE"),
    "invalid_timestamp": (400, "INVALID_TIMESTAMP"),
    "rejected": (400, "MEASURES_REJECTED"),
    "unavailable": (503, "SERVICE_UNAVAILABLE"),
}


def measure_error_response(kind: str | None, message: str | None) -> Response:
    """The answer to measures sent over HTTP that the ingestion rejected."""
    status, name = _MEASURE_ERRORS.get(kind or "", (400, "BAD_REQUEST"))
    return error_response(status, name, message or kind or "rejected")


class IotRoute(APIRoute):
    """Routes whose every error (including parameter validation) is an IoT Agent error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except IotError as exc:
                return error_response(exc.status, exc.name, exc.message)
            except HubError as exc:
                return hub_error_response(exc)
            except RequestValidationError as exc:
                problems = []
                for error in exc.errors():
                    where = ".".join(str(p) for p in error.get("loc", ()) if p != "query")
                    problems.append(f"{where}: {error.get('msg', 'invalid')}")
                return error_response(400, "BAD_REQUEST", "; ".join(problems))
            except Exception:
                log.exception("IoT API: unexpected error on %s %s", request.method, request.url)
                return error_response(500, "INTERNAL_ERROR", "unexpected server error")

        return route
