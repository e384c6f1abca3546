"""``/api/v1/programme/programmes/{programme}/…``: verification, progress, flags and their
explanations, the field-by-field history, import, export and the audit report."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import (
    BadRequestData,
    Forbidden,
    HubError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    access,
)
from qala.programme import export, importing, packages
from qala.programme.audit import RULES, SEVERITIES
from qala.programme.hub_inputs import HubInputs
from qala.programme.revisions import check
from qala.programme.routes.common import (
    EVALUATION,
    FLAG,
    ID_PATTERN,
    PROGRESS,
    TAG,
    ProgrammePath,
    check_explainer,
    check_manager,
    check_programme_admin,
    check_reader,
    check_verifier,
    evaluation_body,
    flag_body,
    iso,
    json_default,
    json_out,
    load,
    progress_body,
    read_body,
    repository,
    svc_of,
    visible,
)
from qala.programme.service import (
    compiled,
    filter_flags,
    owner_project,
    programme_ids,
    restrict,
    run_audit,
    verify,
    visible_changes,
)
from qala.web.edge import actor_of

router = APIRouter(tags=[TAG])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
CityQuery = Annotated[
    str | None, Query(description="Only this city (tenant)", pattern=r"^[A-Za-z0-9_.\-]{1,63}$")
]


async def _inputs(request: Request) -> HubInputs:
    svc = svc_of(request)
    return await HubInputs.of(svc)


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/programmes/{programme}/verify",
    summary="Evaluate the deliverables against the live hub now (the history is kept)",
    openapi_extra=openapi.body(
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "Only this city's deliverables"}
            },
            "additionalProperties": False,
        },
        (openapi.JSON,),
        example={"city": "astana"},
    ),
    responses={
        **openapi.ok(
            {
                "type": "object",
                "required": ["at", "evaluations"],
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "evaluations": {"type": "array", "items": EVALUATION},
                },
            },
            "The evaluations made",
        ),
        **openapi.errors(400, 403),
    },
)
async def verify_now(request: Request, programme: ProgrammePath) -> Response:
    actor = actor_of(request)
    check_verifier(actor)
    body = await read_body(request)
    if not isinstance(body, dict) or set(body) - {"city"}:
        raise BadRequestData('the body is {} (every city) or {"city": "<tenant>"}')
    city = body.get("city")
    if city is not None and not isinstance(city, str):
        raise BadRequestData("city must be a tenant name (a string)")
    repo = repository(request)
    compiler = await load(repo, programme)
    tenant = actor.tenant or city
    if actor.tenant is not None and city not in (None, actor.tenant):
        raise Forbidden(f"{actor.role} {actor.id!r} verifies the projects of {actor.tenant!r} only")
    at = _now()
    results = await verify(
        repo, await _inputs(request), programme, at, tenant=tenant, state=compiler.state
    )
    return json_out({"at": iso(at), "evaluations": [evaluation_body(ev) for ev in results]})


@router.get(
    "/programmes/{programme}/evaluations",
    summary="The kept evaluations (the verification history), oldest first",
    responses={
        **openapi.ok({"type": "array", "items": EVALUATION}, "The evaluations"),
        **openapi.errors(400, 403),
    },
)
async def list_evaluations(
    request: Request,
    programme: ProgrammePath,
    deliverable: Annotated[
        str | None, Query(description="Only this deliverable's", pattern=ID_PATTERN)
    ] = None,
) -> Response:
    repo = repository(request)
    compiler = await load(repo, programme)
    projects = visible(actor_of(request), compiler.state)
    out = [
        evaluation_body(ev)
        for ev in await repo.evaluations(programme, deliverable)
        if projects is None or ev.project in projects
    ]
    return json_out(out)


@router.get(
    "/programmes/{programme}/progress",
    summary="Physical (verified) against financial progress, with earned-value indices",
    responses={
        **openapi.ok(
            {
                "type": "object",
                "required": ["at", "projects", "cities"],
                "properties": {
                    "at": {"type": "string"},
                    "projects": {"type": "array", "items": PROGRESS},
                    "cities": {"type": "array", "items": PROGRESS},
                },
            },
            "Progress per project and per city",
        ),
        **openapi.errors(400, 403),
    },
)
async def progress(request: Request, programme: ProgrammePath, city: CityQuery = None) -> Response:
    report = await _audit(request, programme, city)
    return json_out(
        {
            "at": iso(report.at),
            "projects": [progress_body(p) for p in report.projects],
            "cities": [progress_body(p) for p in report.cities],
        }
    )


async def _audit(request: Request, programme: str, city: str | None = None) -> Any:
    repo = repository(request)
    compiler = await load(repo, programme)
    projects = visible(actor_of(request), compiler.state)
    return await run_audit(
        repo, await _inputs(request), programme, _now(), projects=projects, tenant=city
    )


@router.get(
    "/programmes/{programme}/flags",
    summary="The audit flags, most severe first, with their evidence and explanations",
    responses={
        **openapi.ok(
            {
                "type": "object",
                "required": ["flags", "notEvaluated"],
                "properties": {
                    "flags": {"type": "array", "items": FLAG},
                    "notEvaluated": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "Rules that could not be evaluated, with the reason",
                    },
                },
            },
            "The flags",
        ),
        **openapi.errors(400, 403),
    },
)
async def list_flags(
    request: Request,
    programme: ProgrammePath,
    city: CityQuery = None,
    sector: Annotated[
        str | None, Query(description="Only projects of this sector (or a subsector of it)")
    ] = None,
    flag: Annotated[
        Literal[tuple(RULES)] | None,  # type: ignore[valid-type]
        Query(description="Only flags of this rule"),
    ] = None,
    severity: Annotated[
        Literal[SEVERITIES] | None,  # type: ignore[valid-type]
        Query(description="Only flags of this severity"),
    ] = None,
) -> Response:
    report = await _audit(request, programme, city)
    flags = filter_flags(
        report.flags, report.programme, sector=sector, rule=flag, severity=severity
    )
    return json_out({"flags": [flag_body(f) for f in flags], "notEvaluated": report.not_evaluated})


@router.post(
    "/programmes/{programme}/flags/{key}/explanations",
    summary="Mark a flag explained, with the reason (auditors; kept, never deleted)",
    openapi_extra=openapi.body(
        {
            "type": "object",
            "required": ["reason"],
            "properties": {
                "reason": {"type": "string", "minLength": 1, "pattern": r"\S"},
                "document": {"type": ["string", "null"]},
            },
            "additionalProperties": False,
        },
        (openapi.JSON,),
        example={"reason": "force majeure, act 7", "document": "act 7"},
    ),
    responses={
        **openapi.ok(FLAG, "The flag with its explanation", status=201),
        **openapi.errors(400, 403, 413),
    },
)
async def explain_flag(
    request: Request,
    programme: ProgrammePath,
    key: Annotated[
        str,
        Path(
            description="The flag's key: rule:kind:id",
            examples=["milestone-overdue:milestone:SHY-LIGHT-M1"],
            pattern=ID_PATTERN,
        ),
    ],
) -> Response:
    actor = actor_of(request)
    check_explainer(actor)
    body = await read_body(request)
    if not isinstance(body, dict) or set(body) - {"reason", "document"}:
        raise BadRequestData('the body must be {"reason": "...", "document": "..."}')
    reason, document = body.get("reason"), body.get("document")
    if not isinstance(reason, str) or not reason.strip():
        raise BadRequestData("an explanation needs its reason (a non-empty string)")
    if document is not None and not isinstance(document, str):
        raise BadRequestData("document must be a string")
    report = await _audit(request, programme)
    flag = next((f for f in report.flags if f.key == key), None)
    if flag is None:
        raise NotFound(f"programme {programme!r} has no flag {key!r} now")
    repo = repository(request)
    note = await repo.explain(
        programme, flag, actor=actor.id, reason=reason, at=_now(), document=document
    )
    return json_out(flag_body(dataclasses.replace(flag, explanation=note)), 201)


@router.get(
    "/programmes/{programme}/history",
    summary="Every field's change, oldest first, with who, when, why and the document",
    responses={
        **openapi.ok(
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["revision", "at", "actor", "reason", "kind", "target", "field"],
                },
            },
            "The field changes",
        ),
        **openapi.errors(400, 403),
    },
)
async def history(
    request: Request,
    programme: ProgrammePath,
    kind: Annotated[
        Literal["programme", "project", "contract", "payment", "milestone", "deliverable"] | None,
        Query(description="Only changes of this kind of object"),
    ] = None,
    target: Annotated[str | None, Query(description="Only changes of this object")] = None,
    field: Annotated[str | None, Query(description="Only changes of this field")] = None,
) -> Response:
    repo = repository(request)
    compiler = await load(repo, programme)
    projects = visible(actor_of(request), compiler.state)
    out = [
        {
            "revision": c.revision,
            "at": iso(c.at),
            "actor": c.actor,
            "reason": c.reason,
            "document": c.document,
            "op": c.op,
            "kind": c.kind,
            "target": c.target,
            "field": c.field,
            "old": c.old,
            "new": c.new,
        }
        for c in visible_changes(compiler.state, compiler.changes, projects)
        if (kind is None or c.kind == kind)
        and (target is None or c.target == target)
        and (field is None or c.field == field)
    ]
    return json_out(out)


# -- import and export ------------------------------------------------------------------------


async def _read_bytes(request: Request) -> bytes:
    limit = svc_of(request).settings.max_body_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise BadRequestData("the request body is empty: send the file to import")
    return data


@router.post(
    "/programmes/{programme}/import",
    summary="Import projects, contracts, payments, milestones (all or nothing)",
    description="CSV (one sheet, named by `sheet`), an XLSX workbook (sheets named after the "
    "tables), an OCDS release package or an OC4IDS project package (JSON). Any error "
    "imports nothing; the answer lists every error with its row, column and reason.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                CSV: {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
                openapi.JSON: {
                    "schema": {
                        "type": "object",
                        "description": "An OCDS release package (releases) or an OC4IDS "
                        "project package (projects)",
                        "properties": {
                            "releases": {"type": "array", "items": {"type": "object"}},
                            "projects": {"type": "array", "items": {"type": "object"}},
                        },
                        "oneOf": [{"required": ["releases"]}, {"required": ["projects"]}],
                    },
                    "example": {
                        "version": "0.9",
                        "projects": [
                            {
                                "id": "SHY-PARK",
                                "title": "Parking guidance",
                                "locations": [{"address": {"locality": "Shymkent"}}],
                                "budget": {"amount": {"amount": "800000000", "currency": "KZT"}},
                            }
                        ],
                    },
                },
            },
        }
    },
    responses={
        **openapi.ok(
            {
                "type": "object",
                "required": ["imported"],
                "properties": {"imported": {"type": "integer"}, "revisions": {"type": "array"}},
            },
            "What was imported: the number of revisions",
        ),
        **openapi.errors(400, 403, 409, 413, 415),
    },
)
async def import_file(
    request: Request,
    programme: ProgrammePath,
    sheet: Annotated[
        Literal[importing.ORDER] | None,  # type: ignore[valid-type]
        Query(description="The table a CSV body holds"),
    ] = None,
    reason: Annotated[str, Query(description="Why (kept with every revision)")] = "imported",
    document: Annotated[str | None, Query(description="The source document")] = None,
    tenant: Annotated[
        str | None, Query(description="OC4IDS: the city of every project in the package")
    ] = None,
    project: Annotated[
        str | None, Query(description="OCDS: the project the releases belong to")
    ] = None,
) -> Response:
    actor = actor_of(request)
    check_reader(actor)
    if actor.role not in (access.ADMIN, access.OPERATOR):
        raise Forbidden(f"the {actor.role} role may not import")
    if not reason.strip():
        raise BadRequestData("reason must not be empty")
    repo = repository(request)
    exists = programme in await programme_ids(repo)
    if not exists and actor.role != access.ADMIN:
        raise NotFound(f"there is no programme {programme!r}")
    if not exists:
        check_programme_admin(actor)
    existing = await repo.revisions(programme)
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    data = await _read_bytes(request)
    who: dict[str, Any] = {"actor": actor.id, "reason": reason, "at": _now(), "document": document}
    try:
        if media == CSV:
            if sheet is None:
                raise BadRequestData(
                    f"a CSV body needs ?sheet= (one of {', '.join(importing.ORDER)})"
                )
            revisions = importing.import_csv(programme, existing, {sheet: data}, **who)
        elif media == XLSX:
            revisions = importing.import_xlsx(programme, existing, data, **who)
        elif media == openapi.JSON:
            package = packages.load_json(data)
            if isinstance(package, dict) and ("releases" in package) == ("projects" in package):
                raise BadRequestData(
                    "a JSON body is an OCDS release package (releases) or an OC4IDS project "
                    "package (projects), not both"
                )
            for name in ("releases", "projects"):
                items = package.get(name, []) if isinstance(package, dict) else []
                if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
                    raise BadRequestData(f"{name} must be an array of objects")
            if isinstance(package, dict) and "releases" in package:
                revisions = packages.import_ocds(
                    programme, existing, package, project=project, **who
                )
            elif isinstance(package, dict) and "projects" in package:
                revisions = packages.import_oc4ids(
                    programme, existing, package, tenant=tenant, **who
                )
            else:
                raise BadRequestData(
                    "a JSON body is an OCDS release package (releases) or an OC4IDS project "
                    "package (projects)"
                )
        else:
            raise UnsupportedMediaType(
                f"import takes {CSV}, {XLSX} or {openapi.JSON}, not {media!r}"
            )
    except HubError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, UnicodeDecodeError) as exc:
        raise BadRequestData(f"the file cannot be read: {exc}") from None
    if actor.role == access.OPERATOR:
        compiler, _ = check(programme, existing, revisions)
        for rev in revisions:
            owner = owner_project(compiler.state, rev.kind, rev.target)
            if rev.kind == "programme" or owner is None:
                check_programme_admin(actor)
            else:
                check_manager(actor, compiler.state.projects[owner].tenant)
    stored = await repo.append(programme, revisions) if revisions else []
    return json_out(
        {
            "imported": len(stored),
            "revisions": [
                {"seq": r.seq, "op": r.op, "kind": r.kind, "target": r.target} for r in stored
            ],
        }
    )


@router.get(
    "/programmes/{programme}/export",
    summary="Export as an OC4IDS project package (JSON) or a CSV table in the import format",
    responses={
        200: {
            "description": "The export",
            "content": {
                openapi.JSON: {"schema": {"type": "object"}},
                CSV: {"schema": {"type": "string"}},
            },
        },
        **openapi.errors(400, 403),
    },
)
async def export_programme(
    request: Request,
    programme: ProgrammePath,
    format: Annotated[Literal["oc4ids", "csv"], Query(description="The format")] = "oc4ids",
    sheet: Annotated[
        Literal[importing.ORDER],  # type: ignore[valid-type]
        Query(description="CSV: the table"),
    ] = "projects",
    city: CityQuery = None,
) -> Response:
    repo = repository(request)
    compiler = await compiled(repo, programme)
    if compiler.last_seq == 0:
        raise NotFound(f"there is no programme {programme!r}")
    projects = visible(actor_of(request), compiler.state)
    state = compiler.state if projects is None else restrict(compiler.state, projects)
    if format == "csv":
        if city is not None:
            state = restrict(state, [k for k, v in state.projects.items() if v.tenant == city])
        return Response(export.to_csv(state, sheet), media_type=CSV)
    package = export.oc4ids_package(
        state,
        await repo.evaluations(programme),
        published=_now(),
        uri=str(request.url),
        tenant=city,
    )
    return Response(export.dumps(package), media_type=openapi.JSON)


@router.get(
    "/programmes/{programme}/audit",
    summary="The audit report: progress and flags with their evidence",
    responses={
        200: {
            "description": "The report",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
                openapi.JSON: {"schema": {"type": "object"}},
                CSV: {"schema": {"type": "string"}},
            },
        },
        **openapi.errors(400, 403),
    },
)
async def audit_report(
    request: Request,
    programme: ProgrammePath,
    format: Annotated[Literal["md", "html", "json", "csv"], Query(description="The format")] = "md",
    city: CityQuery = None,
) -> Response:
    report = await _audit(request, programme, city)
    return render(report, format)


def render(report: Any, format: str) -> Response:
    """An audit as a response in ``format`` (md, html, json, csv)."""
    body = render_text(report, format)
    media = {"md": "text/markdown", "html": "text/html", "json": openapi.JSON, "csv": CSV}[format]
    return Response(body, media_type=media)


def render_text(report: Any, format: str) -> str:
    args = (report.programme, report.flags, report.projects, report.cities, report.at)
    if format == "md":
        return export.report_markdown(*args, report.not_evaluated)
    if format == "html":
        return export.report_html(*args, report.not_evaluated)
    if format == "csv":
        return export.flags_csv(report.flags)
    return orjson.dumps(
        {
            "programme": report.programme.id,
            "at": iso(report.at),
            "cities": [progress_body(p) for p in report.cities],
            "projects": [progress_body(p) for p in report.projects],
            "flags": [flag_body(f) for f in report.flags],
            "notEvaluated": report.not_evaluated,
        },
        default=json_default,
        option=orjson.OPT_INDENT_2,
    ).decode()
