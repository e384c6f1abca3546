"""Service requests mirrored into the hub: one NGSI-LD entity per request, in its city.

The entity's type is ``Open311_ServiceRequest``, the name of the Smart Data Model of the
IssueTracking subject; its schema ships in ``qala.sdm``, so a city with Smart Data Models
validation on has every write of it checked. Terms are those of the NGSI-LD core
@context (``status``, ``location``) and its default vocabulary for the rest, so a client using
the core context reads them by these short names:

* ``description`` (the core context's term, ``dc:description``);
* ``service_request_id``, ``service_code``, ``service_name``, ``agency_responsible`` (the
  agency id), ``status`` (open/closed), ``extended_status`` (mySociety's), ``description``
  and ``address_string`` (masked as in public output: no personal data enters the hub);
* ``requested_datetime``, ``updated_datetime``, ``expected_datetime``, ``closed_datetime``
  (DateTime properties), ``escalated`` (true once overdue and escalated);
* ``location`` (a GeoJSON Point, when the request has coordinates);
* ``refEntity`` — the hub entity the request concerns (the streetlight, container, lift…),
  a Relationship, when known.

Subscriptions on this type tell the responsible service the moment a request is filed or
changes; the temporal API keeps its history. The entity is rewritten from the request's row
on every change, so writing it twice is harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qala.hub import Entity, Instance
from qala.open311.catalogue import City
from qala.open311.privacy import mask
from qala.open311.repository import StoredRequest

CORE = "https://uri.etsi.org/ngsi-ld/"
VOCAB = CORE + "default-context/"
TYPE = VOCAB + "Open311_ServiceRequest"
TYPE_NAME = "Open311_ServiceRequest"

STATUS = CORE + "status"
LOCATION = CORE + "location"
DESCRIPTION = "http://purl.org/dc/terms/description"
REF_ENTITY = VOCAB + "refEntity"
ESCALATED = VOCAB + "escalated"


def term(name: str) -> str:
    """The expanded IRI of an attribute of the type."""
    return {"status": STATUS, "location": LOCATION, "description": DESCRIPTION}.get(
        name, VOCAB + name
    )


def entity_id(tenant: str, num: int) -> str:
    return f"urn:ngsi-ld:{TYPE_NAME}:{tenant}:{num}"


def _prop(value: Any) -> Instance:
    return {"type": "Property", "value": value}


def _when(value: datetime | None) -> Instance | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"type": "Property", "value": {"@type": "DateTime", "@value": text}}


def attributes(req: StoredRequest, city: City | None) -> dict[str, Instance]:
    """Every attribute of the request's entity, from its stored state (None values left out)."""
    service = None
    if city is not None:
        service = next((s for s in city.services if s.code == req.service_code), None)
    values: dict[str, Instance | None] = {
        term("service_request_id"): _prop(req.service_request_id),
        term("service_code"): _prop(req.service_code),
        term("service_name"): _prop(service.name["en"]) if service is not None else None,
        term("agency_responsible"): _prop(req.agency) if req.agency else None,
        STATUS: _prop(req.status),
        term("extended_status"): _prop(req.extended_status),
        term("description"): _prop(mask(req.description, req.personal))
        if req.description
        else None,
        term("address_string"): _prop(mask(req.address)) if req.address else None,
        term("requested_datetime"): _when(req.requested_at),
        term("updated_datetime"): _when(req.updated_at),
        term("expected_datetime"): _when(req.expected_at),
        term("closed_datetime"): _when(req.closed_at),
    }
    if req.lat is not None and req.long is not None:
        values[LOCATION] = {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [req.long, req.lat]},
        }
    if req.entity_id:
        values[REF_ENTITY] = {"type": "Relationship", "object": req.entity_id}
    return {k: v for k, v in values.items() if v is not None}


def entity(req: StoredRequest, city: City | None) -> Entity:
    return Entity(
        id=entity_id(req.tenant, req.num), types=[TYPE], attrs=attributes(req, city)
    )
