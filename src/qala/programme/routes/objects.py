"""``/api/v1/programme/programmes/…``: programmes and their projects, contracts (with their
modifications), payments, milestones and deliverables.

Every change is a revision (who: the caller; when: now; why: ``reason``; on which
``document``), appended to the programme's history; nothing is overwritten. Bodies are
``{"id": …, "fields": {…}, "reason": …, "document": …}`` (``id`` only when creating); a
contract's value, period and scope change only through ``POST …/modifications``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import Actor, AlreadyExists, BadRequestData, HubError, NotFound
from qala.ngsild.filters import q_filter
from qala.programme import model as m
from qala.programme.repository import Repository
from qala.programme.revisions import Compiler, Revision
from qala.programme.routes.common import (
    CHANGE_BODY,
    CREATE_BODY,
    OBJECT,
    OBJECTS,
    PREFIX,
    TAG,
    ObjectPath,
    ProgrammePath,
    can_see,
    check_manager,
    check_programme_admin,
    check_reader,
    json_out,
    listing,
    load,
    object_body,
    read_body,
    repository,
    revision_from,
    svc_of,
    visible,
)
from qala.programme.service import owner_project, programme_ids
from qala.programme.verify import milestone_data_status
from qala.sdm.contexts import SDM_CONTEXT_URL
from qala.web.edge import actor_of

router = APIRouter(tags=[TAG])

_PROGRAMME_EXAMPLE = {
    "id": "kz-smart-city-2019-2021",
    "fields": {"title": "Smart City, 2019–2021", "budget": "29890000000"},
    "reason": "programme approved",
    "document": "state programme Digital Kazakhstan",
}


def _now() -> datetime:
    return datetime.now(UTC)


async def _append(repo: Repository, programme: str, revision: Revision) -> Revision:
    try:
        (stored,) = await repo.append(programme, [revision])
    except HubError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BadRequestData(f"the change is not acceptable: {exc}") from None
    return stored


def _summary(compiler: Compiler, projects: set[str] | None) -> dict[str, Any]:
    body = object_body(compiler, "programme", compiler.programme_id)
    body["projects"] = sum(1 for p in compiler.state.projects if can_see(projects, p))
    return body


@router.get(
    "/programmes",
    summary="The programmes monitored",
    responses={**openapi.ok(OBJECTS, "The programmes, each with its number of projects")},
)
async def list_programmes(request: Request) -> Response:
    actor = actor_of(request)
    check_reader(actor)
    repo = repository(request)
    out = []
    for ident in await programme_ids(repo):
        compiler = await load(repo, ident)
        projects = visible(actor, compiler.state)
        if projects is not None and not projects:
            continue
        out.append(_summary(compiler, projects))
    return json_out(out)


@router.post(
    "/programmes",
    summary="Start monitoring a programme (an admin)",
    openapi_extra=openapi.body(CREATE_BODY, (openapi.JSON,), example=_PROGRAMME_EXAMPLE),
    responses={
        **openapi.ok(OBJECT, "The programme", status=201),
        **openapi.errors(400, 403, 409, 413),
    },
)
async def create_programme(request: Request) -> Response:
    actor = actor_of(request)
    check_programme_admin(actor)
    body = await read_body(request)
    revision = revision_from(body, actor, "update", "programme", None, _now())
    repo = repository(request)
    if revision.target in await programme_ids(repo):
        raise AlreadyExists(f"programme {revision.target!r} exists already")
    await _append(repo, revision.target, revision)
    compiler = await load(repo, revision.target)
    return json_out(
        _summary(compiler, None),
        201,
        {"Location": f"{PREFIX}/programmes/{revision.target}"},
    )


@router.get(
    "/programmes/{programme}",
    summary="One programme",
    responses={**openapi.ok(OBJECT, "The programme"), **openapi.errors(400, 403)},
)
async def get_programme(request: Request, programme: ProgrammePath) -> Response:
    actor = actor_of(request)
    compiler = await load(repository(request), programme)
    projects = visible(actor, compiler.state)
    if projects is not None and not projects:
        raise NotFound(f"there is no programme {programme!r}")
    return json_out(_summary(compiler, projects))


@router.patch(
    "/programmes/{programme}",
    summary="Change a programme's own fields (an admin)",
    openapi_extra=openapi.body(CHANGE_BODY, (openapi.JSON,), example=_PROGRAMME_EXAMPLE | {}),
    responses={**openapi.ok(OBJECT, "The programme"), **openapi.errors(400, 403, 409, 413)},
)
async def update_programme(request: Request, programme: ProgrammePath) -> Response:
    actor = actor_of(request)
    check_programme_admin(actor)
    repo = repository(request)
    await load(repo, programme)
    body = await read_body(request)
    await _append(
        repo, programme, revision_from(body, actor, "update", "programme", programme, _now())
    )
    return json_out(_summary(await load(repo, programme), None))


# -- the objects of a programme ---------------------------------------------------------------

#: kind -> (path segment, example of a creation body)
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "project": (
        "projects",
        {
            "tenant": "astana",
            "title": "Smart street lighting",
            "sector": ["energy"],
            "budget": "5000000000",
            "period": {"startDate": "2019-01-01", "endDate": "2021-12-31"},
        },
    ),
    "contract": (
        "contracts",
        {
            "project": "AST-LIGHT",
            "title": "Supply and installation",
            "contractor": {"name": "Nur Jaryq LLP", "id": "key:1a2b3c"},
            "value": "4600000000",
            "period": {"startDate": "2019-04-01", "endDate": "2021-12-31"},
        },
    ),
    "payment": (
        "payments",
        {"contract": "AST-LIGHT-C1", "date": "2020-03-01", "amount": "2300000000"},
    ),
    "milestone": (
        "milestones",
        {
            "contract": "AST-LIGHT-C1",
            "title": "Devices reporting",
            "dueDate": "2021-10-01",
            "deliverables": ["AST-LIGHT-D1"],
        },
    ),
    "deliverable": (
        "deliverables",
        {
            "project": "AST-LIGHT",
            "title": "Streetlights reporting",
            "type": "Streetlight",
            "count": 1800,
            "freshWithin": "PT24H",
        },
    ),
}


def _tenant_of_new(state: m.Programme, kind: str, fields: dict[str, Any]) -> str:
    """The city a new object will belong to (for the access check)."""
    if kind == "project":
        tenant = fields.get("tenant")
        if not isinstance(tenant, str) or not tenant:
            raise BadRequestData("a project needs its city: fields.tenant", field="tenant")
        return tenant
    project: Any = fields.get("project")
    contract = fields.get("contract")
    if kind in ("payment", "milestone") and isinstance(contract, str):
        found = state.contracts.get(contract)
        if found is None:
            raise NotFound(f"there is no contract {contract!r}", field="contract")
        project = found.project
    if not isinstance(project, str) or project not in state.projects:
        what = "contract" if kind == "milestone" else "project"
        raise NotFound(f"there is no {what} {fields.get(what)!r}", field=what)
    return state.projects[project].tenant


async def _check_q(request: Request, fields: dict[str, Any]) -> None:
    q = fields.get("q")
    if isinstance(q, str) and q.strip():
        svc = svc_of(request)
        ctx = await svc.contexts.compile([SDM_CONTEXT_URL])
        q_filter(q, ctx, svc.settings.max_query_terms)


def _visible_object(
    compiler: Compiler, actor: Actor, kind: str, ident: str
) -> tuple[str, set[str] | None]:
    projects = visible(actor, compiler.state)
    owner = owner_project(compiler.state, kind, ident)
    if owner is None or not can_see(projects, owner):
        raise NotFound(f"there is no {kind} {ident!r}")
    return owner, projects


def _register(kind: str, plural: str, example: dict[str, Any]) -> None:
    base = f"/programmes/{{programme}}/{plural}"

    async def body_for(
        request: Request, compiler: Compiler, kind_: str, ident: str
    ) -> dict[str, Any]:
        body = object_body(compiler, kind_, ident)
        if kind_ == "milestone":
            evaluations = await repository(request).evaluations(compiler.programme_id)
            status, _ = milestone_data_status(compiler.state.milestones[ident], evaluations)
            body["dataStatus"] = status
        return body

    async def list_objects(
        request: Request,
        programme: ProgrammePath,
        city: Annotated[str | None, Query(description="Only this city's")] = None,
    ) -> Response:
        actor = actor_of(request)
        repo = repository(request)
        compiler = await load(repo, programme)
        projects = visible(actor, compiler.state)
        evaluations = await repo.evaluations(programme) if kind == "milestone" else []
        out = []
        for ident in compiler.raw[kind]:
            owner = owner_project(compiler.state, kind, ident)
            if not can_see(projects, owner) or owner is None:
                continue
            if city is not None and compiler.state.projects[owner].tenant != city:
                continue
            body = object_body(compiler, kind, ident)
            if kind == "milestone":
                status, _ = milestone_data_status(compiler.state.milestones[ident], evaluations)
                body["dataStatus"] = status
            out.append(body)
        return json_out(listing(out))

    async def get_object(request: Request, programme: ProgrammePath, ident: ObjectPath) -> Response:
        compiler = await load(repository(request), programme)
        _visible_object(compiler, actor_of(request), kind, ident)
        return json_out(await body_for(request, compiler, kind, ident))

    async def create_object(request: Request, programme: ProgrammePath) -> Response:
        actor = actor_of(request)
        check_reader(actor)
        repo = repository(request)
        compiler = await load(repo, programme)
        body = await read_body(request)
        revision = revision_from(body, actor, "create", kind, None, _now())
        fields = dict(revision.data)
        check_manager(actor, _tenant_of_new(compiler.state, kind, fields))
        if kind == "deliverable":
            await _check_q(request, fields)
        stored = await _append(repo, programme, revision)
        compiler = await load(repo, programme)
        out = await body_for(request, compiler, kind, revision.target)
        out["revision"] = stored.seq
        return json_out(
            out, 201, {"Location": f"{PREFIX}/programmes/{programme}/{plural}/{revision.target}"}
        )

    async def update_object(
        request: Request, programme: ProgrammePath, ident: ObjectPath
    ) -> Response:
        actor = actor_of(request)
        repo = repository(request)
        compiler = await load(repo, programme)
        owner, _ = _visible_object(compiler, actor, kind, ident)
        check_manager(actor, compiler.state.projects[owner].tenant)
        body = await read_body(request)
        revision = revision_from(body, actor, "update", kind, ident, _now())
        if kind == "deliverable":
            await _check_q(request, dict(revision.data))
        stored = await _append(repo, programme, revision)
        compiler = await load(repo, programme)
        out = await body_for(request, compiler, kind, ident)
        out["revision"] = stored.seq
        return json_out(out)

    title = kind.capitalize()
    create_example = {"id": f"EXAMPLE-{kind.upper()}", "fields": example, "reason": "entered"}
    update_example = {"fields": {"title": f"{title} (renamed)"}, "reason": "corrected title"}
    if kind == "payment":
        update_example = {"fields": {"document": "payment order 17"}, "reason": "reference"}
    add: Callable[..., None] = router.add_api_route
    add(
        base,
        list_objects,
        methods=["GET"],
        name=f"list_{plural}",
        summary=f"The {plural} the caller may see",
        responses={**openapi.ok(OBJECTS, f"The {plural}, in id order"), **openapi.errors(400, 403)},
    )
    add(
        base,
        create_object,
        methods=["POST"],
        name=f"create_{kind}",
        summary=f"Create a {kind} (a revision)",
        openapi_extra=openapi.body(CREATE_BODY, (openapi.JSON,), example=create_example),
        responses={
            **openapi.ok(OBJECT, f"The new {kind}, with its revision number", status=201),
            **openapi.errors(400, 403, 409, 413),
        },
    )
    add(
        f"{base}/{{ident}}",
        get_object,
        methods=["GET"],
        name=f"get_{kind}",
        summary=f"One {kind}",
        responses={**openapi.ok(OBJECT, f"The {kind}"), **openapi.errors(400, 403)},
    )
    add(
        f"{base}/{{ident}}",
        update_object,
        methods=["PATCH"],
        name=f"update_{kind}",
        summary=f"Change some fields of a {kind} (a revision)",
        openapi_extra=openapi.body(CHANGE_BODY, (openapi.JSON,), example=update_example),
        responses={
            **openapi.ok(OBJECT, f"The {kind}, with the revision number"),
            **openapi.errors(400, 403, 409, 413),
        },
    )


for _kind, (_plural, _example) in KINDS.items():
    _register(_kind, _plural, _example)


@router.post(
    "/programmes/{programme}/contracts/{ident}/modifications",
    summary="Modify a contract's value, duration or scope (OC4IDS modification)",
    openapi_extra=openapi.body(
        CHANGE_BODY,
        (openapi.JSON,),
        example={
            "fields": {
                "type": "value",
                "newValue": "5600000000",
                "rationale": "additional intersections",
                "date": "2020-09-15",
            },
            "reason": "supplementary agreement signed",
            "document": "supplementary agreement 1",
        },
    ),
    responses={
        **openapi.ok(OBJECT, "The contract with its modifications", status=201),
        **openapi.errors(400, 403, 409, 413),
    },
)
async def modify_contract(
    request: Request, programme: ProgrammePath, ident: ObjectPath
) -> Response:
    actor = actor_of(request)
    repo = repository(request)
    compiler = await load(repo, programme)
    owner, _ = _visible_object(compiler, actor, "contract", ident)
    check_manager(actor, compiler.state.projects[owner].tenant)
    body = await read_body(request)
    revision = revision_from(body, actor, "modify", "contract", ident, _now())
    stored = await _append(repo, programme, revision)
    compiler = await load(repo, programme)
    out = object_body(compiler, "contract", ident)
    out["revision"] = stored.seq
    return json_out(out, 201)
