"""Reading what Open311 clients send: form bodies and query parameters, checked strictly.

``POST requests`` and ``POST servicerequestupdates`` are ``application/x-www-form-urlencoded``;
the GET methods take query parameters. Both arrive here as ``(name, value)`` pairs in order
(:func:`parse_form` decodes a body). The rules, from the GeoReport v2 specification:

* an optional parameter sent empty is the same as one not sent;
* attributes are ``attribute[CODE]=value``, and ``attribute[CODE][]=value`` repeated for a
  ``multivaluelist``; they are checked against the service definition (required, datatype,
  allowed values) and every problem is reported at once;
* the location is ``lat`` + ``long`` (both), ``address_string`` or ``address_id`` — one of them
  is required;
* ``description`` is plain text of at most 4,000 characters: markup is removed, the text kept.

And what FixMyStreet sends: ``deviceid`` as well as ``device_id``, ``media_url`` repeated,
``address_id=#NOTPINPOINTED#`` (a report placed without a map pin: accepted as a location,
not kept as an address id), ``attribute[fixmystreet_id]`` (the report's id there, kept as the
request's external id) and attributes the definition does not list (easting, northing…), kept
aside as ``extra`` rather than refused.

Errors are :class:`~qala.open311.model.GeoReportError` with the status the specification gives:
400 for a missing or bad parameter, 404 for an unknown jurisdiction, service or request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

from qala.hub.model import parse_datetime
from qala.netguard import ip_literal, is_public
from qala.open311.catalogue import Catalogue, City
from qala.open311.formats import clean_text
from qala.open311.model import (
    CLOSED,
    EXTENDED_STATUSES,
    NOT_PINPOINTED,
    OPEN,
    Attribute,
    GeoReportError,
    Language,
    Personal,
    Service,
)

Pairs = Sequence[tuple[str, str]]

MAX_BODY_FIELDS = 500
MAX_DESCRIPTION = 4000
MAX_STRING = 1000
MAX_URL = 2048
MAX_MEDIA = 10
MAX_EXTRA = 50
MAX_RANGE = timedelta(days=90)
MAX_PAGE_SIZE = 1000
#: How far in the future a client's clock may be when it dates an update.
CLOCK_SKEW = timedelta(minutes=5)

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_SPACED_OFFSET = re.compile(r" (\d{2}:?\d{2})$")


def _bad(description: str) -> GeoReportError:
    return GeoReportError.one(400, description)


# -- reading pairs ---------------------------------------------------------------------------


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """The pairs of an ``application/x-www-form-urlencoded`` body (UTF-8)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the request body is not UTF-8") from None
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_BODY_FIELDS)
    except ValueError:
        raise _bad(f"the request body has more than {MAX_BODY_FIELDS} fields") from None


def _printable(name: str) -> str:
    return repr(name.replace("\x00", "")[:60])


@dataclass(slots=True)
class _Fields:
    """Pairs grouped by name, empty values dropped (an empty optional parameter is absent)."""

    values: dict[str, list[str]]

    @classmethod
    def of(cls, pairs: Pairs) -> _Fields:
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            if "\x00" in name or "\x00" in value:  # no text column of either store holds one
                raise _bad(f"{_printable(name)} contains a NUL character")
            if value.strip() == "":
                continue
            values.setdefault(name, []).append(value)
        return cls(values)

    def one(self, name: str, *aliases: str) -> str | None:
        found: list[str] = []
        for key in (name, *aliases):
            found.extend(self.values.get(key, ()))
        if len(set(found)) > 1:
            raise _bad(f"{name} was given more than once with different values")
        return found[0].strip() if found else None

    def many(self, name: str, *aliases: str) -> list[str]:
        found: list[str] = []
        for key in (name, *aliases):
            found.extend(v.strip() for v in self.values.get(key, ()))
        return found

    def comma_list(self, name: str) -> list[str]:
        """A parameter that may be repeated and comma delimited."""
        items: list[str] = []
        for value in self.many(name):
            items.extend(part.strip() for part in value.split(",") if part.strip())
        return items


# -- texts -----------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    _SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(value: str) -> str:
    """``value`` as plain text: markup removed (its text kept, scripts and styles dropped),
    entities decoded, line ends normalised, characters XML cannot carry dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if "<" in value or "&" in value:
        parser = _TextOnly()
        parser.feed(value)
        parser.close()
        value = "".join(parser.parts)
    value = re.sub(r"\n{3,}", "\n\n", value)
    return clean_text(value).strip()


def _limited(name: str, value: str | None, limit: int, *, lines: bool = True) -> str | None:
    if value is None:
        return None
    if len(value) > limit:
        raise _bad(f"{name} is {len(value)} characters long; at most {limit} are accepted")
    text = plain_text(value)
    if not lines:
        text = " ".join(text.split())
    return text or None


def check_media_url(url: str) -> str:
    """An http(s) URL with a host that is not a private, loopback or link-local address.

    Only the URL's form is checked here (host names are not resolved): Qala never fetches
    media; it hands the URL to clients."""
    if len(url) > MAX_URL:
        raise _bad(f"media_url is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise _bad(f"media_url {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise _bad(f"media_url {url!r} must be an http or https URL with a host")
    literal = ip_literal(host)
    if literal is None:
        if all(re.fullmatch(r"0x[0-9a-f]*|[0-9]+", label) for label in host.split(".")):
            # 2130706433, 0x7f.1: numeric forms that resolvers read as an IP address
            raise _bad(f"media_url {url!r} names its host by a number")
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise _bad(f"media_url {url!r} points at an internal address")
        return url
    if not is_public(literal):
        raise _bad(f"media_url {url!r} points at an internal address")
    return url


def _coordinate(name: str, value: str, bound: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _bad(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise _bad(f"{name} {value!r} is out of range (-{bound:g} to {bound:g}, WGS84)")
    return number


def w3c_datetime(name: str, value: str, zone: tzinfo) -> datetime:
    """A date-time parameter in the W3C profile of ISO 8601, with its zone (``Z`` or an
    offset); a date alone (``2026-03-21``) is midnight in the city's zone. A ``+`` sent
    unencoded in a query string arrives as a space and is read as ``+``."""
    value = _SPACED_OFFSET.sub(r"+\1", value.strip())
    if _DATE.match(value):
        try:
            return datetime.combine(date.fromisoformat(value), time(), zone).astimezone(UTC)
        except ValueError:
            raise _bad(f"{name} {value!r} is not a valid date") from None
    try:
        return parse_datetime(value)
    except ValueError:
        raise _bad(
            f"{name} {value!r} is not a W3C date-time with a time zone "
            "(e.g. 2026-03-21T09:00:00+05:00 or 2026-03-21T04:00:00Z)"
        ) from None


# -- attributes ------------------------------------------------------------------------------

AttributeInput = str | float | datetime | list[str]


def _number(attr: Attribute, raw: str) -> float:
    try:
        number = float(raw.replace(",", ".").replace(" ", ""))
    except ValueError:
        raise ValueError(f"attribute {attr.code}: {raw!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"attribute {attr.code}: {raw!r} is not a finite number")
    if attr.minimum is not None and number < attr.minimum:
        raise ValueError(f"attribute {attr.code}: {raw} is below the minimum {attr.minimum:g}")
    if attr.maximum is not None and number > attr.maximum:
        raise ValueError(f"attribute {attr.code}: {raw} is above the maximum {attr.maximum:g}")
    return number


def _attribute_value(attr: Attribute, raw: list[str], zone: tzinfo) -> AttributeInput:
    if attr.datatype == "multivaluelist":
        keys = list(dict.fromkeys(raw))
        unknown = [k for k in keys if k not in attr.allowed_keys()]
        if unknown:
            allowed = ", ".join(sorted(attr.allowed_keys()))
            raise ValueError(
                f"attribute {attr.code}: {', '.join(map(repr, unknown))} not among {allowed}"
            )
        return keys
    if len(set(raw)) > 1:
        raise ValueError(f"attribute {attr.code} takes one value ({attr.datatype})")
    value = raw[0]
    if attr.datatype == "singlevaluelist":
        if value not in attr.allowed_keys():
            allowed = ", ".join(sorted(attr.allowed_keys()))
            raise ValueError(f"attribute {attr.code}: {value!r} is not one of {allowed}")
        return value
    if attr.datatype == "number":
        return _number(attr, value)
    if attr.datatype == "datetime":
        stripped = value.strip()
        if re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$", stripped):
            # An HTML datetime-local field has no zone: it is the city's local time.
            try:
                return datetime.fromisoformat(stripped).replace(tzinfo=zone).astimezone(UTC)
            except ValueError:
                pass
        try:
            return w3c_datetime(f"attribute {attr.code}", stripped, zone)
        except GeoReportError as exc:
            raise ValueError(exc.errors[0][1]) from None
    limit = MAX_DESCRIPTION if attr.datatype == "text" else MAX_STRING
    if len(value) > limit:
        raise ValueError(f"attribute {attr.code} is longer than {limit} characters")
    text = plain_text(value)
    if attr.datatype == "string" and "\n" in text:
        raise ValueError(f"attribute {attr.code} is a string: it takes no line breaks")
    return text


def check_attributes(
    service: Service, given: dict[str, list[str]], zone: tzinfo
) -> tuple[dict[str, AttributeInput], dict[str, str]]:
    """Attributes checked against the service definition: ``(values, extra)``, where
    ``extra`` holds attributes the definition does not list. Every problem is reported."""
    values: dict[str, AttributeInput] = {}
    problems: list[str] = []
    for attr in sorted(service.attributes, key=lambda a: a.order):
        if not attr.variable:
            continue  # information for the user, not a field
        raw = given.get(attr.code)
        if not raw:
            if attr.required:
                problems.append(f"attribute {attr.code} is required for {service.code}")
            continue
        try:
            values[attr.code] = _attribute_value(attr, raw, zone)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise GeoReportError(400, [("400", p) for p in problems])
    listed = {a.code for a in service.attributes}
    extra = {code: raw[-1] for code, raw in given.items() if code not in listed}
    if len(extra) > MAX_EXTRA:
        raise _bad(f"more than {MAX_EXTRA} attributes the service does not define")
    for code, raw in extra.items():
        if len(raw) > MAX_STRING:
            raise _bad(f"attribute {code} is longer than {MAX_STRING} characters")
    return values, {code: plain_text(raw) for code, raw in extra.items()}


# -- POST requests ---------------------------------------------------------------------------


@dataclass(slots=True)
class NewRequest:
    """A checked ``POST requests``."""

    city: City
    service: Service
    api_key: str | None
    lat: float | None
    long: float | None
    address_string: str | None
    address_id: str | None
    #: False when FixMyStreet said the report was placed without a map pin.
    pinpointed: bool
    description: str | None
    media_urls: list[str]
    personal: Personal
    attributes: dict[str, AttributeInput]
    extra: dict[str, str] = field(default_factory=dict)
    #: ``attribute[fixmystreet_id]``: the report's id in the client that sent it.
    external_id: str | None = None
    lang: Language = "ru"


def _media(fields: _Fields) -> list[str]:
    urls = list(dict.fromkeys(fields.many("media_url", "media_url[]")))
    if len(urls) > MAX_MEDIA:
        raise _bad(f"at most {MAX_MEDIA} media_url are accepted")
    return [check_media_url(u) for u in urls]


def _personal(fields: _Fields) -> Personal:
    def short(name: str, value: str | None, limit: int = 200) -> str | None:
        return _limited(name, value, limit, lines=False)

    email = fields.one("email")
    if email is not None and not _EMAIL.match(email):
        raise _bad(f"email {email!r} is not an email address")
    return Personal(
        first_name=short("first_name", fields.one("first_name")),
        last_name=short("last_name", fields.one("last_name")),
        email=email,
        phone=short("phone", fields.one("phone"), 40),
        device_id=short("device_id", fields.one("device_id", "deviceid")),
        account_id=short("account_id", fields.one("account_id")),
    )


def parse_service_request(pairs: Pairs, catalogue: Catalogue) -> NewRequest:
    """A ``POST requests`` form, checked: jurisdiction (400/404) first, then the service
    (400/404), then the location, texts and attributes (400)."""
    fields = _Fields.of(pairs)
    city = catalogue.city(fields.one("jurisdiction_id"))
    code = fields.one("service_code")
    if code is None:
        raise _bad("service_code is required")
    service = city.service(code)
    lang = city.language(fields.one("lang"))

    lat, long = fields.one("lat"), fields.one("long")
    if (lat is None) != (long is None):
        raise _bad("lat and long must be sent together")
    lat_value = _coordinate("lat", lat, 90) if lat is not None else None
    long_value = _coordinate("long", long, 180) if long is not None else None
    address_string = _limited("address_string", fields.one("address_string"), MAX_STRING)
    address_id = _limited("address_id", fields.one("address_id"), 200, lines=False)
    pinpointed = address_id != NOT_PINPOINTED
    if not pinpointed:
        address_id = None
    if lat_value is None and address_string is None and address_id is None and pinpointed:
        raise _bad("a location is required: lat and long, address_string or address_id")

    given: dict[str, list[str]] = {}
    for name, raw in fields.values.items():
        match = _ATTRIBUTE.match(name)
        if match:
            given.setdefault(match.group(1), []).extend(raw)
    external = given.pop("fixmystreet_id", None)
    attributes, extra = check_attributes(service, given, city.zone)

    return NewRequest(
        city=city,
        service=service,
        api_key=fields.one("api_key"),
        lat=lat_value,
        long=long_value,
        address_string=address_string,
        address_id=address_id,
        pinpointed=pinpointed,
        description=_limited("description", fields.one("description"), MAX_DESCRIPTION),
        media_urls=_media(fields),
        personal=_personal(fields),
        attributes=attributes,
        extra=extra,
        external_id=_limited("attribute[fixmystreet_id]", external[-1], 100, lines=False)
        if external
        else None,
        lang=lang,
    )


# -- GET requests ----------------------------------------------------------------------------


@dataclass(slots=True)
class RequestsQuery:
    """A checked ``GET requests``. With ``ids`` (``service_request_id``), every selection
    parameter is ignored; ``extensions`` and ``lang`` only change the rendering."""

    city: City
    ids: list[str] | None = None
    service_codes: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    #: The requested_datetime window (start inclusive, end inclusive); None when the
    #: updated_datetime window selects instead.
    start: datetime | None = None
    end: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    page: int = 1
    page_size: int = MAX_PAGE_SIZE
    extensions: bool = False
    lang: Language = "ru"


def _window(
    lo_name: str, lo: str | None, hi_name: str, hi: str | None, zone: tzinfo, now: datetime
) -> tuple[datetime, datetime]:
    start = w3c_datetime(lo_name, lo, zone) if lo is not None else None
    end = w3c_datetime(hi_name, hi, zone) if hi is not None else None
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - MAX_RANGE
    if end is None:
        end = start + MAX_RANGE
    if end < start:
        raise _bad(f"{hi_name} is before {lo_name}")
    if end - start > MAX_RANGE:
        raise _bad(f"{lo_name} to {hi_name} spans more than 90 days; ask for a shorter range")
    return start, end


def _positive(name: str, value: str | None, default: int, maximum: int | None = None) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise _bad(f"{name} {value!r} must be a whole number of at least 1")
    number = int(value)
    if maximum is not None and number > maximum:
        raise _bad(f"{name} is at most {maximum}")
    return number


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise _bad(f"{name} is true or false, not {value!r}")
    return value.lower() == "true"


def parse_requests_query(pairs: Pairs, catalogue: Catalogue, now: datetime) -> RequestsQuery:
    """The query parameters of ``GET requests``.

    Without ``service_request_id``: ``start_date``/``end_date`` select on the requested
    time and default to the last 90 days (one of them alone: the 90 days from or up to it);
    a range over 90 days is refused. ``updated_after``/``updated_before`` (an extension)
    select on the updated time instead, under the same 90-day rule, when no start/end date
    is given (both kinds together: both apply). ``page``/``page_size`` page through the
    result (at most 1,000 a page, the specification's default limit)."""
    fields = _Fields.of(pairs)
    city = catalogue.city(fields.one("jurisdiction_id"))
    query = RequestsQuery(
        city=city,
        extensions=_flag("extensions", fields.one("extensions")),
        lang=city.language(fields.one("lang")),
    )
    ids = fields.comma_list("service_request_id")
    if ids:
        query.ids = list(dict.fromkeys(ids))
        if len(query.ids) > MAX_PAGE_SIZE:
            raise _bad(f"at most {MAX_PAGE_SIZE} service_request_id at once")
        return query
    for code in fields.comma_list("service_code"):
        city.service(code)  # 404 for an unknown service
        if code not in query.service_codes:
            query.service_codes.append(code)
    for status in fields.comma_list("status"):
        status = status.lower()
        if status not in (OPEN, CLOSED):
            raise _bad(f"status {status!r} is open or closed")
        if status not in query.statuses:
            query.statuses.append(status)
    start, end = fields.one("start_date"), fields.one("end_date")
    after, before = fields.one("updated_after"), fields.one("updated_before")
    if start is not None or end is not None or (after is None and before is None):
        query.start, query.end = _window("start_date", start, "end_date", end, city.zone, now)
    if after is not None or before is not None:
        query.updated_after, query.updated_before = _window(
            "updated_after", after, "updated_before", before, city.zone, now
        )
    query.page = _positive("page", fields.one("page"), 1)
    query.page_size = _positive(
        "page_size", fields.one("page_size"), MAX_PAGE_SIZE, MAX_PAGE_SIZE
    )
    return query


# -- servicerequestupdates (mySociety) ---------------------------------------------------------


@dataclass(slots=True)
class UpdatesQuery:
    city: City
    start: datetime
    end: datetime


def parse_updates_query(pairs: Pairs, catalogue: Catalogue, now: datetime) -> UpdatesQuery:
    """``GET servicerequestupdates``: ``start_date``/``end_date`` on the update time, with
    the 90-day rule of ``GET requests``."""
    fields = _Fields.of(pairs)
    city = catalogue.city(fields.one("jurisdiction_id"))
    start, end = _window(
        "start_date", fields.one("start_date"), "end_date", fields.one("end_date"), city.zone, now
    )
    return UpdatesQuery(city, start, end)


def extended_status(value: str) -> str:
    """An extended status in its canonical form: ``in_progress``, ``In progress`` and
    ``IN_PROGRESS`` are the same."""
    status = re.sub(r"[\s\-]+", "_", value.strip()).upper()
    if status not in EXTENDED_STATUSES:
        raise _bad(
            f"status {value!r} is not one of {', '.join(EXTENDED_STATUSES)}"
        )
    return status


@dataclass(slots=True)
class NewUpdate:
    """A checked ``POST servicerequestupdates``."""

    city: City
    api_key: str | None
    update_id: str
    service_request_id: str
    status: str  # extended, upper case
    updated_datetime: datetime
    description: str | None
    media_urls: list[str]
    personal: Personal
    #: ``email_alerts_requested`` (TRUE/FALSE) and ``title``, as FixMyStreet's cobrands send.
    email_alerts_requested: bool | None = None
    title: str | None = None


def parse_update(pairs: Pairs, catalogue: Catalogue, now: datetime) -> NewUpdate:
    """A ``POST servicerequestupdates`` form. Whether ``update_id`` was seen before is the
    repository's to say (a repeated update_id is refused)."""
    fields = _Fields.of(pairs)
    city = catalogue.city(fields.one("jurisdiction_id"))
    missing = [
        name
        for name in ("update_id", "service_request_id", "status", "updated_datetime")
        if fields.one(name) is None
    ]
    if missing:
        raise GeoReportError(400, [("400", f"{name} is required") for name in missing])
    update_id = fields.one("update_id")
    request_id = fields.one("service_request_id")
    assert update_id is not None and request_id is not None
    if len(update_id) > 100 or len(request_id) > 100:
        raise _bad("update_id and service_request_id are at most 100 characters")
    when = w3c_datetime("updated_datetime", fields.one("updated_datetime") or "", city.zone)
    if when > now + CLOCK_SKEW:
        raise _bad("updated_datetime is in the future")
    alerts = fields.one("email_alerts_requested")
    return NewUpdate(
        city=city,
        api_key=fields.one("api_key"),
        update_id=update_id,
        service_request_id=request_id,
        status=extended_status(fields.one("status") or ""),
        updated_datetime=when,
        description=_limited("description", fields.one("description"), MAX_DESCRIPTION),
        media_urls=_media(fields),
        personal=_personal(fields),
        email_alerts_requested=_flag("email_alerts_requested", alerts) if alerts else None,
        title=_limited("title", fields.one("title"), 200, lines=False),
    )
