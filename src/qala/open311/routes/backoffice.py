"""The Open311 back office, ``/api/v1/open311/{city}/…``: Qala's own API for city staff.

Who may do what (the hub's access rule): an admin (of every city, or the one it is bound to)
and a city operator of the city read and change requests; an auditor reads; partners and the
public have no access (403). Staff see personal data, so every look (list or detail) is
written to the audit log (operation ``open311.read``, the request ids in its detail); every
change goes through one hub write (the entity, the row and the history event together), so
it is in the audit log and the request's history with who and when. Errors are NGSI-LD
ProblemDetails, like Qala's other own APIs.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response

from qala import openapi
from qala.auth import audit
from qala.hub import Actor, BadRequestData, Forbidden, NotFound, access, parse_datetime
from qala.open311 import figures
from qala.open311.catalogue import City
from qala.open311.model import EXTENDED_STATUSES, GeoReportError
from qala.open311.office import Office
from qala.open311.repository import StoredRequest
from qala.open311.search import Search, search
from qala.open311.sla import sla_state
from qala.services import services
from qala.web.edge import actor_of


class ProblemRoute(APIRoute):
    """GeoReport errors of the shared core answered as ProblemDetails here."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except GeoReportError as exc:
                detail = "; ".join(d for _, d in exc.errors)
                if exc.status == 404:
                    raise NotFound(detail) from None
                if exc.status == 403:
                    raise Forbidden(detail) from None
                raise BadRequestData(detail) from None

        return route


router = APIRouter(route_class=ProblemRoute, tags=["Open311 back office"])
CityPath = Annotated[str, Path(description="The city (its tenant)", examples=["astana"])]
NumPath = Annotated[int, Path(description="The service_request_id", ge=1, le=10**15)]

#: Response templates: texts staff send residents with a status change (ru/kk/en).
TEMPLATES: dict[str, dict[str, Any]] = {
    "received": {"status": "INVESTIGATING", "text": {
        "ru": "Ваше обращение получено и передано ответственной службе.",
        "kk": "Өтінішіңіз қабылданып, жауапты қызметке жіберілді.",
        "en": "Your request was received and passed to the responsible service."}},
    "scheduled": {"status": "ACTION_SCHEDULED", "text": {
        "ru": "Работы запланированы.", "kk": "Жұмыстар жоспарланды.",
        "en": "The work is scheduled."}},
    "in_progress": {"status": "IN_PROGRESS", "text": {
        "ru": "Бригада выехала на место.", "kk": "Бригада орынға шықты.",
        "en": "A crew is on its way."}},
    "fixed": {"status": "FIXED", "text": {
        "ru": "Проблема устранена. Спасибо за обращение!",
        "kk": "Мәселе жойылды. Өтінішіңізге рахмет!",
        "en": "The problem is fixed. Thank you for reporting it!"}},
    "not_ours": {"status": "NOT_COUNCILS_RESPONSIBILITY", "text": {
        "ru": "Вопрос не относится к ведению акимата; обращение передано владельцу объекта.",
        "kk": "Мәселе әкімдіктің құзыретіне жатпайды; өтініш нысан иесіне жіберілді.",
        "en": "This is not the akimat's responsibility; the request was passed to the owner."}},
}  # fmt: skip


def _office(request: Request) -> Office:
    return services(request).state.get(Office)


def _city(office: Office, name: str) -> City:
    city = office.catalogue.by_tenant(name)
    if city is None:
        raise NotFound(f"{name!r} has no Open311 service")
    return city


def _may_read(actor: Actor, city: City) -> None:
    access.check_tenant(actor, city.tenant)
    if actor.role not in (access.ADMIN, access.OPERATOR, access.AUDITOR):
        raise Forbidden(f"the {actor.role} role has no access to the Open311 back office")


def _may_change(actor: Actor, city: City) -> None:
    access.check_tenant(actor, city.tenant)
    if actor.role not in (access.ADMIN, access.OPERATOR):
        raise Forbidden(f"the {actor.role} role may not change service requests")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _staff_view(office: Office, city: City, req: StoredRequest) -> dict[str, Any]:
    service = next((s for s in city.services if s.code == req.service_code), None)
    state = None
    if service is not None and req.expected_at is not None:
        state = sla_state(service.sla, req.requested_at, req.expected_at, office.clock(),
                          office.calendars[city.tenant], req.closed_at).value  # fmt: skip
    return {
        "service_request_id": req.service_request_id,
        "service_code": req.service_code,
        "status": req.status,
        "extended_status": req.extended_status,
        "status_notes": req.status_notes,
        "description": req.description,
        "agency": req.agency,
        "assigned_to": req.assigned_to,
        "requested_at": _iso(req.requested_at),
        "updated_at": _iso(req.updated_at),
        "expected_at": _iso(req.expected_at),
        "closed_at": _iso(req.closed_at),
        "sla_state": state,
        "address": req.address,
        "address_id": req.address_id,
        "lat": req.lat,
        "long": req.long,
        "media_urls": req.media_urls,
        "attributes": req.attributes,
        "personal": req.personal.as_dict(),
        "external_id": req.external_id,
        "client": req.client,
        "duplicate_of": str(req.duplicate_of) if req.duplicate_of is not None else None,
        "entity_id": req.entity_id,
        "supporters": req.supporters,
    }


async def _looked(request: Request, actor: Actor, city: City, ids: list[str]) -> None:
    await audit.record(services(request).store, actor, "open311.read", tenant=city.tenant,
                       target=ids[0] if len(ids) == 1 else None,
                       detail={"requests": ids[:1000], "path": request.url.path})  # fmt: skip


async def _json_body(request: Request, allowed: tuple[str, ...] = ()) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise BadRequestData("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequestData(f"unknown member(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(allowed) or 'none'}")  # fmt: skip
    return body


def _text(body: dict[str, Any], name: str, limit: int = 4000) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequestData(f"{name} must be a string of at most {limit} characters")
    return value.strip() or None


_REQUEST_SCHEMA: dict[str, Any] = {"type": "object", "required": ["service_request_id", "status"],
                                   "properties": {"service_request_id": {"type": "string"},
                                                  "status": {"type": "string"}}}  # fmt: skip
_LIST = openapi.ok({"type": "object", "required": ["requests", "total"], "properties": {
    "requests": {"type": "array", "items": _REQUEST_SCHEMA}, "total": {"type": "integer"}}},
    "Matching requests, with personal data")  # fmt: skip
_ONE = openapi.ok(_REQUEST_SCHEMA, "The request as it is now")
_ERRORS = openapi.errors(400, 403, 404)


def _body_doc(properties: dict[str, Any], example: dict[str, Any],
              required: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}  # fmt: skip
    if required:
        schema["required"] = required
    return openapi.body(schema, (openapi.JSON,), example)


@router.get("/{city}/requests", summary="Search service requests (staff)",
            responses={**_LIST, **_ERRORS})  # fmt: skip
async def list_requests(
    request: Request,
    city: CityPath,
    status: Annotated[str | None, Query(description="open or closed")] = None,
    service_code: Annotated[str | None, Query(max_length=100)] = None,
    agency: Annotated[str | None, Query(max_length=200)] = None,
    assigned_to: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(description="words in description or address",
                                   max_length=200)] = None,
    overdue: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    office = _office(request)
    where = _city(office, city)
    actor = actor_of(request)
    _may_read(actor, where)
    if status is not None and status not in ("open", "closed"):
        raise BadRequestData("status is open or closed")
    query = Search(
        statuses=(status,) if status else (),
        service_codes=(service_code,) if service_code else (),
        agency=agency, assigned_to=assigned_to, text=q,
        overdue_at=office.clock() if overdue else None, limit=limit, offset=offset,
    )  # fmt: skip
    found, total = await search(office.tables, where.tenant, query)
    await _looked(request, actor, where, [r.service_request_id for r in found])
    return JSONResponse({"requests": [_staff_view(office, where, r) for r in found],
                         "total": total})  # fmt: skip


@router.get("/{city}/requests/{num}", summary="A service request with its history (staff)",
            responses={**_ONE, **_ERRORS})  # fmt: skip
async def get_request(request: Request, city: CityPath, num: NumPath) -> Response:
    office = _office(request)
    where = _city(office, city)
    actor = actor_of(request)
    _may_read(actor, where)
    stored = await office.get(where, num)
    body = _staff_view(office, where, stored)
    body["history"] = [
        {"at": _iso(e.at), "actor": e.actor, "kind": e.kind, "status": e.status,
         "extended_status": e.extended_status, "text": e.text, "public": e.public}
        for e in await office.repo.history(where.tenant, num)
    ]  # fmt: skip
    body["duplicate_suggestions"] = [
        {"service_request_id": s.service_request_id, "distance_m": round(s.distance_m, 1),
         "hours_apart": round(s.hours_apart, 1)}
        for s in await office.suggestions(where, stored)
    ]  # fmt: skip
    await _looked(request, actor, where, [stored.service_request_id])
    return JSONResponse(body)


def _status_from(
    body: dict[str, Any], lang: str, default: str | None = None
) -> tuple[str, str | None]:
    template = body.get("template")
    note = _text(body, "note")
    status = body.get("status", default)
    if template is not None:
        if template not in TEMPLATES:
            raise BadRequestData(f"template {template!r} is not one of {', '.join(TEMPLATES)}")
        status = body.get("status") or TEMPLATES[template]["status"]
        note = note or TEMPLATES[template]["text"][lang]
    if not isinstance(status, str) or status.upper() not in EXTENDED_STATUSES:
        raise BadRequestData(f"status is one of {', '.join(EXTENDED_STATUSES)}")
    return status.upper(), note


STATUS_MEMBERS = ("status", "note", "template")
_STATUS_BODY = _body_doc(
    {"status": {"type": "string", "enum": list(EXTENDED_STATUSES)},
     "note": {"type": "string", "maxLength": 4000},
     "template": {"type": "string", "enum": list(TEMPLATES)}},
    {"status": "IN_PROGRESS", "note": "Бригада выехала на место."},
)  # fmt: skip


@router.post("/{city}/requests/{num}/status", summary="Change a request's status (staff)",
             responses={**_ONE, **_ERRORS}, openapi_extra=_STATUS_BODY)  # fmt: skip
async def change_status(request: Request, city: CityPath, num: NumPath) -> Response:
    office = _office(request)
    where = _city(office, city)
    actor = actor_of(request)
    _may_change(actor, where)
    body = await _json_body(request, STATUS_MEMBERS)
    stored = await office.get(where, num)
    status, note = _status_from(body, stored.lang)
    after = await office.change_status(where, num, status, actor, note)
    return JSONResponse(_staff_view(office, where, after))


@router.post("/{city}/requests/{num}/close", summary="Close a request (staff)",
             responses={**_ONE, **_ERRORS}, openapi_extra=_STATUS_BODY)  # fmt: skip
async def close(request: Request, city: CityPath, num: NumPath) -> Response:
    office = _office(request)
    where = _city(office, city)
    actor = actor_of(request)
    _may_change(actor, where)
    body = await _json_body(request, STATUS_MEMBERS)
    stored = await office.get(where, num)
    status, note = _status_from(body, stored.lang, "FIXED")
    if EXTENDED_STATUSES[status] != "closed":
        raise BadRequestData(f"{status} does not close a request")
    after = await office.change_status(where, num, status, actor, note, kind="closed")
    return JSONResponse(_staff_view(office, where, after))


@router.post(
    "/{city}/requests/{num}/assign", summary="Assign a request to an agency or a person",
    responses={**_ONE, **_ERRORS},
    openapi_extra=_body_doc({"agency": {"type": "string"}, "assignee": {"type": "string"},
                             "note": {"type": "string"}},
                            {"agency": "astana.roads", "assignee": "brigade-7"}),
)  # fmt: skip
async def assign(request: Request, city: CityPath, num: NumPath) -> Response:
    office = _office(request)
    where = _city(office, city)
    actor = actor_of(request)
    _may_change(actor, where)
    body = await _json_body(request, ("agency", "assignee", "note"))
    agency, assignee = _text(body, "agency", 200), _text(body, "assignee", 200)
    if agency is None and assignee is None:
        raise BadRequestData("give an agency, an assignee or both")
    agencies = {s.agency.id for s in where.services}
    if agency is not None and agency not in agencies:
        raise BadRequestData(f"agency {agency!r} is not one of {', '.join(sorted(agencies))}")
    after = await office.assign(where, num, actor, agency=agency, assignee=assignee,
                                note=_text(body, "note"))  # fmt: skip
    return JSONResponse(_staff_view(office, where, after))


@router.post(
    "/{city}/requests/{num}/notes", summary="Add a note to a request's history",
    responses={**_ONE, **_ERRORS},
    openapi_extra=_body_doc({"text": {"type": "string", "maxLength": 4000},
                             "public": {"type": "boolean"}},
                            {"text": "Called the resident back", "public": False}, ["text"]),
)  # fmt: skip
async def add_note(request: Request, city: CityPath, num: NumPath) -> Response:
    office = _office(request)
    where = _city(office, city)
    actor = actor_of(request)
    _may_change(actor, where)
    body = await _json_body(request, ("text", "public"))
    text = _text(body, "text")
    public = body.get("public", False)
    if text is None or not isinstance(public, bool):
        raise BadRequestData("text (a string) is required; public is true or false")
    stored = await office.add_note(where, num, actor, text, public=public)
    return JSONResponse(_staff_view(office, where, stored))


@router.post(
    "/{city}/requests/{num}/merge", summary="Merge a duplicate into the original request",
    responses={**_ONE, **_ERRORS},
    openapi_extra=_body_doc({"into": {"type": "string"}}, {"into": "1041"}, ["into"]),
)  # fmt: skip
async def merge(request: Request, city: CityPath, num: NumPath) -> Response:
    office = _office(request)
    where = _city(office, city)
    actor = actor_of(request)
    _may_change(actor, where)
    body = await _json_body(request, ("into",))
    into = body.get("into")
    if not isinstance(into, str | int) or not str(into).isdigit() or len(str(into)) > 15:
        raise BadRequestData("into is the service_request_id of the original request")
    after = await office.merge(where, num, int(into), actor)
    return JSONResponse(_staff_view(office, where, after))


@router.get(
    "/{city}/templates", summary="Response templates",
    responses={**openapi.ok({"type": "object"}, "Templates by name"), **_ERRORS},
)  # fmt: skip
async def templates(request: Request, city: CityPath) -> Response:
    office = _office(request)
    where = _city(office, city)
    _may_read(actor_of(request), where)
    return JSONResponse(TEMPLATES)


@router.post(
    "/{city}/escalations", summary="Escalate the overdue requests now",
    responses={**openapi.ok({"type": "object", "properties": {
        "escalated": {"type": "array", "items": {"type": "string"}}}}, "Escalated"), **_ERRORS},
    openapi_extra=_body_doc({}, {}),
)  # fmt: skip
async def escalate(request: Request, city: CityPath) -> Response:
    office = _office(request)
    where = _city(office, city)
    actor = actor_of(request)
    _may_change(actor, where)
    await _json_body(request)  # an empty object: there is nothing to choose
    return JSONResponse({"escalated": await office.escalate_overdue(where, actor)})


@router.get(
    "/{city}/figures", summary="Time to close, % within SLA, backlog",
    responses={**openapi.ok({"type": "object"}, "Figures of the period"), **_ERRORS},
)  # fmt: skip
async def city_figures(
    request: Request,
    city: CityPath,
    start: Annotated[str | None, Query(max_length=40, **openapi.DATE_TIME)] = None,
    end: Annotated[str | None, Query(max_length=40, **openapi.DATE_TIME)] = None,
) -> Response:
    office = _office(request)
    where = _city(office, city)
    _may_read(actor_of(request), where)
    try:
        until = parse_datetime(end) if end is not None else office.clock()
        since = parse_datetime(start) if start is not None else until - timedelta(days=365)
    except ValueError as exc:
        raise BadRequestData(f"start and end are ISO 8601 date-times with a zone: {exc}") from None
    start_at, end_at = since, until
    return await _figures(office, where, start_at, end_at)


async def _figures(office: Office, where: City, start: datetime, end: datetime) -> Response:
    if end <= start:
        raise BadRequestData("end must be after start")
    records = await figures.service_requests(office.tables, where.tenant, start, end)
    body = figures.summary(records, end)
    body["start"], body["end"] = _iso(start), _iso(end)
    return JSONResponse(body)
