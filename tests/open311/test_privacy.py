"""Public output shows no personal data; IINs, phones and emails are masked in free text."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from qala.open311 import formats
from qala.open311.catalogue import load
from qala.open311.model import Personal
from qala.open311.privacy import mask, public_request
from qala.open311.repository import Event, StoredRequest

CITY = load().city("astana")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ИИН 900101300123, прошу связаться", "ИИН ************, прошу связаться"),
        ("ЖСН 900101 300123", "ЖСН ****** ******"),
        ("тел. +7 701 123 45 67", "тел. +* *** *** ** **"),
        ("+7 (701) 123-45-67", "+* (***) ***-**-**"),
        ("8 701 1234567 вечером", "* *** ******* вечером"),
        ("87011234567", "***********"),
        ("+77011234567", "+***********"),
        ("диспетчер 8 (7172) 55-66-77", "диспетчер * (****) **-**-**"),
        ("пишите на aigerim.s@mail.kz", "пишите на ***@***"),
    ],
)
def test_personal_numbers_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "дом 12, кв. 45, подъезд 3",
        "яма 2026-03-21 глубиной 15 см",
        "ул. Кенесары 40/1, этаж 9",
        "опора № 1234567",
        "номер машины 123 ABC 01",
    ],
)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert mask(text) == text


def stored(**changes: object) -> StoredRequest:
    record = StoredRequest(
        tenant="astana", num=17, token="t" * 32, service_code="LIFT", status="open",
        extended_status="IN_PROGRESS", status_notes="Мастер позвонит: 8 701 555 12 34",
        description="Лифт стоит. Я Айгерим Сапарова, ИИН 900101300123, тел +77015551234",
        agency="astana.housing", assigned_to="inspector-5", service_notice=None, lang="ru",
        requested_at=datetime(2026, 1, 12, 3, tzinfo=UTC),
        updated_at=datetime(2026, 1, 12, 5, tzinfo=UTC),
        expected_at=datetime(2026, 1, 13, 3, tzinfo=UTC), closed_at=None,
        address="пр. Республики 24", address_id=None, zipcode="010000", lat=51.16, long=71.43,
        pinpointed=True, media_urls=["https://img.example.kz/1.jpg"],
        attributes={"entrance": "2"}, extra={},
        personal=Personal("Айгерим", "Сапарова", "aigerim@example.kz", "+77015551234",
                          "device-abc", "acct-99"),
        external_id="10034", client="fixmystreet", duplicate_of=None, entity_id=None,
        supporters=4,
    )  # fmt: skip
    for key, value in changes.items():
        setattr(record, key, value)
    return record


def test_public_output_never_carries_personal_data() -> None:
    record = stored()
    events = [Event(17, datetime(2026, 1, 12, 5, tzinfo=UTC), "inspector-5", "note", None, None,
                    "Звонил заявителю на +7 701 555 12 34", True)]  # fmt: skip
    view = public_request(record, CITY, "ru", events=events)
    for fmt in ("xml", "json"):
        body = formats.service_requests([view], CITY.zone, fmt, extensions=True).content.decode()
        for secret in ("Айгерим", "aigerim", "device-abc", "acct-99", "5551234", "555 12 34",
                       "900101300123", "inspector-5"):  # fmt: skip
            assert secret not in body, (fmt, secret)
    assert view.description == "Лифт стоит. Я *** ***, ИИН ************, тел ***"


def test_the_public_view_resolves_names_in_the_asked_language() -> None:
    view = public_request(stored(), CITY, "kk")
    assert view.service_name == "Лифт істен шықты"
    assert view.agency_responsible == "Астана қаласының Тұрғын үй инспекциясы басқармасы"
    assert view.service_notice.startswith("Өтінім")
    value = orjson.loads(formats.service_requests([view], CITY.zone, "json").content)[0]
    assert value["requested_datetime"] == "2026-01-12T08:00:00+05:00"
    assert value["media_url"] == "https://img.example.kz/1.jpg"


def test_extensions_show_status_supporters_and_public_notes_only() -> None:
    events = [
        Event(17, datetime(2026, 1, 12, 3, tzinfo=UTC), "resident", "opened", "open", "OPEN",
              None, True),
        Event(17, datetime(2026, 1, 12, 4, tzinfo=UTC), "inspector-5", "note", None, None,
              "internal: check the contractor", False),
    ]  # fmt: skip
    view = public_request(stored(), CITY, "en", events=events)
    assert view.extended_attributes["extended_status"] == "IN_PROGRESS"
    assert view.extended_attributes["supporters"] == 4
    assert [n.summary for n in view.notes] == ["Request opened"]


def test_the_filers_own_names_are_hidden_as_whole_words_only() -> None:
    known = Personal(first_name="Абай", last_name="Ли")
    assert mask("Абай Ли живёт на ул. Абая, у Лиственницы", known) == (
        "*** *** живёт на ул. Абая, у Лиственницы"
    )
