"""The OpenAPI schemas of the GeoReport v2 documents Qala serves (JSON forms; the XML forms
are the same documents under the specification's element names) and of the two form bodies.

``qala.openapi`` adds them to the document's ``components.schemas``.
"""

from __future__ import annotations

from typing import Any

_TEXT: dict[str, Any] = {"type": ["string", "null"]}
_ID: dict[str, Any] = {"type": "string", "minLength": 1}
_WHEN: dict[str, Any] = {"type": "string", "format": "date-time"}
_OPT_WHEN: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}

_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {
        "service_request_id": _ID,
        "status": {"enum": ["open", "closed"]},
        "status_notes": _TEXT,
        "service_name": _TEXT,
        "service_code": _ID,
        "description": _TEXT,
        "agency_responsible": _TEXT,
        "service_notice": _TEXT,
        "requested_datetime": _WHEN,
        "updated_datetime": _OPT_WHEN,
        "expected_datetime": _OPT_WHEN,
        "address": _TEXT,
        "address_id": _TEXT,
        "zipcode": _TEXT,
        "lat": {"type": ["number", "null"]},
        "long": {"type": ["number", "null"]},
        "media_url": _TEXT,
        "extended_attributes": {"type": "object", "description": "extensions=true"},
        "notes": {"type": "array", "items": {"type": "object"}, "description": "extensions=true"},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "GeoReportErrors": {
        "type": "array",
        "description": "GeoReport v2 errors (<errors><error> in XML)",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": _ID, "description": {"type": "string"}},
        },
    },
    "GeoReportDiscovery": {
        "type": "object",
        "required": ["changeset", "contact", "endpoints"],
        "properties": {
            "changeset": _WHEN,
            "contact": {"type": "string"},
            "key_service": {"type": "string"},
            "endpoints": {"type": "array", "items": {"type": "object"}},
        },
    },
    "GeoReportServices": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["service_code", "service_name", "metadata", "type"],
            "properties": {
                "service_code": _ID,
                "service_name": {"type": "string"},
                "description": _TEXT,
                "metadata": {"type": "boolean"},
                "type": {"enum": ["realtime", "batch", "blackbox"]},
                "keywords": _TEXT,
                "group": _TEXT,
            },
        },
    },
    "GeoReportServiceDefinition": {
        "type": "object",
        "required": ["service_code", "attributes"],
        "properties": {
            "service_code": _ID,
            "attributes": {"type": "array", "items": {"type": "object"}},
        },
    },
    "GeoReportRequests": {"type": "array", "items": _REQUEST},
    "GeoReportPostResult": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "properties": {
                "service_request_id": _ID,
                "token": _ID,
                "service_notice": _TEXT,
                "account_id": _TEXT,
            },
        },
    },
    "GeoReportTokens": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["token", "service_request_id"],
            "properties": {"token": _ID, "service_request_id": _TEXT},
        },
    },
    "GeoReportUpdates": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["update_id", "service_request_id", "status", "updated_datetime"],
            "properties": {
                "update_id": _ID,
                "service_request_id": _ID,
                "status": {"type": "string"},
                "updated_datetime": _WHEN,
                "description": {"type": "string"},
                "media_url": {"type": "string"},
            },
        },
    },
    "GeoReportUpdatePosted": {
        "type": "array",
        "items": {"type": "object", "required": ["update_id"],
                  "properties": {"update_id": _ID}},
    },
    "GeoReportRequestForm": {
        "type": "object",
        "required": ["jurisdiction_id", "api_key", "service_code"],
        "properties": {
            "jurisdiction_id": {"type": "string", "example": "astana"},
            "api_key": {"type": "string"},
            "service_code": {"type": "string", "example": "POTHOLE"},
            "lat": {"type": "string", "example": "51.1282"},
            "long": {"type": "string", "example": "71.4306"},
            "address_string": {"type": "string"},
            "address_id": {"type": "string"},
            "description": {"type": "string", "maxLength": 4000},
            "media_url": {"type": "string"},
            "lang": {"type": "string"},
            "email": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "phone": {"type": "string"},
            "device_id": {"type": "string"},
            "account_id": {"type": "string"},
        },
        "additionalProperties": {"type": "string", "description": "attribute[CODE]=value"},
    },
    "GeoReportUpdateForm": {
        "type": "object",
        "required": ["jurisdiction_id", "api_key", "update_id", "service_request_id", "status",
                     "updated_datetime"],
        "properties": {
            "jurisdiction_id": {"type": "string", "example": "astana"},
            "api_key": {"type": "string"},
            "update_id": {"type": "string"},
            "service_request_id": {"type": "string"},
            "status": {"type": "string", "example": "IN_PROGRESS"},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "description": {"type": "string"},
            "media_url": {"type": "string"},
        },
    },
}
