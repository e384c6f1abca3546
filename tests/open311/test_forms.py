"""Reading POST bodies and query parameters: the specification's rules and FixMyStreet's ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from qala.open311.catalogue import load
from qala.open311.forms import (
    parse_form,
    parse_requests_query,
    parse_service_request,
    parse_update,
    parse_updates_query,
    plain_text,
)
from qala.open311.model import GeoReportError

CATALOGUE = load()
NOW = datetime(2026, 3, 24, 6, 0, tzinfo=UTC)


def form(**fields: str) -> list[tuple[str, str]]:
    return parse_form(urlencode(fields).encode())


def base(**extra: str) -> dict[str, str]:
    fields = {
        "jurisdiction_id": "astana",
        "service_code": "POTHOLE",
        "lat": "51.1282",
        "long": "71.4306",
        "attribute[size]": "medium",
    }
    fields.update(extra)
    return fields


def error(call) -> GeoReportError:
    with pytest.raises(GeoReportError) as info:
        call()
    return info.value


def test_the_specification_example_request_parses() -> None:
    body = (
        b"api_key=xyz&jurisdiction_id=astana&service_code=POTHOLE&lat=51.12824078"
        b"&long=71.4212043&address_string=1234+5th+street&email=smit333%40sfgov.edu"
        b"&device_id=tt222111&account_id=123456&first_name=john&last_name=smith&phone=111111111"
        b"&description=A+large+sinkhole+is+destroying+the+street"
        b"&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg"
        b"&attribute[size]=large&attribute[WHISDORN]=COISL001"
    )
    new = parse_service_request(parse_form(body), CATALOGUE)
    assert new.city.tenant == "astana" and new.service.code == "POTHOLE"
    assert new.api_key == "xyz"
    assert (new.lat, new.long) == (51.12824078, 71.4212043)
    assert new.address_string == "1234 5th street"
    assert new.personal.email == "smit333@sfgov.edu"
    assert new.personal.device_id == "tt222111" and new.personal.account_id == "123456"
    assert new.description == "A large sinkhole is destroying the street"
    assert new.media_urls == ["http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"]
    assert new.attributes == {"size": "large"}
    assert new.extra == {"WHISDORN": "COISL001"}  # not in the definition: kept aside


def test_jurisdiction_is_required_and_must_exist() -> None:
    missing = error(lambda: parse_service_request(form(service_code="POTHOLE"), CATALOGUE))
    assert missing.status == 400 and "jurisdiction_id" in missing.errors[0][1]
    unknown = error(lambda: parse_service_request(form(**base(jurisdiction_id="sfgov.org")),
                                                  CATALOGUE))  # fmt: skip
    assert unknown.status == 404


def test_service_code_missing_is_400_and_unknown_is_404() -> None:
    fields = base()
    del fields["service_code"]
    assert error(lambda: parse_service_request(form(**fields), CATALOGUE)).status == 400
    unknown = error(lambda: parse_service_request(form(**base(service_code="UFO")), CATALOGUE))
    assert unknown.status == 404 and "UFO" in unknown.errors[0][1]


def test_an_optional_parameter_sent_empty_is_absent() -> None:
    new = parse_service_request(
        form(**base(email="", phone="  ", description="", address_string="")), CATALOGUE
    )
    assert new.personal.email is None and new.personal.phone is None
    assert new.description is None and new.address_string is None


@pytest.mark.parametrize(
    ("location", "ok"),
    [
        ({"lat": "51.1", "long": "71.4"}, True),
        ({"address_string": "ул. Кенесары, 40"}, True),
        ({"address_id": "A-100"}, True),
        ({"lat": "51.1"}, False),
        ({"long": "71.4"}, False),
        ({}, False),
        ({"lat": "", "long": "", "address_string": ""}, False),
        ({"lat": "91", "long": "71"}, False),
        ({"lat": "nan", "long": "71"}, False),
        ({"lat": "51", "long": "abc"}, False),
    ],
)
def test_a_location_is_lat_and_long_an_address_string_or_an_address_id(
    location: dict[str, str], ok: bool
) -> None:
    fields = {k: v for k, v in base().items() if k not in ("lat", "long")} | location
    if ok:
        parse_service_request(form(**fields), CATALOGUE)
    else:
        assert error(lambda: parse_service_request(form(**fields), CATALOGUE)).status == 400


def test_fixmystreet_not_pinpointed_address_id_is_a_location_but_not_an_address() -> None:
    fields = {k: v for k, v in base().items() if k not in ("lat", "long")}
    new = parse_service_request(form(**fields, address_id="#NOTPINPOINTED#"), CATALOGUE)
    assert new.pinpointed is False and new.address_id is None and new.lat is None


def test_fixmystreet_deviceid_repeated_media_url_and_fixmystreet_id() -> None:
    pairs = form(**base(deviceid="android-7", **{"attribute[fixmystreet_id]": "10034"}))
    pairs += [("media_url", "https://fms.example.com/p/1.jpeg"),
              ("media_url", "https://fms.example.com/p/2.jpeg")]  # fmt: skip
    new = parse_service_request(pairs, CATALOGUE)
    assert new.personal.device_id == "android-7"
    assert new.media_urls == [
        "https://fms.example.com/p/1.jpeg",
        "https://fms.example.com/p/2.jpeg",
    ]
    assert new.external_id == "10034" and "fixmystreet_id" not in new.extra


def test_a_parameter_given_twice_with_different_values_is_refused() -> None:
    pairs = [*form(**base()), ("lat", "43.2")]
    assert "more than once" in error(lambda: parse_service_request(pairs, CATALOGUE)).errors[0][1]


def test_description_is_at_most_4000_characters_of_plain_text() -> None:
    parse_service_request(form(**base(description="я" * 4000)), CATALOGUE)
    too_long = error(lambda: parse_service_request(form(**base(description="я" * 4001)),
                                                   CATALOGUE))  # fmt: skip
    assert too_long.status == 400 and "4000" in too_long.errors[0][1]
    new = parse_service_request(
        form(**base(description="Яма <b>большая</b><script>alert(1)</script>\r\n"
                                "у дома &amp; магазина")),
        CATALOGUE,
    )
    assert new.description == "Яма большая\nу дома & магазина"


def test_plain_text_keeps_comparisons_that_are_not_markup() -> None:
    assert plain_text("глубина < 5 см, ширина > 1 м") == "глубина < 5 см, ширина > 1 м"


def test_multivaluelist_takes_repeated_bracketed_values() -> None:
    fields = base(service_code="DUMPING")
    del fields["attribute[size]"]
    pairs = [
        *form(**fields),
        ("attribute[waste_types][]", "construction"),
        ("attribute[waste_types][]", "tyres"),
        ("attribute[waste_types][]", "tyres"),
        ("attribute[volume_m3]", "2,5"),
        ("attribute[details]", "Ночью, грузовик\nномер 123 ABC 01"),
    ]
    new = parse_service_request(pairs, CATALOGUE)
    assert new.attributes == {"waste_types": ["construction", "tyres"], "volume_m3": 2.5,
                              "details": "Ночью, грузовик\nномер 123 ABC 01"}  # fmt: skip


def test_attributes_are_checked_against_the_definition_and_all_problems_reported() -> None:
    fields = base(service_code="HEATING")
    del fields["attribute[size]"]
    pairs = [*form(**fields), ("attribute[scope]", "street"),
             ("attribute[indoor_temperature]", "55")]  # fmt: skip
    problem = error(lambda: parse_service_request(pairs, CATALOGUE))
    assert problem.status == 400
    texts = " | ".join(d for _, d in problem.errors)
    assert len(problem.errors) == 3
    assert "scope" in texts and "'street'" in texts
    assert "outage_since is required" in texts
    assert "indoor_temperature" in texts and "maximum 40" in texts


@pytest.mark.parametrize(
    ("code", "value", "accepted"),
    [
        ("stopped_since", "2026-01-15T08:30:00+05:00", True),
        ("stopped_since", "2026-01-15T08:30", True),  # an HTML datetime-local: city time
        ("stopped_since", "вчера", False),
        ("entrance", "3", True),
        ("entrance", "3\n4", False),  # a string has no line breaks
    ],
)
def test_datetime_and_string_attributes(code: str, value: str, accepted: bool) -> None:
    fields = base(service_code="LIFT", **{"attribute[entrance]": "2"})
    del fields["attribute[size]"]
    fields[f"attribute[{code}]"] = value
    if accepted:
        new = parse_service_request(form(**fields), CATALOGUE)
        if code == "stopped_since":
            assert new.attributes["stopped_since"] == datetime(2026, 1, 15, 3, 30, tzinfo=UTC)
    else:
        assert error(lambda: parse_service_request(form(**fields), CATALOGUE)).status == 400


def test_information_only_attributes_ignore_what_is_sent() -> None:
    fields = base(service_code="LIFT", **{"attribute[entrance]": "2",
                                          "attribute[trapped_warning]": "hello"})  # fmt: skip
    del fields["attribute[size]"]
    assert "trapped_warning" not in parse_service_request(form(**fields), CATALOGUE).attributes


def test_a_singlevaluelist_takes_one_value() -> None:
    pairs = [*form(**base()), ("attribute[size][]", "large")]
    assert error(lambda: parse_service_request(pairs, CATALOGUE)).status == 400


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.jpg",
        "javascript:alert(1)",
        "http://127.0.0.1/a.jpg",
        "http://10.0.0.5/a.jpg",
        "http://[::1]/a.jpg",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:8080/a.jpg",
        "https://",
    ],
)
def test_media_url_must_be_public_http(url: str) -> None:
    fields = form(**base(media_url=url))
    assert error(lambda: parse_service_request(fields, CATALOGUE)).status == 400


def test_email_must_look_like_one() -> None:
    fields = form(**base(email="nobody"))
    assert error(lambda: parse_service_request(fields, CATALOGUE)).status == 400


def test_language_parameter_chooses_the_catalogue_language() -> None:
    assert parse_service_request(form(**base(lang="kk-KZ")), CATALOGUE).lang == "kk"
    assert parse_service_request(form(**base()), CATALOGUE).lang == "ru"
    assert error(lambda: parse_service_request(form(**base(lang="de")), CATALOGUE)).status == 400


def test_a_body_that_is_not_utf8_is_refused() -> None:
    assert error(lambda: parse_form(b"description=\xff\xfe")).status == 400


# -- GET requests -------------------------------------------------------------------------------


def query(**fields: str):
    return parse_requests_query(form(jurisdiction_id="astana", **fields), CATALOGUE, NOW)


def test_get_requests_defaults_to_the_last_90_days_and_1000_results() -> None:
    q = query()
    assert (q.start, q.end) == (NOW - timedelta(days=90), NOW)
    assert (q.page, q.page_size) == (1, 1000)
    assert q.ids is None and not q.statuses and not q.extensions


def test_a_comma_list_of_ids_overrides_every_other_parameter() -> None:
    q = query(service_request_id="12, 15,12", status="bogus", start_date="never")
    assert q.ids == ["12", "15"] and q.start is None and not q.statuses


def test_date_ranges_over_90_days_are_refused() -> None:
    q = query(start_date="2026-01-01T00:00:00Z", end_date="2026-03-31T00:00:00+05:00")
    assert q.end - q.start <= timedelta(days=90)
    too_long = error(lambda: query(start_date="2025-12-01T00:00:00Z",
                                   end_date="2026-03-31T00:00:00Z"))  # fmt: skip
    assert too_long.status == 400 and "90 days" in too_long.errors[0][1]
    assert error(lambda: query(start_date="2026-03-02T00:00:00Z",
                               end_date="2026-03-01T00:00:00Z")).status == 400  # fmt: skip


def test_one_date_alone_gives_the_90_days_from_or_up_to_it() -> None:
    q = query(start_date="2026-01-01")
    assert q.start == datetime(2025, 12, 31, 19, tzinfo=UTC)  # midnight in UTC+5
    assert q.end == q.start + timedelta(days=90)


def test_date_times_need_a_zone_and_a_plus_sent_unencoded_is_understood() -> None:
    assert error(lambda: query(start_date="2026-03-01T10:00:00")).status == 400
    # "+05:00" unencoded in a query string arrives as " 05:00"
    body = b"jurisdiction_id=astana&start_date=2026-03-01T10:00:00+05:00"
    q = parse_requests_query(parse_form(body), CATALOGUE, NOW)
    assert q.start == datetime(2026, 3, 1, 5, tzinfo=UTC)


def test_status_and_service_code_take_comma_lists() -> None:
    q = query(status="open,CLOSED", service_code="POTHOLE,BIN")
    assert q.statuses == ["open", "closed"] and q.service_codes == ["POTHOLE", "BIN"]
    assert error(lambda: query(status="open,fixed")).status == 400
    assert error(lambda: query(service_code="UFO")).status == 404


def test_paging_updated_window_and_extensions() -> None:
    q = query(page="3", page_size="50", updated_after="2026-03-20T00:00:00Z", extensions="true")
    assert (q.page, q.page_size, q.extensions) == (3, 50, True)
    assert q.start is None  # the updated window selects instead of the requested one
    assert q.updated_after == datetime(2026, 3, 20, tzinfo=UTC)
    assert q.updated_before == q.updated_after + timedelta(days=90)
    for bad in ({"page": "0"}, {"page_size": "1001"}, {"page": "x"}, {"extensions": "yes"}):
        assert error(lambda b=bad: query(**b)).status == 400


# -- servicerequestupdates ------------------------------------------------------------------------


def update_form(**extra: str) -> list[tuple[str, str]]:
    fields = {
        "jurisdiction_id": "almaty",
        "api_key": "k",
        "update_id": "271882",
        "service_request_id": "42",
        "status": "IN_PROGRESS",
        "updated_datetime": "2026-03-23T11:00:00+05:00",
        "description": "Бригада выехала",
        "first_name": "Айгерим",
        "last_name": "Сапарова",
        "email": "a@example.kz",
    }
    fields.update(extra)
    return form(**fields)


def test_a_posted_update_parses_with_its_extended_status() -> None:
    update = parse_update(update_form(), CATALOGUE, NOW)
    assert (update.update_id, update.service_request_id, update.status) == (
        "271882", "42", "IN_PROGRESS")  # fmt: skip
    assert update.updated_datetime == datetime(2026, 3, 23, 6, tzinfo=UTC)
    assert update.personal.first_name == "Айгерим"
    assert parse_update(update_form(status="not councils responsibility"), CATALOGUE,
                        NOW).status == "NOT_COUNCILS_RESPONSIBILITY"  # fmt: skip


@pytest.mark.parametrize(
    "status",
    ["IN_PROGRESS", "ACTION_SCHEDULED", "DUPLICATE", "NOT_COUNCILS_RESPONSIBILITY",
     "NO_FURTHER_ACTION", "INTERNAL_REFERRAL", "CLOSED", "FIXED", "OPEN", "INVESTIGATING"],
)  # fmt: skip
def test_every_extended_status_is_accepted(status: str) -> None:
    assert parse_update(update_form(status=status), CATALOGUE, NOW).status == status


def test_a_posted_update_needs_its_fields_a_known_status_and_a_past_date() -> None:
    missing = error(lambda: parse_update(form(jurisdiction_id="almaty"), CATALOGUE, NOW))
    assert len(missing.errors) == 4
    assert error(lambda: parse_update(update_form(status="DONE"), CATALOGUE, NOW)).status == 400
    future = (NOW + timedelta(hours=1)).isoformat()
    assert error(lambda: parse_update(update_form(updated_datetime=future), CATALOGUE,
                                      NOW)).status == 400  # fmt: skip


def test_get_updates_window() -> None:
    q = parse_updates_query(form(jurisdiction_id="almaty", start_date="2026-03-23T00:00:00Z",
                                 end_date="2026-03-24T00:00:00Z"), CATALOGUE, NOW)  # fmt: skip
    assert q.end - q.start == timedelta(days=1)
    assert parse_updates_query(form(jurisdiction_id="almaty"), CATALOGUE, NOW).end == NOW
