"""GeoReport v2 responses in XML and JSON, as open311.org's specification writes them.

XML is the mandatory format: schemaless, no namespace, UTF-8 with the XML declaration, one
root element wrapping repeated items (``<services><service>…``). JSON follows the
specification's "Spark convention" mapping of that XML: a root holding repeated items becomes
an **array** — services, service requests (one request included), the POST result, tokens,
errors and updates are all arrays — while the two documents whose root holds a single object
(discovery and a service definition) are objects, as in the specification's own examples.

Every identifier and code is a string; ``lat``/``long`` and an attribute's ``order`` are
numbers; booleans are ``true``/``false``. A missing value is an empty element in XML and
``null`` in JSON. Date-times are ISO 8601 with the city's offset (``2026-03-23T14:00:00+05:00``).
Texts are written as text: the XML writer escapes ``<``, ``&`` and ``>``, and characters XML 1.0
cannot carry (control characters) are dropped from both formats.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

import orjson

from qala.open311.model import (
    GeoReportError,
    Language,
    RequestUpdate,
    Service,
    ServiceRequest,
)

Format = Literal["xml", "json"]
FORMATS: tuple[Format, ...] = ("xml", "json")
MEDIA_TYPES: dict[Format, str] = {
    "xml": "text/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
# Characters XML 1.0 does not allow (C0 controls but tab, LF, CR; surrogates; U+FFFE/FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(slots=True, frozen=True)
class Body:
    """A rendered response body and its Content-Type."""

    content: bytes
    media_type: str


def clean_text(text: str) -> str:
    """``text`` without the characters an XML 1.0 document cannot contain."""
    return _NOT_XML.sub("", text)


def w3c_datetime(value: datetime, zone: tzinfo) -> str:
    """A date-time in the W3C profile of ISO 8601, in ``zone``, to the second, with offset."""
    if value.tzinfo is None:
        raise ValueError("date-times must be timezone-aware")
    local = value.astimezone(zone).replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# -- the neutral tree ----------------------------------------------------------------------
# A document is a dict (an object), a list (of items) or a scalar. Lists carry the name of
# their items for XML: ListOf("service", [...]).


@dataclass(slots=True, frozen=True)
class ListOf:
    item: str
    items: Sequence[Any]


def _scalar_xml(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return clean_text(str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, ListOf):
        for item in value.items:
            _fill(ET.SubElement(element, value.item), item)
    else:
        element.text = _scalar_xml(value)


def _to_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, ListOf):
        return [_to_json(v) for v in value.items]
    if isinstance(value, str):
        return clean_text(value)
    return value


def render(root: str, document: Mapping[str, Any] | ListOf, fmt: Format) -> Body:
    """``document`` under the XML root element ``root``, or as JSON."""
    if fmt == "json":
        return Body(orjson.dumps(_to_json(document)), MEDIA_TYPES["json"])
    element = ET.Element(root)
    _fill(element, document)
    return Body(_DECLARATION + ET.tostring(element, encoding="utf-8", xml_declaration=False),
                MEDIA_TYPES["xml"])


def _text(texts: Mapping[str, str] | None, lang: Language) -> str | None:
    if not texts:
        return None
    return texts.get(lang) or texts.get("ru") or next(iter(texts.values()))


# -- documents -----------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Endpoint:
    """An endpoint of the discovery document."""

    url: str
    changeset: datetime
    type: Literal["production", "test"] = "production"
    specification: str = SPECIFICATION
    formats: tuple[str, ...] = ("text/xml", "application/json")


def discovery(
    changeset: datetime,
    contact: str,
    key_service: str,
    endpoints: Iterable[Endpoint],
    zone: tzinfo,
    fmt: Format,
) -> Body:
    """The service discovery document (``discovery.xml`` / ``discovery.json``)."""
    doc = {
        "changeset": w3c_datetime(changeset, zone),
        "contact": contact,
        "key_service": key_service,
        "endpoints": ListOf(
            "endpoint",
            [
                {
                    "specification": e.specification,
                    "url": e.url,
                    "changeset": w3c_datetime(e.changeset, zone),
                    "type": e.type,
                    "formats": ListOf("format", list(e.formats)),
                }
                for e in endpoints
            ],
        ),
    }
    return render("discovery", doc, fmt)


def _service(service: Service, lang: Language) -> dict[str, Any]:
    keywords = service.keywords.get(lang) or service.keywords.get("ru") or ()
    return {
        "service_code": service.code,
        "service_name": _text(service.name, lang),
        "description": _text(service.description, lang),
        "metadata": service.metadata,
        "type": service.type,
        "keywords": ", ".join(keywords),
        "group": _text(service.group, lang),
    }


def services(items: Iterable[Service], lang: Language, fmt: Format) -> Body:
    """GET Service List."""
    return render("services", ListOf("service", [_service(s, lang) for s in items]), fmt)


def service_definition(service: Service, lang: Language, fmt: Format) -> Body:
    """GET Service Definition: the service's attributes, in their order."""
    attributes = []
    for attr in sorted(service.attributes, key=lambda a: a.order):
        item: dict[str, Any] = {
            "variable": attr.variable,
            "code": attr.code,
            "datatype": attr.datatype,
            "required": attr.required,
            "datatype_description": _text(attr.datatype_description, lang),
            "order": attr.order,
            "description": _text(attr.description, lang),
        }
        if attr.datatype in ("singlevaluelist", "multivaluelist"):
            item["values"] = ListOf(
                "value", [{"key": v.key, "name": _text(v.name, lang)} for v in attr.values]
            )
        attributes.append(item)
    doc = {"service_code": service.code, "attributes": ListOf("attribute", attributes)}
    return render("service_definition", doc, fmt)


def _extended(value: Any) -> Any:
    """Extension values: objects nest, lists become ``<value>`` items in XML."""
    if isinstance(value, Mapping):
        return {k: _extended(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return ListOf("value", [_extended(v) for v in value])
    return value


def _request(req: ServiceRequest, zone: tzinfo, extensions: bool) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return w3c_datetime(value, zone) if value is not None else None

    doc: dict[str, Any] = {
        "service_request_id": req.service_request_id,
        "status": req.status,
        "status_notes": req.status_notes,
        "service_name": req.service_name,
        "service_code": req.service_code,
        "description": req.description,
        "agency_responsible": req.agency_responsible,
        "service_notice": req.service_notice,
        "requested_datetime": when(req.requested_datetime),
        "updated_datetime": when(req.updated_datetime),
        "expected_datetime": when(req.expected_datetime),
        "address": req.address,
        "address_id": req.address_id,
        "zipcode": req.zipcode,
        "lat": req.lat,
        "long": req.long,
        "media_url": req.media_url,
    }
    if extensions:
        doc["extended_attributes"] = {
            k: _extended(v) for k, v in req.extended_attributes.items()
        }
        doc["notes"] = ListOf(
            "note",
            [
                {
                    "datetime": when(n.at),
                    "type": n.kind,
                    "summary": n.summary,
                    "status": n.status,
                    "extended_status": n.extended_status,
                }
                for n in req.notes
            ],
        )
    return doc


def service_requests(
    items: Iterable[ServiceRequest], zone: tzinfo, fmt: Format, *, extensions: bool = False
) -> Body:
    """GET Service Requests and GET Service Request (an array of one)."""
    docs = [_request(r, zone, extensions) for r in items]
    return render("service_requests", ListOf("request", docs), fmt)


@dataclass(slots=True, frozen=True)
class PostResult:
    """What POST Service Request answers: an id (realtime services) or a token (batch)."""

    service_request_id: str | None = None
    token: str | None = None
    service_notice: str | None = None
    account_id: str | None = None


def post_result(results: Iterable[PostResult], fmt: Format) -> Body:
    docs = []
    for r in results:
        if (r.service_request_id is None) == (r.token is None):
            raise ValueError("a POST result has either a service_request_id or a token")
        doc: dict[str, Any] = (
            {"service_request_id": r.service_request_id}
            if r.service_request_id is not None
            else {"token": r.token}
        )
        doc["service_notice"] = r.service_notice
        doc["account_id"] = r.account_id
        docs.append(doc)
    return render("service_requests", ListOf("request", docs), fmt)


def tokens(pairs: Iterable[tuple[str, str | None]], fmt: Format) -> Body:
    """GET service_request_id from a token: ``(token, service_request_id)`` pairs (the id is
    None while the request is not yet created)."""
    docs = [{"service_request_id": rid, "token": tok} for tok, rid in pairs]
    return render("service_requests", ListOf("request", docs), fmt)


def errors(error: GeoReportError, fmt: Format) -> Body:
    docs = [{"code": code, "description": description} for code, description in error.errors]
    return render("errors", ListOf("error", docs), fmt)


def request_updates(items: Iterable[RequestUpdate], zone: tzinfo, fmt: Format) -> Body:
    """mySociety's GET servicerequestupdates."""
    docs = [
        {
            "update_id": u.update_id,
            "service_request_id": u.service_request_id,
            "status": u.status,
            "updated_datetime": w3c_datetime(u.updated_datetime, zone),
            "description": u.description,
            "media_url": u.media_url or "",
        }
        for u in items
    ]
    return render("service_request_updates", ListOf("request_update", docs), fmt)


def update_posted(update_id: str, fmt: Format) -> Body:
    """mySociety's POST servicerequestupdates: the id of the stored update."""
    return render(
        "service_request_updates", ListOf("request_update", [{"update_id": update_id}]), fmt
    )
