"""JSON Schemas of GeoReport v2 responses, and a structural check of the XML ones.

Written from open311.org's GeoReport v2 specification (with mySociety's servicerequestupdates
and the extensions=true fields): identifiers and codes are strings, lat/long numbers, every
date-time carries its zone. :func:`spark` turns an XML response into the value the
specification's Spark convention maps it to, so an XML body can be compared with the JSON one
field by field and validated against the same schema.
"""

from __future__ import annotations

from typing import Any

import defusedxml.ElementTree as SafeET
from jsonschema import Draft202012Validator, FormatChecker

W3C = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
DATETIME = {"type": "string", "pattern": W3C}
OPT_DATETIME = {"anyOf": [DATETIME, {"type": "null"}]}
OPT_STRING = {"type": ["string", "null"]}
ID = {"type": "string", "minLength": 1}

SERVICE = {
    "type": "object",
    "required": ["service_code", "service_name", "metadata", "type"],
    "additionalProperties": False,
    "properties": {
        "service_code": ID,
        "service_name": {"type": "string"},
        "description": OPT_STRING,
        "metadata": {"type": "boolean"},
        "type": {"enum": ["realtime", "batch", "blackbox"]},
        "keywords": OPT_STRING,
        "group": OPT_STRING,
    },
}
SERVICES = {"type": "array", "items": SERVICE}

VALUE = {
    "type": "object",
    "required": ["key", "name"],
    "additionalProperties": False,
    "properties": {"key": ID, "name": {"type": "string"}},
}
ATTRIBUTE = {
    "type": "object",
    "required": ["variable", "code", "datatype", "required", "order", "description"],
    "additionalProperties": False,
    "properties": {
        "variable": {"type": "boolean"},
        "code": ID,
        "datatype": {
            "enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
        },
        "required": {"type": "boolean"},
        "datatype_description": OPT_STRING,
        "order": {"type": "integer", "minimum": 1},
        "description": {"type": "string"},
        "values": {"type": "array", "items": VALUE, "minItems": 1},
    },
    "if": {"properties": {"datatype": {"enum": ["singlevaluelist", "multivaluelist"]}}},
    "then": {"required": ["values"]},
    "else": {"not": {"required": ["values"]}},
}
SERVICE_DEFINITION = {
    "type": "object",
    "required": ["service_code", "attributes"],
    "additionalProperties": False,
    "properties": {"service_code": ID, "attributes": {"type": "array", "items": ATTRIBUTE}},
}
NOTE = {
    "type": "object",
    "required": ["datetime", "type", "summary"],
    "properties": {"datetime": DATETIME, "type": {"type": "string"}, "summary": OPT_STRING},
}
REQUEST = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "additionalProperties": False,
    "properties": {
        "service_request_id": ID,
        "status": {"enum": ["open", "closed"]},
        "status_notes": OPT_STRING,
        "service_name": OPT_STRING,
        "service_code": ID,
        "description": {"anyOf": [{"type": "string", "maxLength": 4000}, {"type": "null"}]},
        "agency_responsible": OPT_STRING,
        "service_notice": OPT_STRING,
        "requested_datetime": DATETIME,
        "updated_datetime": OPT_DATETIME,
        "expected_datetime": OPT_DATETIME,
        "address": OPT_STRING,
        "address_id": OPT_STRING,
        "zipcode": OPT_STRING,
        "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
        "long": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
        "media_url": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}]},
        "extended_attributes": {"type": "object"},
        "notes": {"type": "array", "items": NOTE},
    },
}
REQUESTS = {"type": "array", "items": REQUEST}
POST_RESULT = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "service_request_id": ID,
            "token": ID,
            "service_notice": OPT_STRING,
            "account_id": OPT_STRING,
        },
        "oneOf": [{"required": ["service_request_id"]}, {"required": ["token"]}],
    },
}
TOKENS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["token", "service_request_id"],
        "additionalProperties": False,
        "properties": {"token": ID, "service_request_id": {"type": ["string", "null"]}},
    },
}
ERRORS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "additionalProperties": False,
        "properties": {"code": ID, "description": {"type": "string", "minLength": 1}},
    },
}
UPDATES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["update_id", "service_request_id", "status", "updated_datetime"],
        "additionalProperties": False,
        "properties": {
            "update_id": ID,
            "service_request_id": ID,
            "status": {"type": "string", "pattern": "^[A-Z_]+$"},
            "updated_datetime": DATETIME,
            "description": {"type": "string"},
            "media_url": {"type": "string"},
        },
    },
}
DISCOVERY = {
    "type": "object",
    "required": ["changeset", "contact", "endpoints"],
    "additionalProperties": False,
    "properties": {
        "changeset": DATETIME,
        "contact": {"type": "string"},
        "key_service": {"type": "string"},
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["specification", "url", "changeset", "type", "formats"],
                "additionalProperties": False,
                "properties": {
                    "specification": {"type": "string"},
                    "url": {"type": "string", "format": "uri"},
                    "changeset": DATETIME,
                    "type": {"enum": ["production", "test"]},
                    "formats": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}

#: XML root and item element of each document (None: the root holds one object).
XML_SHAPES: dict[str, tuple[str, str | None]] = {
    "services": ("services", "service"),
    "service_definition": ("service_definition", None),
    "requests": ("service_requests", "request"),
    "post_result": ("service_requests", "request"),
    "tokens": ("service_requests", "request"),
    "errors": ("errors", "error"),
    "updates": ("service_request_updates", "request_update"),
    "discovery": ("discovery", None),
}
SCHEMAS = {
    "services": SERVICES,
    "service_definition": SERVICE_DEFINITION,
    "requests": REQUESTS,
    "post_result": POST_RESULT,
    "tokens": TOKENS,
    "errors": ERRORS,
    "updates": UPDATES,
    "discovery": DISCOVERY,
}
#: Elements whose children are a list even when there is one child, or none.
LISTS = {"services", "attributes", "values", "endpoints", "formats", "notes", "errors",
         "service_requests", "service_request_updates", "media_urls"}  # fmt: skip


def validate(kind: str, document: Any) -> None:
    Draft202012Validator(SCHEMAS[kind], format_checker=FormatChecker()).validate(document)


def spark(element: Any) -> Any:
    """The Spark-convention value of an XML element: text for a leaf (None when empty), a
    list for a list element, else an object of its children."""
    children = list(element)
    if not children:
        if element.tag in LISTS:
            return []
        return element.text
    tags = {c.tag for c in children}
    if element.tag in LISTS or tags == {"value"} or (len(tags) == 1 and len(children) > 1):
        return [spark(c) for c in children]
    return {c.tag: spark(c) for c in children}


def xml_document(kind: str, body: bytes) -> Any:
    """Check an XML response's form and return its Spark value."""
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>'), body[:60]
    root = SafeET.fromstring(body)
    expected_root, item = XML_SHAPES[kind]
    assert root.tag == expected_root, root.tag
    assert "}" not in root.tag and not root.attrib, "no namespace, no attributes"
    for element in root.iter():
        assert "}" not in element.tag and not element.attrib, element.tag
    if item is not None:
        assert all(child.tag == item for child in root), [c.tag for c in root]
        return [spark(child) for child in root]
    return spark(root)


def as_xml_text(value: Any) -> Any:
    """A JSON value as its XML text form: what :func:`spark` gives back for it."""
    if isinstance(value, dict):
        return {k: as_xml_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_xml_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if value is None or value == "":
        return None
    return str(value)


def same_document(kind: str, xml_body: bytes, json_value: Any) -> None:
    """The XML and JSON renderings say the same thing."""
    assert xml_document(kind, xml_body) == as_xml_text(json_value)


