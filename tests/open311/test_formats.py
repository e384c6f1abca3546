"""GeoReport v2 rendering: the specification's own examples, in XML and in JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as SafeET
import orjson
import pytest
from georeport_schemas import same_document, validate

from qala.open311 import formats
from qala.open311.catalogue import load
from qala.open311.model import (
    Agency,
    Attribute,
    AttributeValue,
    GeoReportError,
    Note,
    RequestUpdate,
    Service,
    ServiceRequest,
    Sla,
)

PACIFIC = timezone(timedelta(hours=-8))
ALMATY = ZoneInfo("Asia/Almaty")


def en(text: str) -> dict[str, str]:
    return {"en": text}


def spec_service(code: str, name: str, description: str, group: str) -> Service:
    return Service(
        code=code,
        name=en(name),
        description=en(description),
        group=en(group),
        keywords={"en": ("lorem", "ipsum", "dolor")},
        agency=Agency("city.sanitation", en("Sanitation")),
        sla=Sla(24),
        notice=en("notice"),
        attributes=(Attribute("X", "string", en("x")),),
    )


SPEC_SERVICES = [
    spec_service(
        "001",
        "Cans left out 24x7",
        "Garbage or recycling cans that have been left out for more than 24 hours after "
        "collection. Violators will be cited.",
        "sanitation",
    ),
    spec_service(
        "002",
        "Construction plate shifted",
        "Metal construction plate covering the street or sidewalk has been moved.",
        "street",
    ),
]


def spec_request(request_id: str, status: str, notes: str | None, day: int) -> ServiceRequest:
    at = datetime(2010, 4, day, 6, 37, 38, tzinfo=PACIFIC)
    return ServiceRequest(
        service_request_id=request_id,
        status=status,
        status_notes=notes,
        service_name="Sidewalk and Curb Issues",
        service_code="006",
        requested_datetime=at,
        updated_datetime=at,
        expected_datetime=at + timedelta(days=1),
        address="8TH AVE and JUDAH ST",
        address_id="545483",
        zipcode="94122",
        lat=37.762221815,
        long=-122.4651145,
        media_url=f"http://city.gov.s3.amazonaws.com/requests/media/{request_id}.jpg",
    )


def both(render, kind: str):
    """Render in both formats; check each and that they agree; return the JSON value."""
    xml_body, json_body = render("xml"), render("json")
    assert xml_body.media_type == "text/xml; charset=utf-8"
    assert json_body.media_type == "application/json; charset=utf-8"
    value = orjson.loads(json_body.content)
    validate(kind, value)

    same_document(kind, xml_body.content, value)
    return value


def test_service_list_example_renders_as_the_specification_writes_it() -> None:
    value = both(lambda f: formats.services(SPEC_SERVICES, "en", f), "services")
    assert value[0] == {
        "service_code": "001",
        "service_name": "Cans left out 24x7",
        "description": SPEC_SERVICES[0].description["en"],
        "metadata": True,
        "type": "realtime",
        "keywords": "lorem, ipsum, dolor",
        "group": "sanitation",
    }
    xml = formats.services(SPEC_SERVICES, "en", "xml").content
    assert b"<service_code>001</service_code>" in xml  # the code stays a string: 001, not 1


def test_service_definition_example_with_a_singlevaluelist() -> None:
    service = Service(
        code="DMV66",
        name=en("DMV"),
        description=en(""),
        group=en("dmv"),
        keywords={},
        agency=Agency("dmv", en("DMV")),
        sla=Sla(8),
        notice=en(""),
        attributes=(
            Attribute(
                code="WHISHETN",
                datatype="singlevaluelist",
                description=en("What is the ticket/tag/DL number?"),
                required=True,
                order=1,
                values=(AttributeValue("123", en("Ford")), AttributeValue("124", en("Chrysler"))),
            ),
        ),
    )
    value = both(lambda f: formats.service_definition(service, "en", f), "service_definition")
    assert value == {
        "service_code": "DMV66",
        "attributes": [
            {
                "variable": True,
                "code": "WHISHETN",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": None,
                "order": 1,
                "description": "What is the ticket/tag/DL number?",
                "values": [{"key": "123", "name": "Ford"}, {"key": "124", "name": "Chrysler"}],
            }
        ],
    }


def test_service_requests_example_keeps_the_zone_and_string_ids() -> None:
    items = [spec_request("638344", "closed", "Duplicate request.", 14),
             spec_request("638349", "open", None, 19)]  # fmt: skip
    value = both(lambda f: formats.service_requests(items, PACIFIC, f), "requests")
    first = value[0]
    assert first["service_request_id"] == "638344"
    assert first["requested_datetime"] == "2010-04-14T06:37:38-08:00"
    assert first["expected_datetime"] == "2010-04-15T06:37:38-08:00"
    assert first["address"] == "8TH AVE and JUDAH ST"
    assert (first["address_id"], first["zipcode"]) == ("545483", "94122")
    assert (first["lat"], first["long"]) == (37.762221815, -122.4651145)
    assert value[1]["status_notes"] is None and value[1]["description"] is None
    xml = formats.service_requests(items, PACIFIC, "xml").content
    assert b"<status_notes />" in xml or b"<status_notes></status_notes>" in xml


def test_a_single_request_is_an_array_of_one_in_json() -> None:
    value = both(
        lambda f: formats.service_requests([spec_request("638344", "closed", None, 14)],
                                           PACIFIC, f),
        "requests",
    )  # fmt: skip
    assert isinstance(value, list) and len(value) == 1


def test_post_result_example_is_an_array_with_id_notice_and_empty_account() -> None:
    notice = "The City will inspect and require the responsible party to correct within 24 hours"
    result = [formats.PostResult(service_request_id="293944", service_notice=notice)]
    value = both(lambda f: formats.post_result(result, f), "post_result")
    assert value == [{"service_request_id": "293944", "service_notice": notice,
                      "account_id": None}]  # fmt: skip
    xml = formats.post_result(result, "xml").content.decode()
    assert "<account_id />" in xml
    token_result = [formats.PostResult(token="12345")]
    assert orjson.loads(formats.post_result(token_result, "json").content) == [
        {"token": "12345", "service_notice": None, "account_id": None}
    ]
    with pytest.raises(ValueError):
        formats.post_result([formats.PostResult(service_request_id="1", token="2")], "json")


def test_token_example() -> None:
    value = both(lambda f: formats.tokens([("12345", "638344")], f), "tokens")
    assert value == [{"service_request_id": "638344", "token": "12345"}]


def test_error_example_in_both_formats() -> None:
    error = GeoReportError.one(
        403, "Invalid api_key received -- can't proceed with create_request."
    )
    value = both(lambda f: formats.errors(error, f), "errors")
    assert value == [{"code": "403", "description": error.errors[0][1]}]
    root = SafeET.fromstring(formats.errors(error, "xml").content)
    assert [(e.find("code").text, e.find("description").text) for e in root] == [
        ("403", "Invalid api_key received -- can't proceed with create_request.")
    ]


def test_several_errors_are_reported_together() -> None:
    error = GeoReportError(400, [("400", "lat and long must be sent together"),
                                 ("400", "attribute size is required")])  # fmt: skip
    assert len(both(lambda f: formats.errors(error, f), "errors")) == 2


def test_discovery_document() -> None:
    changeset = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    endpoint = formats.Endpoint("https://qala.example.kz/open311/v2", changeset)
    value = both(
        lambda f: formats.discovery(changeset, "Call 109", "Ask the akimat for a key",
                                    [endpoint], ALMATY, f),
        "discovery",
    )  # fmt: skip
    assert value["changeset"] == "2026-11-27T09:00:00+05:00"
    assert value["endpoints"][0]["formats"] == ["text/xml", "application/json"]
    assert value["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"


def test_every_catalogue_definition_is_valid_in_every_language() -> None:
    catalogue = load()
    for city in catalogue.cities:
        for lang in ("ru", "kk", "en"):
            both(lambda f, c=city, la=lang: formats.services(c.services, la, f), "services")
            for service in city.services:
                both(
                    lambda f, s=service, la=lang: formats.service_definition(s, la, f),
                    "service_definition",
                )


def test_the_catalogue_uses_every_datatype() -> None:
    used = {a.datatype for s in load().cities[0].services for a in s.attributes}
    assert used == {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


def test_markup_in_texts_is_escaped_and_xml_control_characters_are_dropped() -> None:
    request = spec_request("1", "open", "<b>bold</b> & <script>x</script>", 14)
    request.description = "Яма \x00\x07глубокая\x1f <img src=x onerror=alert(1)>"
    xml = formats.service_requests([request], ALMATY, "xml").content
    root = SafeET.fromstring(xml)  # well-formed despite the control characters
    item = root.find("request")
    assert item.find("status_notes").text == "<b>bold</b> & <script>x</script>"
    assert b"<script>" not in xml and b"&lt;script&gt;" in xml
    assert item.find("description").text == "Яма глубокая <img src=x onerror=alert(1)>"
    value = orjson.loads(formats.service_requests([request], ALMATY, "json").content)
    assert "\x00" not in value[0]["description"]


def test_date_times_are_shown_in_the_city_zone_with_offset() -> None:
    at = datetime(2026, 3, 20, 4, 30, 15, 123456, tzinfo=UTC)
    assert formats.w3c_datetime(at, ALMATY) == "2026-03-20T09:30:15+05:00"
    assert formats.w3c_datetime(at, UTC) == "2026-03-20T04:30:15Z"
    with pytest.raises(ValueError):
        formats.w3c_datetime(datetime(2026, 3, 20), ALMATY)


def test_extensions_add_extended_attributes_and_notes_only_when_asked() -> None:
    request = spec_request("7", "open", None, 14)
    request.extended_attributes = {"extended_status": "IN_PROGRESS", "supporters": 3,
                                   "media_urls": ["https://a.kz/1.jpg", "https://a.kz/2.jpg"]}
    request.notes = [Note(datetime(2010, 4, 14, 15, tzinfo=UTC), "status", "Crew sent",
                          "open", "IN_PROGRESS")]  # fmt: skip
    plain = orjson.loads(formats.service_requests([request], UTC, "json").content)[0]
    assert "extended_attributes" not in plain and "notes" not in plain
    value = both(
        lambda f: formats.service_requests([request], UTC, f, extensions=True), "requests"
    )[0]
    assert value["extended_attributes"]["supporters"] == 3
    assert value["notes"] == [{"datetime": "2010-04-14T15:00:00Z", "type": "status",
                               "summary": "Crew sent", "status": "open",
                               "extended_status": "IN_PROGRESS"}]  # fmt: skip


def test_request_updates_and_the_posted_update() -> None:
    update = RequestUpdate("u-1", "638344", "NOT_COUNCILS_RESPONSIBILITY",
                           datetime(2026, 3, 23, 9, tzinfo=UTC), "Передано в КСК")  # fmt: skip
    value = both(lambda f: formats.request_updates([update], ALMATY, f), "updates")
    assert value == [{"update_id": "u-1", "service_request_id": "638344",
                      "status": "NOT_COUNCILS_RESPONSIBILITY",
                      "updated_datetime": "2026-03-23T14:00:00+05:00",
                      "description": "Передано в КСК", "media_url": ""}]  # fmt: skip
    xml = formats.update_posted("u-1", "xml").content
    root = SafeET.fromstring(xml)
    assert root.tag == "service_request_updates"
    assert root.find("request_update/update_id").text == "u-1"
    assert orjson.loads(formats.update_posted("u-1", "json").content) == [{"update_id": "u-1"}]
