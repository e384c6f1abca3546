"""GeoReport v2 over HTTP: ``/open311/v2/…``, every method in ``.xml`` and ``.json``.

Each method is served at two paths, one per format, so the OpenAPI document gives each its one
media type. Every error is a GeoReport error (``qala.open311.errors``). Reading is public (the
specification's); filing requests and posting updates need an ``api_key``
(``qala.open311.office``). Rate limits: reads per client address, writes per ``api_key`` and
per address (429 in the GeoReport error format, with ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from qala import openapi
from qala.open311 import formats, forms, privacy
from qala.open311.errors import GeoReportRoute, errors_response, format_of_path
from qala.open311.formats import Endpoint, PostResult
from qala.open311.model import GeoReportError
from qala.open311.office import Office
from qala.open311.repository import Selection, StoredRequest
from qala.open311.sla import sla_state
from qala.services import services

router = APIRouter(route_class=GeoReportRoute, tags=["Open311 GeoReport v2"])

#: When the catalogue last changed (the discovery document's changeset).
CHANGESET = datetime(2026, 3, 1, tzinfo=UTC)
CONTACT = "Qala city services, via the city's akimat"
KEY_SERVICE = "API keys are issued by the city's administrators (qala keys create)"
FORM = "application/x-www-form-urlencoded"


def office_of(request: Request) -> Office:
    return services(request).state.get(Office)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limited(limiter: Any, who: str, fmt: str) -> Response | None:
    wait = limiter.allow(who)
    if wait <= 0:
        return None
    return errors_response(
        429,
        [("429", f"too many requests; retry after {wait:.1f} s")],
        fmt,
        {"Retry-After": str(max(1, round(wait)))},
    )


def _body(result: formats.Body, status: int = 200) -> Response:
    return Response(result.content, status_code=status, media_type=result.media_type)


async def _form(request: Request) -> list[tuple[str, str]]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != FORM:
        raise GeoReportError.one(400, f"the body must be {FORM}")
    body = await request.body()
    if len(body) > 1_000_000:
        raise GeoReportError.one(400, "the request body is larger than 1 MB")
    return forms.parse_form(body)


async def _public(
    office: Office, stored: list[StoredRequest], query: forms.RequestsQuery
) -> list[Any]:
    city = query.city
    now = office.clock()
    out = []
    for req in stored:
        events = []
        state = None
        if query.extensions:
            events = await office.repo.history(city.tenant, req.num, public_only=True)
            service = next((s for s in city.services if s.code == req.service_code), None)
            if service is not None and req.expected_at is not None:
                state = sla_state(service.sla, req.requested_at, req.expected_at, now,
                                  office.calendars[city.tenant], req.closed_at)  # fmt: skip
        out.append(privacy.public_request(req, city, query.lang, events=events, sla=state))
    return out


# -- the methods, format-neutral -----------------------------------------------------------

Handler = Callable[[Request, str], Awaitable[Response]]


async def discovery(request: Request, fmt: str) -> Response:
    office = office_of(request)
    pairs = request.query_params.multi_items()
    city = office.catalogue.city(dict(pairs).get("jurisdiction_id") or None)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    endpoint = Endpoint(url=base, changeset=CHANGESET)
    return _body(formats.discovery(CHANGESET, CONTACT, KEY_SERVICE, [endpoint], city.zone, fmt))


async def service_list(request: Request, fmt: str) -> Response:
    office = office_of(request)
    fields = dict(request.query_params.multi_items())
    city = office.catalogue.city(fields.get("jurisdiction_id") or None)
    lang = city.language(fields.get("lang") or None)
    return _body(formats.services(city.services, lang, fmt))  # type: ignore[arg-type]


async def service_definition(request: Request, fmt: str) -> Response:
    office = office_of(request)
    fields = dict(request.query_params.multi_items())
    city = office.catalogue.city(fields.get("jurisdiction_id") or None)
    lang = city.language(fields.get("lang") or None)
    service = city.service(request.path_params["service_code"])
    return _body(formats.service_definition(service, lang, fmt))  # type: ignore[arg-type]


async def post_request(request: Request, fmt: str) -> Response:
    office = office_of(request)
    address = _address(request)
    limited = _limited(office.address_limiter, address, fmt)
    if limited is not None:
        return limited
    pairs = await _form(request)
    new = forms.parse_service_request(pairs, office.catalogue)
    actor = await office.client_actor(new.api_key, new.city, address)
    limited = _limited(office.key_limiter, actor.id, fmt)
    if limited is not None:
        return limited
    draft = office.draft(new, office.clock(), client=actor.id)
    stored = await office.file(new.city, draft, actor)
    result = PostResult(
        service_request_id=stored.service_request_id,
        service_notice=stored.service_notice,
        account_id=new.personal.account_id,
    )
    return _body(formats.post_result([result], fmt))  # type: ignore[arg-type]


async def get_requests(request: Request, fmt: str) -> Response:
    office = office_of(request)
    query = forms.parse_requests_query(
        request.query_params.multi_items(), office.catalogue, office.clock()
    )
    tenant = query.city.tenant
    if query.ids is not None:
        stored = await office.repo.get_many(tenant, query.ids)
    else:
        selection = Selection(
            service_codes=query.service_codes,
            statuses=query.statuses,
            start=query.start,
            end=query.end,
            updated_after=query.updated_after,
            updated_before=query.updated_before,
            limit=query.page_size,
            offset=(query.page - 1) * query.page_size,
        )
        stored = await office.repo.select(tenant, selection)
    items = await _public(office, stored, query)
    return _body(formats.service_requests(items, query.city.zone, fmt,  # type: ignore[arg-type]
                                          extensions=query.extensions))  # fmt: skip


async def get_request(request: Request, fmt: str) -> Response:
    office = office_of(request)
    pairs = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k in ("jurisdiction_id", "lang", "extensions")
    ]
    query = forms.parse_requests_query(pairs, office.catalogue, office.clock())
    rid = request.path_params["service_request_id"]
    stored = await office.repo.get_many(query.city.tenant, [rid])
    if not stored:
        raise GeoReportError.one(404, f"service_request_id {rid!r} was not found")
    items = await _public(office, stored, query)
    return _body(formats.service_requests(items, query.city.zone, fmt,  # type: ignore[arg-type]
                                          extensions=query.extensions))  # fmt: skip


async def get_token(request: Request, fmt: str) -> Response:
    office = office_of(request)
    fields = dict(request.query_params.multi_items())
    city = office.catalogue.city(fields.get("jurisdiction_id") or None)
    token = request.path_params["token"]
    found = await office.repo.by_token(city.tenant, token)
    if found is None:
        raise GeoReportError.one(404, f"token {token!r} was not found")
    return _body(formats.tokens([found], fmt))  # type: ignore[arg-type]


async def get_updates(request: Request, fmt: str) -> Response:
    office = office_of(request)
    query = forms.parse_updates_query(
        request.query_params.multi_items(), office.catalogue, office.clock()
    )
    found = await office.repo.updates(query.city.tenant, query.start, query.end)
    return _body(formats.request_updates(found, query.city.zone, fmt))  # type: ignore[arg-type]


async def post_update(request: Request, fmt: str) -> Response:
    office = office_of(request)
    address = _address(request)
    limited = _limited(office.address_limiter, address, fmt)
    if limited is not None:
        return limited
    pairs = await _form(request)
    update = forms.parse_update(pairs, office.catalogue, office.clock())
    actor = await office.client_actor(update.api_key, update.city, address)
    limited = _limited(office.key_limiter, actor.id, fmt)
    if limited is not None:
        return limited
    outcome = await office.repo.record_update(
        update.city.tenant, update, actor.id, office.clock()
    )
    if outcome == "not_found":
        raise GeoReportError.one(
            404, f"service_request_id {update.service_request_id!r} was not found"
        )
    if outcome == "repeated":
        raise GeoReportError.one(400, f"update_id {update.update_id!r} was received already")
    await office.sync(update.city, int(update.service_request_id), actor)
    return _body(formats.update_posted(update.update_id, fmt))  # type: ignore[arg-type]


# -- the routes, one per method and format -------------------------------------------------

_XML_TEXT = {"type": "string", "description": "An XML document (GeoReport v2)"}


def _schema(name: str) -> dict[str, Any]:
    return openapi.ref(name)


def _responses(fmt: str, schema: str, codes: tuple[int, ...]) -> dict[int | str, Any]:
    media = formats.MEDIA_TYPES[fmt].split(";")[0]  # type: ignore[index]
    ok_schema = _schema(schema) if fmt == "json" else _XML_TEXT
    error_schema = _schema("GeoReportErrors") if fmt == "json" else _XML_TEXT
    out: dict[int | str, Any] = {200: {"description": "Success",
                                       "content": {media: {"schema": ok_schema}}}}  # fmt: skip
    for code in codes:
        out[code] = {
            "description": _ERRORS[code],
            "content": {media: {"schema": error_schema}},
        }
    return out


_ERRORS = {
    400: "A missing or bad parameter (GeoReport errors)",
    403: "A missing or bad api_key (GeoReport errors)",
    404: "Unknown jurisdiction, service, request or token (GeoReport errors)",
}

_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {FORM: {
            "schema": {"$ref": "#/components/schemas/GeoReportRequestForm"},
            "example": {"jurisdiction_id": "astana", "api_key": "qala_…",
                        "service_code": "POTHOLE", "lat": "51.1282", "long": "71.4306",
                        "attribute[size]": "large", "description": "Яма у остановки"},
        }},
    }
}  # fmt: skip
_UPDATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {FORM: {
            "schema": {"$ref": "#/components/schemas/GeoReportUpdateForm"},
            "example": {"jurisdiction_id": "astana", "api_key": "qala_…", "update_id": "fms-1",
                        "service_request_id": "1", "status": "IN_PROGRESS",
                        "updated_datetime": "2026-03-20T10:00:00+05:00"},
        }},
    }
}  # fmt: skip

JURISDICTION = {"name": "jurisdiction_id", "in": "query", "required": True,
                "schema": {"type": "string"},
                "description": "The city (astana, almaty…)"}  # fmt: skip
LANG = {"name": "lang", "in": "query", "required": False,
        "schema": {"type": "string"}, "description": "ru, kk or en (extension)"}  # fmt: skip


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(*names: str) -> list[dict[str, Any]]:
    params = []
    for name in names:
        params.append({"name": name, "in": "query", "required": False,
                       "schema": {"type": "string"}})  # fmt: skip
    return params


METHODS: list[tuple[str, str, Handler, str, str, tuple[int, ...], dict[str, Any]]] = [
    ("GET", "discovery", discovery, "Service discovery", "GeoReportDiscovery", (400, 404),
     {"parameters": [JURISDICTION]}),
    ("GET", "services", service_list, "The city's services", "GeoReportServices", (400, 404),
     {"parameters": [JURISDICTION, LANG]}),
    ("GET", "services/{service_code}", service_definition, "A service's definition",
     "GeoReportServiceDefinition", (400, 404),
     {"parameters": [_path("service_code"), JURISDICTION, LANG]}),
    ("POST", "requests", post_request, "File a service request (api_key)",
     "GeoReportPostResult", (400, 403, 404), _FORM_BODY),
    ("GET", "requests", get_requests, "Search service requests", "GeoReportRequests",
     (400, 404), {"parameters": [JURISDICTION, LANG, *_query(
         "service_request_id", "service_code", "status", "start_date", "end_date",
         "updated_after", "updated_before", "page", "page_size", "extensions")]}),
    ("GET", "requests/{service_request_id}", get_request, "One service request",
     "GeoReportRequests", (400, 404),
     {"parameters": [_path("service_request_id"), JURISDICTION, LANG, *_query("extensions")]}),
    ("GET", "tokens/{token}", get_token, "The request id of a token", "GeoReportTokens",
     (400, 404), {"parameters": [_path("token"), JURISDICTION]}),
    ("GET", "servicerequestupdates", get_updates, "Request updates (mySociety extension)",
     "GeoReportUpdates", (400, 404),
     {"parameters": [JURISDICTION, *_query("start_date", "end_date")]}),
    ("POST", "servicerequestupdates", post_update,
     "Post a request update (mySociety extension; api_key)", "GeoReportUpdatePosted",
     (400, 403, 404), _UPDATE_BODY),
]  # fmt: skip


def _endpoint(handler: Handler, fmt: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(request, fmt)

    return endpoint


for _method, _path, _handler, _summary, _schema_name, _codes, _extra in METHODS:
    for _fmt in formats.FORMATS:
        router.add_api_route(
            f"/v2/{_path}.{_fmt}",
            _endpoint(_handler, _fmt),
            methods=[_method],
            summary=f"{_summary} ({_fmt.upper()})",
            operation_id=f"open311_{_method.lower()}_{_path.replace('/', '_')}_{_fmt}"
            .replace("{", "").replace("}", ""),
            responses=_responses(_fmt, _schema_name, _codes),
            response_class=Response,
            openapi_extra=_extra,
        )


@router.api_route(
    "/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def no_such_method(request: Request, rest: str) -> Response:
    """Paths and methods GeoReport does not have, answered as GeoReport errors."""
    fmt = format_of_path(request.url.path)
    known = {f"v2/{p}.{f}" for _, p, *_ in METHODS for f in formats.FORMATS
             if "{" not in p}  # fmt: skip
    if rest in known:
        allowed = sorted({m for m, p, *_ in METHODS for f in formats.FORMATS
                          if f"v2/{p}.{f}" == rest})  # fmt: skip
        return errors_response(405, [("405", f"{request.method} is not allowed here; use "
                                      f"{', '.join(allowed)}")], fmt,
                               {"Allow": ", ".join(allowed)})  # fmt: skip
    return errors_response(404, [("404", f"no GeoReport resource at {request.url.path}")], fmt)
