"""The shipped Smart Data Models @context documents."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pyld import jsonld

from qala.sdm import DOMAIN_CONTEXT_URLS, SDM_CONTEXT_URL, builtin_contexts, context_url_for_type
from qala.sdm.validation import SmartDataModels

SDM = "https://smartdatamodels.org/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
CORE_URL = "urn:test:ngsi-ld-core"
# just what these tests need of the NGSI-LD core context (the real one ships elsewhere)
CORE = {
    "@context": {
        "@version": 1.1,
        "ngsi-ld": "https://uri.etsi.org/ngsi-ld/",
        "@vocab": DEFAULT,
        "id": "@id",
        "type": "@type",
        "value": "ngsi-ld:hasValue",
        "object": {"@id": "ngsi-ld:hasObject", "@type": "@id"},
        "Property": "ngsi-ld:Property",
        "Relationship": "ngsi-ld:Relationship",
    }
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _expand(entity: dict[str, Any], context_url: str) -> dict[str, Any]:
    documents = {**builtin_contexts(), CORE_URL: CORE}

    def loader(url: str, options: object = None) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": documents[url]}

    document = {**entity, "@context": [context_url, CORE_URL]}
    (expanded,) = jsonld.expand(document, {"documentLoader": loader})
    return expanded  # type: ignore[no-any-return]


def test_urls() -> None:
    contexts = builtin_contexts()
    assert SDM_CONTEXT_URL == "https://smartdatamodels.org/context.jsonld"
    assert SDM_CONTEXT_URL in contexts
    for subject, urls in DOMAIN_CONTEXT_URLS.items():
        assert (
            urls[0]
            == f"https://raw.githubusercontent.com/smart-data-models/{subject}/master/context.jsonld"
        )
        for url in urls:
            assert contexts[url]["@context"]["id"] == "@id"
    assert (
        context_url_for_type("AirQualityObserved")
        == DOMAIN_CONTEXT_URLS["dataModel.Environment"][0]
    )
    assert context_url_for_type("Building") is None


def test_copies_are_independent() -> None:
    builtin_contexts()[SDM_CONTEXT_URL]["@context"]["pm25"] = "changed"
    assert (
        builtin_contexts()[SDM_CONTEXT_URL]["@context"]["pm25"]
        == f"{SDM}dataModel.Environment/pm25"
    )


def test_combined_context_covers_every_attribute_of_the_shipped_models() -> None:
    combined = builtin_contexts()[SDM_CONTEXT_URL]["@context"]
    sdm = SmartDataModels()
    for type_term in sdm.types():
        if type_term in DEFAULT_VOCABULARY_MODELS:
            continue
        schema = sdm.schema(type_term)
        scoped = combined[type_term].get("@context", {})
        own = schema["allOf"][-1]["properties"]
        for term in own:
            if term == "type":
                continue
            assert term in combined or term in scoped, (type_term, term)


#: Models whose attributes keep the core context's default vocabulary (docs/smart-data-models.md):
#: the Open311 capability writes them so, and the combined context must not give them other IRIs.
DEFAULT_VOCABULARY_MODELS = {"Open311_ServiceRequest"}


def test_open311_requests_keep_the_default_vocabulary() -> None:
    combined = builtin_contexts()[SDM_CONTEXT_URL]["@context"]
    sdm = SmartDataModels()
    for type_term in DEFAULT_VOCABULARY_MODELS:
        assert type_term not in combined
        own = sdm.schema(type_term)["allOf"][-1]["properties"]
        for term in ("service_request_id", "service_code", "requested_datetime"):
            assert term in own and term not in combined, term


def test_per_subject_terms_keep_their_subject_iri() -> None:
    combined = builtin_contexts()[SDM_CONTEXT_URL]["@context"]
    assert combined["fillingLevel"] == f"{SDM}dataModel.WasteManagement/fillingLevel"
    assert combined["name"] == f"{SDM}name"
    assert "temperature" not in combined  # two subjects disagree: left to the type scopes
    assert (
        combined["AirQualityObserved"]["@context"]["temperature"]
        == f"{SDM}dataModel.Environment/temperature"
    )
    assert (
        combined["WasteContainer"]["@context"]["temperature"]
        == f"{SDM}dataModel.WasteManagement/temperature"
    )


@pytest.mark.parametrize(
    ("type_term", "term", "iri"),
    [
        ("AirQualityObserved", "temperature", f"{SDM}dataModel.Environment/temperature"),
        ("WasteContainer", "temperature", f"{SDM}dataModel.WasteManagement/temperature"),
        ("OffStreetParking", "occupancy", f"{SDM}dataModel.Parking/occupancy"),
        ("TrafficFlowObserved", "occupancy", f"{SDM}dataModel.Transportation/occupancy"),
        ("ParkingSpot", "category", f"{SDM}dataModel.Parking/category"),
        ("AirQualityObserved", "pm25", f"{SDM}dataModel.Environment/pm25"),
        ("Streetlight", "name", f"{SDM}name"),
    ],
)
def test_combined_and_subject_contexts_expand_alike(type_term: str, term: str, iri: str) -> None:
    entity = {
        "id": f"urn:ngsi-ld:{type_term}:x:1",
        "type": type_term,
        term: {"type": "Property", "value": 1},
    }
    via_combined = _expand(entity, SDM_CONTEXT_URL)
    subject_url = context_url_for_type(type_term)
    assert subject_url is not None
    via_subject = _expand(entity, subject_url)
    assert iri in via_combined
    assert via_combined == via_subject
    assert via_combined["@type"] == [f"{DEFAULT}{type_term}"]
