"""GeoReport v2 objects: services and their attributes, service requests, updates, errors.

Times are timezone-aware datetimes in UTC; they are shown in the city's zone when rendered.
Identifiers and codes are strings throughout (the specification's examples write
``"service_code":001``, which is not even JSON). Texts of the catalogue are per language
(``{"ru": …, "kk": …, "en": …}``); a request carries them already resolved for one language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Language = Literal["ru", "kk", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "kk", "en")

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
DATATYPES: tuple[Datatype, ...] = (
    "string",
    "number",
    "datetime",
    "text",
    "singlevaluelist",
    "multivaluelist",
)

ServiceType = Literal["realtime", "batch", "blackbox"]

#: The GeoReport statuses.
OPEN, CLOSED = "open", "closed"

#: mySociety's extended statuses (``servicerequestupdates``) and the GeoReport status each
#: means. FixMyStreet treats FIXED, DUPLICATE, NOT_COUNCILS_RESPONSIBILITY, NO_FURTHER_ACTION,
#: INTERNAL_REFERRAL and CLOSED as closing a report; REOPEN opens a closed one again.
EXTENDED_STATUSES: dict[str, str] = {
    "OPEN": OPEN,
    "INVESTIGATING": OPEN,
    "IN_PROGRESS": OPEN,
    "ACTION_SCHEDULED": OPEN,
    "REOPEN": OPEN,
    "FIXED": CLOSED,
    "CLOSED": CLOSED,
    "DUPLICATE": CLOSED,
    "NOT_COUNCILS_RESPONSIBILITY": CLOSED,
    "NO_FURTHER_ACTION": CLOSED,
    "INTERNAL_REFERRAL": CLOSED,
}

#: ``address_id`` FixMyStreet sends for a report placed without a map pin.
NOT_PINPOINTED = "#NOTPINPOINTED#"


class GeoReportError(Exception):
    """One or more errors in the specification's ``[{code, description}]`` form.

    ``status`` is the HTTP status (400, 403 or 404); each error's ``code`` is a string, by
    default the HTTP status, and its description is written for the person who sent the
    request."""

    def __init__(self, status: int, errors: list[tuple[str, str]]) -> None:
        assert status in (400, 403, 404), status
        assert errors
        super().__init__("; ".join(d for _, d in errors))
        self.status = status
        self.errors = errors

    @classmethod
    def one(cls, status: int, description: str, code: str | None = None) -> GeoReportError:
        return cls(status, [(code or str(status), description)])


@dataclass(slots=True, frozen=True)
class AttributeValue:
    """An option of a ``singlevaluelist`` / ``multivaluelist`` attribute."""

    key: str
    name: dict[str, str]


@dataclass(slots=True, frozen=True)
class Attribute:
    """An attribute of a service definition (a form field of the service)."""

    code: str
    datatype: Datatype
    description: dict[str, str]
    required: bool = False
    variable: bool = True
    order: int = 1
    datatype_description: dict[str, str] | None = None
    values: tuple[AttributeValue, ...] = ()
    #: For ``number``: inclusive bounds, if any.
    minimum: float | None = None
    maximum: float | None = None

    def allowed_keys(self) -> set[str]:
        return {v.key for v in self.values}


@dataclass(slots=True, frozen=True)
class Sla:
    """How long a service may take: ``hours`` working hours (``working=True``, counted in the
    city's working calendar) or calendar hours (emergencies: heating, water, lifts)."""

    hours: float
    working: bool = True

    def describe(self) -> str:
        if self.working:
            days, rest = divmod(self.hours, 8)
            if rest == 0:
                return f"{int(days)} working day{'s' if days != 1 else ''}"
            return f"{self.hours:g} working hours"
        return f"{self.hours:g} hours"


@dataclass(slots=True, frozen=True)
class Agency:
    """A city body responsible for services: a department of the akimat, a utility, a lift
    company."""

    id: str
    name: dict[str, str]


@dataclass(slots=True, frozen=True)
class Service:
    """A service request type of one city."""

    code: str
    name: dict[str, str]
    description: dict[str, str]
    group: dict[str, str]
    keywords: dict[str, tuple[str, ...]]
    agency: Agency
    sla: Sla
    notice: dict[str, str]
    attributes: tuple[Attribute, ...] = ()
    type: ServiceType = "realtime"
    #: Duplicate suggestion: same service within this many metres and hours.
    duplicate_radius_m: float = 50.0
    duplicate_window_h: float = 72.0

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)

    def attribute(self, code: str) -> Attribute | None:
        for attr in self.attributes:
            if attr.code == code:
                return attr
        return None


@dataclass(slots=True)
class Personal:
    """What identifies the person who filed a request: never shown by public endpoints."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    device_id: str | None = None
    account_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self._items() if v is not None}

    def _items(self) -> list[tuple[str, str | None]]:
        return [
            ("first_name", self.first_name),
            ("last_name", self.last_name),
            ("email", self.email),
            ("phone", self.phone),
            ("device_id", self.device_id),
            ("account_id", self.account_id),
        ]


@dataclass(slots=True)
class Note:
    """An entry of a request's public history (the ``notes`` of ``extensions=true``)."""

    at: datetime
    kind: str  # opened, status, note, closed, merged…
    summary: str
    status: str | None = None
    extended_status: str | None = None


@dataclass(slots=True)
class ServiceRequest:
    """A service request as the public (GeoReport) API shows it."""

    service_request_id: str
    status: str
    service_code: str
    service_name: str | None
    requested_datetime: datetime
    updated_datetime: datetime | None = None
    expected_datetime: datetime | None = None
    status_notes: str | None = None
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None
    #: ``extensions=true`` (not part of GeoReport v2): rendered only when asked for.
    extended_attributes: dict[str, object] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class RequestUpdate:
    """An update of mySociety's ``servicerequestupdates`` extension."""

    update_id: str
    service_request_id: str
    status: str  # an extended status, upper case
    updated_datetime: datetime
    description: str = ""
    media_url: str | None = None
