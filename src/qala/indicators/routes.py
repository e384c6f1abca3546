"""The city indicators API, ``/api/v1/indicators/…``.

Reading (catalogue, values, comparison, gaps, assessment, targets, reported values, export):
every role that may read the city (``tenant`` query parameter; an actor bound to another city
is refused). Computing, entering reported values and setting targets: the city's operators for
their own city, and admins. Errors are ProblemDetails.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError
from starlette.responses import Response

from qala import openapi
from qala.hub import BadRequestData, Hub
from qala.indicators.assessment import ReportedAnswer
from qala.indicators.compare import Target
from qala.indicators.export import rows_to_csv, rows_to_json
from qala.indicators.period import Period
from qala.indicators.service import IndicatorService, parse_period
from qala.indicators.values import ReportedValue
from qala.ngsild import http
from qala.services import services
from qala.web.edge import actor_of

router = APIRouter(tags=["City indicators"])

TenantQuery = Annotated[
    str, Query(description="The city (tenant)", examples=["astana"], max_length=63)
]
PeriodQuery = Annotated[
    str | None,
    Query(description="2026, 2026-Q1 or 2026-03 (default: the current year)", max_length=10),
]
LANGUAGES = ("en", "ru", "kk")
CITY_ZONE = "Asia/Almaty"
M = TypeVar("M", bound=BaseModel)

_OBJECT = {"type": "object"}
_LIST = {"type": "array", "items": _OBJECT}


def indicators(request: Request) -> IndicatorService:
    service: IndicatorService = services(request).state.get(IndicatorService)
    return service


def _period(text: str | None) -> Period:
    """The period asked for; by default the city's current year."""
    if text is None:
        return Period("year", datetime.now(ZoneInfo(CITY_ZONE)).year, 1)
    return parse_period(text)


def _tenant(name: str) -> str:
    return Hub.check_tenant_name(name)


def _language(lang: str | None) -> str:
    if lang is None:
        return "en"
    if lang not in LANGUAGES:
        raise BadRequestData(f"lang must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    return lang


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ComputeBody(_Body):
    tenant: StrictStr = Field(min_length=1, max_length=63)
    period: StrictStr = Field(min_length=4, max_length=10)
    force: StrictBool = False


class TargetBody(_Body):
    tenant: str = Field(min_length=1, max_length=63)
    indicator: str = Field(min_length=1, max_length=200)
    value: float = Field(allow_inf_nan=False)
    by: date
    baseline: float | None = Field(default=None, allow_inf_nan=False)
    note: str = Field(default="", max_length=2000)


class ReportedBody(_Body):
    tenant: str = Field(min_length=1, max_length=63)
    indicator: str = Field(min_length=1, max_length=200)
    period: str = Field(min_length=4, max_length=10)
    value: float = Field(allow_inf_nan=False)
    unit: str | None = Field(default=None, max_length=100)
    source: str = Field(min_length=1, max_length=2000)
    source_date: date = Field(alias="sourceDate")
    note: str = Field(default="", max_length=2000)


async def _body(request: Request, model: type[M]) -> M:
    raw = await http.read_json(request, services(request).settings.max_body_bytes)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise BadRequestData(f"{where}: {first.get('msg', 'invalid')}") from None


@router.get(
    "/catalogue",
    summary="The indicator catalogue (ISO 37120, ISO 37122, U4SSC, Qala's measures)",
    responses={**openapi.ok(_LIST, "The indicators"), **openapi.errors(400)},
)
async def catalogue(
    request: Request,
    lang: Annotated[str | None, Query(description="en, ru or kk", max_length=2)] = None,
    framework: Annotated[
        str | None, Query(description="iso37120, iso37122, u4ssc, sdg or qala", max_length=20)
    ] = None,
) -> Response:
    language = _language(lang)
    service = indicators(request)
    out = []
    for indicator in service.catalogue:
        if framework is not None and indicator.framework != framework:
            continue
        data = indicator.model_dump(mode="json", exclude_none=True)
        data["title"] = indicator.title.get(language)
        data["titles"] = indicator.model_dump(mode="json")["title"]
        data["number"] = indicator.number
        out.append(data)
    return http.json_response(out)


@router.get(
    "/values",
    summary="A city's stored indicator values, with provenance and data quality",
    responses={**openapi.ok(_LIST, "The values"), **openapi.errors(400, 403, 404)},
)
async def values(
    request: Request,
    tenant: TenantQuery,
    indicator: Annotated[str | None, Query(max_length=200)] = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
    versions: Annotated[
        str | None, Query(description="all: every calculator version (default: the newest)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    if versions not in (None, "all", "latest"):
        raise BadRequestData("versions is all or latest")
    if period is not None:
        parse_period(period)
    found = await indicators(request).values(
        _tenant(tenant), actor_of(request), indicator=indicator, period=period,
        all_versions=versions == "all", limit=limit, offset=offset,
    )
    return http.json_response([v.to_dict() for v in found])


@router.post(
    "/compute",
    summary="Compute a city's indicators for a period (those whose inputs changed, or all)",
    openapi_extra=openapi.body(
        {
            "type": "object",
            "required": ["tenant", "period"],
            "properties": {
                "tenant": {"type": "string", "minLength": 1, "maxLength": 63},
                "period": {"type": "string", "minLength": 4, "maxLength": 10},
                "force": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        (openapi.JSON,),
        example={"tenant": "astana", "period": "2026"},
    ),
    responses={
        **openapi.ok(_LIST, "What each calculator did"),
        **openapi.errors(400, 403, 404, 413),
    },
)
async def compute(request: Request) -> Response:
    body = await _body(request, ComputeBody)
    outcomes = await indicators(request).compute(
        _tenant(body.tenant), actor_of(request), parse_period(body.period), force=body.force
    )
    return http.json_response([o.to_dict() for o in outcomes])


@router.get(
    "/comparison",
    summary="The cities compared on each indicator: rank, distance to the best, score",
    responses={**openapi.ok(_LIST, "One comparison per indicator"), **openapi.errors(400)},
)
async def comparison(request: Request, period: PeriodQuery = None) -> Response:
    found = await indicators(request).comparison(actor_of(request), _period(period))
    return http.json_response([c.to_dict() for c in found])


@router.get(
    "/gaps",
    summary="Where a city trails its peers and its targets; data missing per ranking dimension",
    responses={**openapi.ok(_OBJECT, "The gap report"), **openapi.errors(400, 403, 404)},
)
async def gaps(request: Request, tenant: TenantQuery, period: PeriodQuery = None) -> Response:
    report = await indicators(request).gaps(_tenant(tenant), actor_of(request), _period(period))
    return http.json_response(report.to_dict())


@router.get(
    "/assessment",
    summary="The national Smart City reference-standard assessment of a city",
    responses={**openapi.ok(_OBJECT, "The assessment"), **openapi.errors(400, 403, 404)},
)
async def assessment(
    request: Request,
    tenant: TenantQuery,
    period: PeriodQuery = None,
    methodology: Annotated[str, Query(max_length=40)] = "kz-2018",
) -> Response:
    result = await indicators(request).assessment(
        _tenant(tenant), actor_of(request), _period(period), methodology
    )
    return http.json_response(result.to_dict())


class AnswerBody(_Body):
    tenant: str = Field(min_length=1, max_length=63)
    methodology: str = Field(default="kz-2018", min_length=1, max_length=40)
    requirement: str = Field(min_length=1, max_length=200)
    met: bool
    source: str = Field(min_length=1, max_length=2000)
    source_date: date = Field(alias="sourceDate")
    note: str = Field(default="", max_length=2000)


@router.get(
    "/assessment/answers",
    summary="A city's answers to the assessment's requirements the hub cannot check",
    responses={**openapi.ok(_LIST, "The answers in force"), **openapi.errors(400, 403, 404)},
)
async def answers(
    request: Request,
    tenant: TenantQuery,
    methodology: Annotated[str, Query(max_length=40)] = "kz-2018",
) -> Response:
    found = await indicators(request).answers(_tenant(tenant), actor_of(request), methodology)
    return http.json_response([a.to_dict() for a in found])


@router.post(
    "/assessment/answers",
    summary="Answer a requirement of the assessment (the city's operators, admins)",
    openapi_extra=openapi.body(
        {"type": "object", "required": ["tenant", "requirement", "met", "source", "sourceDate"]},
        (openapi.JSON,),
        example={
            "tenant": "astana", "methodology": "kz-2018", "requirement": "education-e-learning",
            "met": True, "source": "Akimat education department, annual report",
            "sourceDate": "2026-02-01",
        },
    ),
    responses={**openapi.ok(_OBJECT, "The answer entered", status=201),
               **openapi.errors(400, 403, 404, 413)},
)
async def add_answer(request: Request) -> Response:
    body = await _body(request, AnswerBody)
    actor = actor_of(request)
    answer = ReportedAnswer(
        requirement_id=body.requirement,
        met=body.met,
        source=body.source,
        source_date=body.source_date,
        entered_by=actor.id,
        entered_at=datetime.now(UTC),
        note=body.note,
    )
    await indicators(request).add_answer(actor, _tenant(body.tenant), body.methodology, answer)
    return http.json_response(answer.to_dict(), status=201)


@router.get(
    "/targets",
    summary="A city's targets and its progress toward them",
    responses={**openapi.ok(_LIST, "The targets"), **openapi.errors(400, 403, 404)},
)
async def targets(request: Request, tenant: TenantQuery, period: PeriodQuery = None) -> Response:
    found = await indicators(request).targets_progress(
        _tenant(tenant), actor_of(request), _period(period)
    )
    return http.json_response(found)


@router.put(
    "/targets",
    summary="Set a city's target for an indicator (the city's operators, admins)",
    openapi_extra=openapi.body(
        {"type": "object", "required": ["tenant", "indicator", "value", "by"]},
        (openapi.JSON,),
        example={"tenant": "astana", "indicator": "iso37120:8.1", "value": 25, "by": "2027-12-31"},
    ),
    responses={**openapi.no_content("The target is set"), **openapi.errors(400, 403, 404, 413)},
)
async def set_target(request: Request) -> Response:
    body = await _body(request, TargetBody)
    target = Target(_tenant(body.tenant), body.indicator, body.value, body.by, body.baseline)
    await indicators(request).set_target(target.tenant, actor_of(request), target, body.note)
    return Response(status_code=204)


@router.get(
    "/reported",
    summary="Reported values of a city (entered by a person, never measured)",
    responses={**openapi.ok(_LIST, "The reported values"), **openapi.errors(400, 403, 404)},
)
async def reported(
    request: Request,
    tenant: TenantQuery,
    indicator: Annotated[str | None, Query(max_length=200)] = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    if period is not None:
        parse_period(period)
    found = await indicators(request).reported(
        _tenant(tenant), actor_of(request), indicator, period
    )
    return http.json_response([r.to_dict() for r in found])


@router.post(
    "/reported",
    summary="Enter a reported value (the city's operators, admins)",
    openapi_extra=openapi.body(
        {"type": "object", "required": ["tenant", "indicator", "period", "value", "source",
                                        "sourceDate"]},
        (openapi.JSON,),
        example={
            "tenant": "astana", "indicator": "iso37120:5/unemployment-rate", "period": "2025",
            "value": 4.6, "source": "Bureau of National Statistics", "sourceDate": "2026-02-15",
        },
    ),
    responses={**openapi.ok(_OBJECT, "The value entered", status=201),
               **openapi.errors(400, 403, 404, 413)},
)
async def add_reported(request: Request) -> Response:
    body = await _body(request, ReportedBody)
    service = indicators(request)
    actor = actor_of(request)
    tenant = _tenant(body.tenant)
    if body.indicator not in service.catalogue:
        raise BadRequestData(f"no indicator {body.indicator!r} in the catalogue")
    unit = body.unit if body.unit is not None else service.catalogue.get(body.indicator).unit
    value = ReportedValue(
        indicator_id=body.indicator,
        tenant=tenant,
        period=parse_period(body.period),
        value=body.value,
        unit=unit,
        source=body.source,
        source_date=body.source_date,
        entered_by=actor.id,
        entered_at=datetime.now(UTC),
        note=body.note,
    )
    await service.add_reported(actor, value)
    return http.json_response(value.to_dict(), status=201)


@router.get(
    "/export",
    summary="A city's values in the ISO 37120 reporting layout (CSV or JSON)",
    responses={
        **openapi.ok(_LIST, "The report", media_types=(openapi.JSON, "text/csv")),
        **openapi.errors(400, 403, 404),
    },
)
async def export(
    request: Request,
    tenant: TenantQuery,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    format: Annotated[str | None, Query(description="csv or json (default)")] = None,
    lang: Annotated[str | None, Query(max_length=2)] = None,
    framework: Annotated[str, Query(max_length=20)] = "iso37120",
) -> Response:
    if format not in (None, "json", "csv"):
        raise BadRequestData("format is csv or json")
    chosen = year if year is not None else _period(None).year
    rows = await indicators(request).export(
        _tenant(tenant), actor_of(request), chosen, _language(lang), frameworks=(framework,)
    )
    if format == "csv":
        return Response(rows_to_csv(rows), media_type="text/csv; charset=utf-8")
    return http.json_response(rows_to_json(rows))

