"""Qala's OpenAPI document: the shared schemas, error responses and request bodies.

Routes describe themselves on their decorators with the helpers here — ``responses=`` built
from :func:`ok`, :func:`created`, :func:`no_content` and :func:`errors`, request bodies with
:func:`body` — and :func:`install` finishes the document FastAPI generates:

* the schemas named here become ``components.schemas`` (``ProblemDetails`` once, referenced by
  every NGSI-LD and Qala error response; ``IotError`` for ``/iot``);
* every operation gets the errors any request can meet before it reaches a route: 401 (no
  valid credentials, except on open paths), 429 (rate limit), 503 (request timeout) and 500,
  all ProblemDetails (500 and 503 under ``/iot`` may also be the IoT Agent error); an
  operation with path parameters may also answer 404 (a value holding ``/`` names no
  resource; under ``/iot`` in the IoT Agent error format);
* FastAPI's default ``422 HTTPValidationError`` goes: Qala answers malformed parameters with
  400 ProblemDetails (or the IoT Agent error), never 422;
* a success response without a declared schema (FastAPI's placeholder for a route returning
  a bare ``Response``) declares no content: such routes answer with an empty body;
* the API key / bearer token security scheme is declared, and waived on the open paths.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from qala.open311.schemas import SCHEMAS as OPEN311_SCHEMAS

JSON = "application/json"
JSONLD = "application/ld+json"
GEOJSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"

#: The media types of NGSI-LD responses, by what the request's Accept header asks for.
NGSI_LD = (JSON, JSONLD)
NGSI_LD_GEO = (JSON, JSONLD, GEOJSON)


#: A tenant name (``qala.hub.model.valid_tenant_name``), or empty for the default tenant.
TENANT_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_.\-]{0,62})?$"


#: Keyword arguments declaring a date-time parameter (ISO 8601 with a time zone).
DATE_TIME: dict[str, Any] = {"json_schema_extra": {"format": "date-time"}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


_STRINGS = {"type": "array", "items": {"type": "string"}}
_TYPE_NAMES = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
    "description": "Entity type name(s): a term of the @context or an IRI",
}
_ANY: dict[str, Any] = {}


def _discovery(
    kind: str, required: list[str] | None = None, **members: dict[str, Any]
) -> dict[str, Any]:
    """A discovery answer (types, attributes): ``id``, ``type`` ``kind`` and ``members``, all
    required unless ``required`` names those that are."""
    return {
        "type": "object",
        "required": ["id", "type", *(list(members) if required is None else required)],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": kind},
            **members,
            "@context": _ANY,
        },
    }


#: JSON Schemas of the API's bodies, published as ``components.schemas``.
SCHEMAS: dict[str, dict[str, Any]] = {
    "ProblemDetails": {
        "type": "object",
        "description": "An error (RFC 7807 with the ETSI NGSI-LD error types)",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": _text("Error type: https://uri.etsi.org/ngsi-ld/errors/<kind> or about:blank"),
            "title": _text("Short summary of the error type"),
            "status": {"type": "integer", "description": "The HTTP status"},
            "detail": _text("What was wrong with this request and how to fix it"),
            "instance": _text("The request path"),
        },
    },
    "IotError": {
        "type": "object",
        "description": "An IoT Agent error",
        "required": ["name", "message"],
        "properties": {
            "name": _text("Error code, e.g. BAD_REQUEST, DEVICE_NOT_FOUND"),
            "message": _text("What was wrong"),
        },
    },
    "Entity": {
        "type": "object",
        "description": (
            "An NGSI-LD entity (normalized, concise or keyValues, as asked for). Attributes are "
            "further members named by @context terms. id and type are present unless pick or "
            "omit project them away."
        ),
        "properties": {
            "id": _text("Entity id (a URI)"),
            "type": _TYPE_NAMES,
            "scope": {"anyOf": [{"type": "string"}, _STRINGS]},
            "@context": _ANY,
        },
    },
    "Feature": {
        "type": "object",
        "description": "An entity as a GeoJSON Feature (Accept: application/geo+json)",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "Feature"},
            "geometry": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            "properties": {"type": "object"},
            "@context": _ANY,
        },
    },
    "FeatureCollection": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"const": "FeatureCollection"},
            "features": {"type": "array", "items": ref("Feature")},
            "@context": _ANY,
        },
    },
    "EntityInput": {
        "type": "object",
        "description": (
            "An entity to create or replace. Members other than id, type, scope and @context "
            "are attributes: Property, Relationship, GeoProperty, LanguageProperty, "
            "ListProperty, VocabProperty or JsonProperty objects, arrays of them (datasetIds),"
            " or concise values."
        ),
        "required": ["id", "type"],
        "properties": {
            "id": _text("Entity id (a URI)"),
            "type": _TYPE_NAMES,
            "scope": {"anyOf": [{"type": "string"}, _STRINGS]},
            "@context": _ANY,
        },
    },
    "EntityFragment": {
        "type": "object",
        "description": (
            "Attributes to add, update or merge, named by @context terms (see EntityInput); "
            "may also carry type and scope"
        ),
        "properties": {"type": _TYPE_NAMES, "@context": _ANY},
    },
    "Attribute": {
        "type": "object",
        "description": (
            "One attribute instance: {type: Property, value}, {type: Relationship, object}, "
            "{type: GeoProperty, value: <GeoJSON geometry>}, …, with sub-attributes"
        ),
    },
    "UpdateResult": {
        "type": "object",
        "description": "Which attributes were updated, and why the others were not",
        "required": ["updated", "notUpdated"],
        "properties": {
            "updated": _STRINGS,
            "notUpdated": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["attributeName", "reason"],
                    "properties": {
                        "attributeName": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    },
    "BatchOperationResult": {
        "type": "object",
        "description": "The entities a batch operation succeeded on, and the errors of the rest",
        "required": ["success", "errors"],
        "properties": {
            "success": {**_STRINGS, "description": "Ids of the entities that succeeded"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["entityId", "error"],
                    "properties": {
                        "entityId": {"type": "string"},
                        "error": ref("ProblemDetails"),
                    },
                },
            },
        },
    },
    "Query": {
        "type": "object",
        "description": "A query of entities (NGSI-LD Query data type)",
        "required": ["type"],
        "properties": {
            "type": {"const": "Query"},
            "entities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "idPattern": {"type": "string"},
                        "type": {"type": "string"},
                    },
                },
            },
            "attrs": _STRINGS,
            "q": {"type": "string"},
            "geoQ": {
                "type": "object",
                "properties": {
                    "geometry": {"type": "string"},
                    "coordinates": _ANY,
                    "georel": {"type": "string"},
                    "geoproperty": {"type": "string"},
                },
            },
            "scopeQ": {"type": "string"},
            "temporalQ": {
                "type": "object",
                "properties": {
                    "timerel": {"type": "string"},
                    "timeAt": {"type": "string"},
                    "endTimeAt": {"type": "string"},
                    "timeproperty": {"type": "string"},
                    "lastN": _ANY,
                },
            },
            "@context": _ANY,
        },
    },
    "EntityTypeList": _discovery("EntityTypeList", typeList=_STRINGS),
    "EntityType": _discovery("EntityType", typeName={"type": "string"}, attributeNames=_STRINGS),
    "EntityTypeInfo": _discovery(
        "EntityTypeInfo",
        typeName={"type": "string"},
        entityCount={"type": "integer"},
        attributeDetails={"type": "array", "items": ref("AttributeDetails")},
    ),
    "AttributeList": _discovery("AttributeList", attributeList=_STRINGS),
    "AttributeDetails": _discovery(
        "Attribute",
        ["attributeName"],
        attributeName={"type": "string"},
        attributeCount={"type": "integer"},
        attributeTypes=_STRINGS,
        typeNames=_STRINGS,
    ),
    "ContextInfo": {
        "type": "object",
        "required": ["URL", "localId", "kind", "createdAt", "numberOfHits"],
        "properties": {
            "URL": {"type": "string"},
            "localId": {"type": "string"},
            "kind": {"enum": ["Hosted", "Cached", "ImplicitlyCreated"]},
            "createdAt": {"type": "string"},
            "lastUsage": {"type": "string"},
            "numberOfHits": {"type": "integer"},
        },
    },
    "ContextDocument": {
        "type": "object",
        "required": ["@context"],
        "properties": {"@context": _ANY},
    },
    "TemporalEntity": {
        "type": "object",
        "description": (
            "An entity's history: each attribute holds its instances (an array), or "
            "temporalValues / aggregated values in those formats"
        ),
        "required": ["id", "type"],
        "properties": {"id": {"type": "string"}, "type": _TYPE_NAMES, "@context": _ANY},
    },
    "Subscription": {
        "type": "object",
        "description": "A subscription, with its notification status",
        "required": ["id", "type", "status", "notification"],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "Subscription"},
            "isActive": {"type": "boolean"},
            "status": {"enum": ["active", "paused", "expired", "failed"]},
            "notification": {"type": "object"},
            "@context": _ANY,
        },
    },
    "SubscriptionInput": {
        "type": "object",
        "description": "A subscription to create (NGSI-LD Subscription data type)",
        "required": ["type", "notification"],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "Subscription"},
            "entities": {"type": "array", "items": {"type": "object"}},
            "watchedAttributes": _STRINGS,
            "q": {"type": "string"},
            "notification": {
                "type": "object",
                "required": ["endpoint"],
                "properties": {
                    "attributes": _STRINGS,
                    "format": {"type": "string"},
                    "endpoint": {
                        "type": "object",
                        "required": ["uri"],
                        "properties": {
                            "uri": {"type": "string"},
                            "accept": {"type": "string"},
                        },
                    },
                },
            },
            "isActive": {"type": "boolean"},
            "expiresAt": {"type": "string"},
            "throttling": {"type": "number"},
            "timeInterval": {"type": "number"},
            "@context": _ANY,
        },
    },
    "SubscriptionFragment": {
        "type": "object",
        "description": "Members of a subscription to replace",
        "properties": {"@context": _ANY},
    },
    "ApiKey": {
        "type": "object",
        "required": ["id", "name", "role", "tenant", "createdAt", "revokedAt"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "role": {"type": "string"},
            "tenant": {"type": ["string", "null"]},
            "createdAt": {"type": "string"},
            "revokedAt": {"type": ["string", "null"]},
            "key": _text("The secret (only in the answer to its creation)"),
        },
    },
    "AuditRecord": {
        "type": "object",
        "required": ["at", "actor", "operation"],
        "properties": {
            "at": {"type": "string"},
            "actor": {"type": "string"},
            "operation": {"type": "string"},
        },
    },
    "Tenant": {
        "type": "object",
        "required": ["name", "settings"],
        "properties": {"name": {"type": "string"}, "settings": {"type": "object"}},
    },
    "IotServiceList": {
        "type": "object",
        "required": ["count", "services"],
        "properties": {
            "count": {"type": "integer"},
            "services": {"type": "array", "items": {"type": "object"}},
        },
    },
    "IotDevice": {
        "type": "object",
        "required": ["device_id", "service", "entity_name", "entity_type", "apikey"],
        "properties": {
            "device_id": {"type": "string"},
            "service": {"type": "string"},
            "entity_name": {"type": "string"},
            "entity_type": {"type": "string"},
            "apikey": {"type": "string"},
            "stats": {"type": "object"},
            "errors": {"type": "object"},
        },
    },
    "IotDeviceList": {
        "type": "object",
        "required": ["count", "devices"],
        "properties": {
            "count": {"type": "integer"},
            "devices": {"type": "array", "items": ref("IotDevice")},
        },
    },
}

_ERROR_TEXT = {
    400: "The request is malformed (InvalidRequest) or its data is not acceptable (BadRequestData)",
    401: "No valid credentials (send Authorization: Bearer <API key or token>)",
    403: "The caller's role or tenant does not allow this, or the query is too complex or "
    "would return too many results",
    404: "Not found: the resource, or the tenant (NonexistentTenant)",
    406: "None of the media types in Accept can be produced",
    409: "Already exists, or conflicts with the resource's current state",
    413: "The request body is too large",
    415: "The Content-Type is not supported",
    422: "The operation is not supported on this resource",
    429: "Too many requests: the caller's rate limit is exceeded (see Retry-After)",
    500: "Internal error: a fault of the server, recorded in its log",
    503: "Service unavailable: the request took too long or the store is unavailable; retry later",
    504: "A JSON-LD @context could not be retrieved (LdContextNotAvailable)",
}


def content(schema: dict[str, Any], media_types: tuple[str, ...] = (JSON,)) -> dict[str, Any]:
    return {media: {"schema": schema} for media in media_types}


def errors(*codes: int, schema: str = "ProblemDetails") -> dict[int | str, dict[str, Any]]:
    """Error responses of an operation, beyond those every operation has (see module doc)."""
    return {
        code: {"description": _ERROR_TEXT[code], "content": content(ref(schema))} for code in codes
    }


def iot_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return errors(*codes, schema="IotError")


def ok(
    schema: dict[str, Any],
    description: str = "Success",
    media_types: tuple[str, ...] = (JSON,),
    status: int = 200,
    headers: dict[str, Any] | None = None,
) -> dict[int | str, dict[str, Any]]:
    response: dict[str, Any] = {
        "description": description,
        "content": content(schema, media_types),
    }
    if headers:
        response["headers"] = headers
    return {status: response}


def created(description: str, location: bool = True) -> dict[int | str, dict[str, Any]]:
    """201 without a body; ``Location`` names the new resource."""
    response: dict[str, Any] = {"description": description}
    if location:
        response["headers"] = {
            "Location": {"description": "Path of the new resource", "schema": {"type": "string"}}
        }
    return {201: response}


def no_content(description: str = "Done") -> dict[int | str, dict[str, Any]]:
    return {204: {"description": description}}


def body(
    schema: dict[str, Any],
    media_types: tuple[str, ...] = NGSI_LD,
    example: Any = None,
) -> dict[str, Any]:
    """``openapi_extra`` declaring a required request body (routes read it themselves)."""
    types: dict[str, Any] = {}
    for media in media_types:
        types[media] = {"schema": schema}
        if example is not None and media != JSONLD:
            types[media]["example"] = example
    return {"requestBody": {"required": True, "content": types}}


#: Paths anyone may call without credentials (see qala.auth.middleware).
def _is_open(method: str, path: str) -> bool:
    if path in ("/health",) or path.startswith("/open311/"):
        return True
    if method == "post" and path == "/iot/json":
        return True
    return method == "get" and path.startswith("/ngsi-ld/v1/jsonldContexts/")


_UNIVERSAL = (429, 500, 503)
_LENGTH_REQUIRED = "Length Required: the request has no Content-Length (no body is returned)"


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Complete the document FastAPI generated (in place; returned for convenience)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(SCHEMAS)
    schemas.update(OPEN311_SCHEMAS)
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A Qala API key (qala_…) or an OpenID Connect access token",
        }
    }
    document["security"] = [{"bearer": []}]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            validation = responses.get("422", {}).get("content", {}).get(JSON, {})
            if validation.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            for status, response in responses.items():
                if status.startswith("2") and _placeholder(response):
                    del response["content"]
            codes = list(_UNIVERSAL)
            if _is_open(method, path):
                operation["security"] = [{}, {"bearer": []}]
            else:
                codes.append(401)
            if "{" in path:  # a value holding "/" ("%2F") leaves the path: no resource there
                codes.append(404)
            if path.startswith("/ngsi-ld/") and "requestBody" in operation:
                # GS CIM 009 6.3.4: a body without Content-Length is a bare 411
                responses.setdefault("411", {"description": _LENGTH_REQUIRED})
            for code in codes:
                if path.startswith("/open311/"):
                    responses.setdefault(str(code), _georeport_error(path, code))
                    continue
                if path.startswith("/iot/") and code in (500, 503):
                    # the IoT Agent's own errors, or the server's (e.g. a request timeout)
                    either = {"anyOf": [ref("IotError"), ref("ProblemDetails")]}
                    response = {"description": _ERROR_TEXT[code], "content": content(either)}
                elif path.startswith("/iot/") and code == 404:
                    response = iot_errors(code)[code]
                else:
                    response = errors(code)[code]
                responses.setdefault(str(code), response)
            operation["responses"] = dict(sorted(responses.items()))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _georeport_error(path: str, code: int) -> dict[str, Any]:
    """An error of the Open311 edge: GeoReport errors, in the format of the path's suffix
    (the server's own 500/503 may also be ProblemDetails, e.g. a request timeout)."""
    if path.endswith(".json"):
        schema: dict[str, Any] = ref("GeoReportErrors")
        if code in (500, 503):
            schema = {"anyOf": [schema, ref("ProblemDetails")]}
        return {"description": _ERROR_TEXT[code], "content": content(schema)}
    text = {"type": "string", "description": "GeoReport <errors> (XML)"}
    media: dict[str, Any] = {"text/xml": {"schema": text}}
    if code in (500, 503):
        media[JSON] = {"schema": ref("ProblemDetails")}
    return {"description": _ERROR_TEXT[code], "content": media}


def _placeholder(response: dict[str, Any]) -> bool:
    """FastAPI's content for a route that declares no response schema: ``{}`` as JSON."""
    media = response.get("content")
    return media == {JSON: {"schema": {}}}


#: Swagger UI's script, stylesheet and icon, as the fastapi-offline package ships them: the
#: documentation page loads nothing from the internet.
DOCS_ASSETS = importlib.resources.files("fastapi_offline") / "static"
DOCS_STATIC = "/static/docs"


def install(app: FastAPI) -> None:
    """Serve the finished document at /openapi.json, and Swagger UI at /docs from assets
    served by Qala itself (``/`` is the dashboard, ``qala.dashboard``)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    app.mount(DOCS_STATIC, StaticFiles(directory=str(DOCS_ASSETS)), name="docs-assets")
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API",
            oauth2_redirect_url=f"{root}{redirect}",
            swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        )

    @app.get(redirect, include_in_schema=False)
    async def docs_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
