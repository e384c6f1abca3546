"""What public Open311 output may show about the people who file requests.

Public endpoints (``GET requests``, ``GET servicerequestupdates``…) render
:class:`~qala.open311.model.ServiceRequest`, which has no field for personal data: the name,
email, phone, device and account ids a client sends are kept apart
(:class:`~qala.open311.model.Personal`) for staff, under the access rules. Free text written by
residents (descriptions, notes) may still contain such data; :func:`mask` hides the kinds that
can be recognised:

* Kazakh individual identification numbers (IIN, and BIN for companies): 12 digits, also
  written as two groups of six;
* Kazakh phone numbers: ``+7 7xx …``, ``8 7xx …``, ``7xx …`` (mobile 7xx and landline 7xxx /
  6xx area codes), with or without spaces, dashes, dots and parentheses;
* email addresses.

The filer's own name, email, phone and ids, when they appear in the texts of their request,
are hidden as well (:func:`mask` with ``known``).

Digits are replaced by ``*`` (separators kept, so the text still reads: ``+7 (***) ***-**-**``);
an email becomes ``***@***``. Masking is for public output only: the stored text is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qala.open311.catalogue import City
from qala.open311.model import Language, Note, Personal, ServiceRequest
from qala.open311.repository import Event, StoredRequest
from qala.open311.sla import SlaState

_IIN = re.compile(r"(?<![\d*])\d{6}[ -]?\d{6}(?![\d*])")
_PHONE = re.compile(
    r"(?<![\w+*])"
    r"(?:(?:\+\s?7|8)[\s.\-]*\(?\s*)?"  # +7 or 8, then maybe an opening parenthesis
    r"[67](?:[\s.\-()]{0,2}\d){9}"  # ten digits starting with 6 or 7 (area code / mobile)
    r"(?![\d*])"
)
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_DIGIT = re.compile(r"\d")


def _stars(match: re.Match[str]) -> str:
    return _DIGIT.sub("*", match.group(0))


def mask(text: str | None, known: Personal | None = None) -> str | None:
    """``text`` with IINs, phone numbers and email addresses hidden, and the values of
    ``known`` (the filer's personal data) wherever they appear."""
    if not text:
        return text
    if known is not None:
        for value in sorted(known.as_dict().values(), key=len, reverse=True):
            value = value.strip()
            if len(value) >= 2:
                pattern = rf"(?<!\w){re.escape(value)}(?!\w)"
                text = re.sub(pattern, "***", text, flags=re.IGNORECASE)
    text = _EMAIL.sub("***@***", text)
    text = _IIN.sub(_stars, text)
    return _PHONE.sub(_stars, text)


_SUMMARIES = {
    "opened": "Request opened",
    "status": "Status changed",
    "update": "Status changed",
    "note": "Note added",
    "merged": "Merged as a duplicate",
    "assigned": "Assigned",
}


def _masked(value: Any, known: Personal) -> Any:
    if isinstance(value, str):
        return mask(value, known)
    if isinstance(value, list):
        return [_masked(v, known) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v, known) for k, v in value.items()}
    return value


def public_request(
    stored: StoredRequest,
    city: City,
    lang: Language,
    *,
    events: Sequence[Event] = (),
    sla: SlaState | None = None,
) -> ServiceRequest:
    """The public view of a stored request: no personal data, free text masked, names in
    ``lang``. ``events`` (public history) and ``sla`` feed the ``extensions=true`` fields."""
    service = next((s for s in city.services if s.code == stored.service_code), None)
    agency = None
    if service is not None and service.agency.id == stored.agency:
        agency = service.agency.name.get(lang)
    notes = [
        Note(
            at=e.at,
            kind=e.kind,
            summary=mask(e.text, stored.personal) or _SUMMARIES.get(e.kind, e.kind),
            status=e.status,
            extended_status=e.extended_status,
        )
        for e in events
        if e.public
    ]
    extended: dict[str, object] = {
        "extended_status": stored.extended_status,
        "supporters": stored.supporters,
        "duplicate_of": str(stored.duplicate_of) if stored.duplicate_of is not None else None,
        "media_urls": list(stored.media_urls),
        "pinpointed": stored.pinpointed,
        "attribute_values": _masked(stored.attributes, stored.personal),
    }
    if sla is not None:
        extended["sla_state"] = sla.value
    return ServiceRequest(
        service_request_id=stored.service_request_id,
        status=stored.status,
        service_code=stored.service_code,
        service_name=service.name.get(lang) if service is not None else None,
        requested_datetime=stored.requested_at,
        updated_datetime=stored.updated_at,
        expected_datetime=stored.expected_at,
        status_notes=mask(stored.status_notes, stored.personal),
        description=mask(stored.description, stored.personal),
        agency_responsible=agency,
        service_notice=service.notice.get(lang) if service is not None else None,
        address=mask(stored.address),
        address_id=stored.address_id,
        zipcode=stored.zipcode,
        lat=stored.lat,
        long=stored.long,
        media_url=stored.media_urls[0] if stored.media_urls else None,
        extended_attributes=extended,
        notes=notes,
    )
