"""Hub errors as NGSI-LD ProblemDetails (RFC 7807 with the ETSI error type URIs)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from qala.hub import errors

ETSI = "https://uri.etsi.org/ngsi-ld/errors/"

# error class -> (type URI, HTTP status, title)
_PROBLEMS: dict[type[errors.HubError], tuple[str, int, str]] = {
    errors.InvalidRequest: (ETSI + "InvalidRequest", 400, "Invalid request"),
    errors.BadRequestData: (ETSI + "BadRequestData", 400, "Bad request data"),
    errors.NotFound: (ETSI + "ResourceNotFound", 404, "Resource not found"),
    errors.AlreadyExists: (ETSI + "AlreadyExists", 409, "Already exists"),
    errors.OperationNotSupported: (ETSI + "OperationNotSupported", 422, "Operation not supported"),
    errors.TooComplexQuery: (ETSI + "TooComplexQuery", 403, "Too complex query"),
    errors.TooManyResults: (ETSI + "TooManyResults", 403, "Too many results"),
    # 504 since GS CIM 009 v1.8.1 (503 before).
    errors.ContextNotAvailable: (ETSI + "LdContextNotAvailable", 504, "@context not available"),
    errors.UnknownTenant: (ETSI + "NonexistentTenant", 404, "Nonexistent tenant"),
    errors.Conflict: (ETSI + "AlreadyExists", 409, "Conflict"),
    errors.Unauthorized: ("about:blank", 401, "Unauthorized"),
    errors.Forbidden: ("about:blank", 403, "Forbidden"),
    errors.PayloadTooLarge: ("about:blank", 413, "Payload too large"),
    errors.UnsupportedMediaType: ("about:blank", 415, "Unsupported media type"),
    errors.NotAcceptable: ("about:blank", 406, "Not acceptable"),
    errors.ServiceUnavailable: ("about:blank", 503, "Service unavailable"),
}

INTERNAL_ERROR = (ETSI + "InternalError", 500, "Internal error")


def problem_for(exc: errors.HubError) -> tuple[str, int, str]:
    for cls in type(exc).__mro__:
        if cls in _PROBLEMS:
            return _PROBLEMS[cls]
    return INTERNAL_ERROR


def problem_body(exc: errors.HubError, instance: str | None = None) -> dict[str, Any]:
    type_uri, status, title = problem_for(exc)
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title,
        "status": status,
        "detail": exc.detail,
    }
    if instance:
        body["instance"] = instance
    for key, value in exc.extra.items():
        body.setdefault(key, value)
    return body


def problem_response(
    exc: errors.HubError, instance: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = problem_body(exc, instance)
    return Response(
        orjson.dumps(body),
        status_code=body["status"],
        media_type="application/json",
        headers=headers,
    )


def internal_error_response() -> Response:
    type_uri, status, title = INTERNAL_ERROR
    body = {
        "type": type_uri,
        "title": title,
        "status": status,
        "detail": "the server failed to process the request; the failure has been logged",
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
