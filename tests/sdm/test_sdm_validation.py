"""Smart Data Models validation: offline, with useful messages."""

from __future__ import annotations

import copy
import socket
from typing import Any

import pytest

from qala.sdm import SmartDataModels, UnknownModelError, to_key_values
from qala.sdm import validation as validation_module


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def sdm() -> SmartDataModels:
    return SmartDataModels()


POINT = {"type": "Point", "coordinates": [71.4491, 51.1694]}
AT = "2026-01-15T09:00:00Z"

VALID: dict[str, dict[str, Any]] = {
    "AirQualityObserved": {
        "id": "urn:ngsi-ld:AirQualityObserved:almaty:000001",
        "type": "AirQualityObserved",
        "dateObserved": AT,
        "location": POINT,
        "pm25": 112.4,
        "pm10": 180.0,
        "no2": 48.1,
        "so2": 21.0,
        "co": 1.6,
        "o3": 22.3,
        "temperature": -7.5,
        "relativeHumidity": 0.81,
        "typeofLocation": "outdoor",
        "address": {"addressLocality": "Almaty", "addressCountry": "KZ"},
    },
    "Streetlight": {
        "id": "urn:ngsi-ld:Streetlight:astana:000123",
        "type": "Streetlight",
        "location": POINT,
        "status": "ok",
        "powerState": "on",
        "illuminanceLevel": 1.0,
        "refStreetlightGroup": "urn:ngsi-ld:StreetlightGroup:astana:000001",
    },
    "WasteContainer": {
        "id": "urn:ngsi-ld:WasteContainer:astana:000007",
        "type": "WasteContainer",
        "location": POINT,
        "fillingLevel": 0.42,
        "status": "ok",
        "storedWasteKind": "plastic",
        "category": ["ground"],
        "dateLastEmptying": AT,
    },
    "ParkingSpot": {
        "id": "urn:ngsi-ld:ParkingSpot:astana:000001",
        "type": "ParkingSpot",
        "location": POINT,
        "status": "free",
        "category": ["offStreet"],
        "refParkingSite": "urn:ngsi-ld:OffStreetParking:astana:000001",
    },
    "OffStreetParking": {
        "id": "urn:ngsi-ld:OffStreetParking:astana:000001",
        "type": "OffStreetParking",
        "location": POINT,
        "totalSpotNumber": 120,
        "availableSpotNumber": 31,
        "occupancy": 0.742,
        "status": ["spacesAvailable"],
        "category": ["public", "feeCharged", "parkingLot"],
        "averageSpotLength": 5.0,
    },
    "TrafficFlowObserved": {
        "id": "urn:ngsi-ld:TrafficFlowObserved:astana:000002",
        "type": "TrafficFlowObserved",
        "dateObserved": "2016-12-07T11:10:00/2016-12-07T11:15:00",
        "dateObservedFrom": "2016-12-07T11:10:00Z",
        "dateObservedTo": "2016-12-07T11:15:00Z",
        "location": {"type": "LineString", "coordinates": [[71.40, 51.10], [71.41, 51.11]]},
        "laneId": 1,
        "intensity": 197,
        "occupancy": 0.76,
        "averageVehicleSpeed": 52.6,
        "laneDirection": "forward",
        "reversedLane": False,
    },
    "EVChargingStation": {
        "id": "urn:ngsi-ld:EVChargingStation:astana:000003",
        "type": "EVChargingStation",
        "location": POINT,
        "capacity": 4,
        "availableCapacity": 2,
        "socketType": ["Type2", "CCS/SAE"],
        "allowedVehicleType": ["car"],
        "status": "working",
    },
    "PublicTransportStop": {
        "id": "urn:ngsi-ld:PublicTransportStop:astana:000010",
        "type": "PublicTransportStop",
        "name": "Остановка 10",
        "location": POINT,
        "transportationType": [3],
        "wheelChairAccessible": "1",
        "peopleCount": 4,
    },
    "GtfsStop": {
        "id": "urn:ngsi-ld:GtfsStop:astana:000010",
        "type": "GtfsStop",
        "name": "Stop 10",
        "code": "AST00010",
        "location": POINT,
        "wheelChairAccessible": "0",
    },
    "Open311_ServiceRequest": {
        "id": "urn:ngsi-ld:Open311_ServiceRequest:astana:1201",
        "type": "Open311_ServiceRequest",
        "service_request_id": "1201",
        "service_code": "POTHOLE",
        "service_name": "Pothole",
        "agency_responsible": "astana.roads",
        "status": "open",
        "description": "Яма у остановки",
        "requested_datetime": AT,
        "expected_datetime": "2026-01-19T18:00:00Z",
        "location": POINT,
    },
}


def test_every_shipped_model_has_a_valid_example(sdm: SmartDataModels) -> None:
    assert sorted(VALID) == sdm.types()
    for type_term, entity in VALID.items():
        assert sdm.has_model(type_term)
        assert sdm.validate(type_term, entity) == [], type_term
        assert sdm.is_valid(type_term, entity)


def test_unknown_types(sdm: SmartDataModels) -> None:
    assert not sdm.has_model("Building")
    with pytest.raises(UnknownModelError):
        sdm.validate("Building", {"id": "x", "type": "Building"})


def test_wrong_type_of_pm25(sdm: SmartDataModels) -> None:
    entity = dict(VALID["AirQualityObserved"], pm25="very high")
    assert sdm.validate("AirQualityObserved", entity) == [
        '$.pm25: expected number, got string "very high"'
    ]


def test_out_of_range_values(sdm: SmartDataModels) -> None:
    entity = dict(VALID["AirQualityObserved"], relativeHumidity=81, pm10=-3)
    assert sdm.validate("AirQualityObserved", entity) == [
        "$.pm10: -3 is out of range (must be >= 0)",
        "$.relativeHumidity: 81 is out of range (must be <= 1)",
    ]


def test_unknown_enum_value_of_streetlight_status(sdm: SmartDataModels) -> None:
    entity = dict(VALID["Streetlight"], status="broken")
    (message,) = sdm.validate("Streetlight", entity)
    assert message.startswith('$.status: "broken" is not one of the allowed values')
    assert '"brokenLantern"' in message and '"ok"' in message


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ({"type": "Point", "coordinates": "71.4,51.1"}, "$.location.coordinates: expected array"),
        ({"type": "Point", "coordinates": [71.4]}, "$.location.coordinates: needs at least 2"),
        ({"type": "Point", "coordinates": [71.4, "51.1"]}, "$.location.coordinates[1]: expected"),
        ({"type": "Pointy", "coordinates": [71.4, 51.1]}, "$.location: "),
        ({"coordinates": [71.4, 51.1]}, "$.location"),
        ("51.1694, 71.4491", "$.location"),
    ],
)
def test_bad_location(sdm: SmartDataModels, location: object, expected: str) -> None:
    entity = dict(VALID["Streetlight"], location=location)
    messages = sdm.validate("Streetlight", entity)
    assert len(messages) == 1, messages
    assert messages[0].startswith(expected), messages


def test_bad_location_names_the_allowed_geometries(sdm: SmartDataModels) -> None:
    entity = dict(VALID["Streetlight"], location={"type": "Pointy", "coordinates": [1, 2]})
    (message,) = sdm.validate("Streetlight", entity)
    assert "GeoJSON Point" in message and "GeoJSON MultiPolygon" in message


def test_required_attributes(sdm: SmartDataModels) -> None:
    messages = sdm.validate(
        "ParkingSpot", {"id": "urn:ngsi-ld:ParkingSpot:x:1", "type": "ParkingSpot"}
    )
    assert "$.refParkingSite: required attribute is missing" in messages
    assert "$.status: required attribute is missing" in messages
    assert "$.location: required attribute is missing" in messages


def test_type_must_match_the_model(sdm: SmartDataModels) -> None:
    entity = dict(VALID["Streetlight"], type="StreetLight")
    (message,) = sdm.validate("Streetlight", entity)
    assert message.startswith(
        '$.type: "StreetLight" is not one of the allowed values ("Streetlight")'
    )


def test_formats_are_checked_offline(sdm: SmartDataModels) -> None:
    entity = dict(VALID["AirQualityObserved"], dateObserved="15.01.2026 09:00")
    assert sdm.validate("AirQualityObserved", entity) == [
        '$.dateObserved: "15.01.2026 09:00" is not a valid date-time'
    ]
    entity = dict(VALID["ParkingSpot"], refParkingSite="not an id")
    (message,) = sdm.validate("ParkingSpot", entity)
    assert message.startswith('$.refParkingSite: "not an id" has none of the allowed forms')


def test_array_enums_and_items(sdm: SmartDataModels) -> None:
    entity = dict(VALID["EVChargingStation"], socketType=["Type2", "GB/T"], capacity=2.5)
    messages = sdm.validate("EVChargingStation", entity)
    assert messages[0] == "$.capacity: expected integer, got number 2.5"
    assert messages[1].startswith('$.socketType[1]: "GB/T" is not one of the allowed values')


def test_off_street_parking_exclusive_minimum_is_a_number(sdm: SmartDataModels) -> None:
    # upstream writes the draft-04 boolean form, which would reject every value under 2020-12
    assert sdm.validate("OffStreetParking", VALID["OffStreetParking"]) == []
    entity = dict(VALID["OffStreetParking"], averageSpotLength=0)
    assert sdm.validate("OffStreetParking", entity) == [
        "$.averageSpotLength: 0 is out of range (must be > 0)"
    ]


def test_both_engines_agree(sdm: SmartDataModels) -> None:
    if validation_module.fastjsonschema is None:
        pytest.skip("fastjsonschema is not installed")
    slow = SmartDataModels()
    slow._fast = dict.fromkeys(slow.types())  # jsonschema only
    broken = [
        ("AirQualityObserved", {"pm25": "x"}),
        ("Streetlight", {"status": "broken"}),
        ("Streetlight", {"location": {"type": "Point", "coordinates": [1]}}),
        ("EVChargingStation", {"socketType": []}),
        ("TrafficFlowObserved", {"laneId": 0}),
    ]
    for type_term, change in [(t, {}) for t in VALID] + broken:
        entity = {**VALID[type_term], **change}
        assert sdm.validate(type_term, entity) == slow.validate(type_term, entity)
        assert sdm.is_valid(type_term, entity) == slow.is_valid(type_term, entity)


def test_schemas_resolve_their_refs_locally(sdm: SmartDataModels) -> None:
    for type_term in sdm.types():
        info = sdm.info(type_term)
        assert info.schema_id.startswith("https://smart-data-models.github.io/dataModel.")
        assert info.source
        schema = sdm.schema(type_term)
        schema["title"] = "changed"  # a copy
        assert sdm.schema(type_term)["title"] != "changed"


def test_to_key_values_from_normalized() -> None:
    normalized = {
        "id": "urn:ngsi-ld:PublicTransportStop:almaty:000001",
        "type": "PublicTransportStop",
        "@context": ["https://smartdatamodels.org/context.jsonld"],
        "name": {
            "type": "LanguageProperty",
            "languageMap": {"ru": "Остановка 1", "kk": "Аялдама 1", "en": "Stop 1"},
        },
        "location": {"type": "GeoProperty", "value": POINT},
        "transportationType": {"type": "Property", "value": [3]},
        "refPublicTransportRoute": {
            "type": "Relationship",
            "object": "urn:ngsi-ld:PublicTransportRoute:almaty:1",
        },
        "peopleCount": [
            {"type": "Property", "value": 7, "datasetId": "urn:ngsi-ld:Dataset:camera"},
            {"type": "Property", "value": 5, "observedAt": AT},
        ],
        "dateObserved": {"type": "Property", "value": {"@type": "DateTime", "@value": AT}},
        "modifiedAt": AT,
    }
    assert to_key_values(normalized) == {
        "id": "urn:ngsi-ld:PublicTransportStop:almaty:000001",
        "type": "PublicTransportStop",
        "name": "Stop 1",
        "location": POINT,
        "transportationType": [3],
        "refPublicTransportRoute": "urn:ngsi-ld:PublicTransportRoute:almaty:1",
        "peopleCount": 5,
        "dateObserved": AT,
    }
    assert to_key_values(normalized, languages=("kk",))["name"] == "Аялдама 1"
    plain = copy.deepcopy(VALID["AirQualityObserved"])
    assert to_key_values(plain) == plain
