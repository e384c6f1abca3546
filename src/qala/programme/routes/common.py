"""What the programme monitor's HTTP routes share: who may see and change what, request bodies,
JSON out (amounts as strings, never floats), and the OpenAPI pieces.

Access (see docs/programme.md):

* ``admin`` and ``auditor`` read every project (an admin bound to a tenant: that city's);
  only they explain flags; only an admin changes the programme itself or creates one;
* ``city-operator`` reads and manages the projects of its own city (and whatever belongs to
  them: contracts, modifications, payments, milestones, deliverables), verifies them;
* ``partner`` reads the projects of its city in which it holds a contract: a contract whose
  contractor ``id`` is the partner's identity (``key:<key id>`` for an API key, the token's
  subject for an access token); it changes nothing;
* ``public`` reads nothing: tenant settings have no key saying a city publishes its
  programme data (``openDataTypes`` names entity types), so the monitor publishes nothing to
  the public role.

An object the caller may not see is answered as not found, like the hub does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import Path, Request
from starlette.responses import Response

from qala import openapi
from qala.hub import Actor, BadRequestData, Forbidden, NotFound, access
from qala.ngsild import http
from qala.programme import model as m
from qala.programme.audit import Flag
from qala.programme.progress import Progress
from qala.programme.repository import Repository
from qala.programme.revisions import Compiler, Revision
from qala.programme.verify import Evaluation
from qala.services import Services, services

PREFIX = "/api/v1/programme"
TAG = "Programme monitor"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"

ProgrammePath = Annotated[
    str,
    Path(
        description="The programme's id",
        examples=["kz-smart-city-2019-2021"],
        pattern=ID_PATTERN,
    ),
]
ObjectPath = Annotated[
    str, Path(description="The object's id", examples=["AST-LIGHT"], pattern=ID_PATTERN)
]


def repository(request: Request) -> Repository:
    return Repository(services(request).store)


def svc_of(request: Request) -> Services:
    return services(request)


# -- access -----------------------------------------------------------------------------------


def check_reader(actor: Actor) -> None:
    if actor.role == access.PUBLIC:
        raise Forbidden(
            "the public role reads nothing of the programme monitor: no tenant setting "
            "publishes a city's programme data"
        )


def visible(actor: Actor, p: m.Programme) -> set[str] | None:
    """The projects ``actor`` may read (None: all of them)."""
    check_reader(actor)
    role = actor.role
    if role in (access.ADMIN, access.AUDITOR):
        if actor.tenant is None:
            return None
        return {k for k, v in p.projects.items() if v.tenant == actor.tenant}
    if role == access.OPERATOR:
        return {k for k, v in p.projects.items() if v.tenant == actor.tenant}
    if role == access.PARTNER:
        return {
            c.project
            for c in p.contracts.values()
            if c.contractor.id == actor.id and p.projects[c.project].tenant == actor.tenant
        }
    raise Forbidden(f"the {role} role reads nothing of the programme monitor")


def can_see(projects: set[str] | None, project: str | None) -> bool:
    return projects is None or (project is not None and project in projects)


def check_manager(actor: Actor, tenant: str, what: str = "this city's projects") -> None:
    """Admins (of every city or of this one) and the city's operator manage a city's
    projects."""
    if actor.role == access.ADMIN and actor.tenant in (None, tenant):
        return
    if actor.role == access.OPERATOR and actor.tenant == tenant:
        return
    if actor.role == access.OPERATOR:
        raise Forbidden(
            f"city-operator {actor.id!r} manages the projects of {actor.tenant!r}, not {tenant!r}"
        )
    raise Forbidden(f"the {actor.role} role may not change {what}")


def check_programme_admin(actor: Actor) -> None:
    if actor.role != access.ADMIN or actor.tenant is not None:
        raise Forbidden("only an admin of every city may create or change a programme itself")


def check_explainer(actor: Actor) -> None:
    if actor.role not in (access.ADMIN, access.AUDITOR):
        raise Forbidden("only an auditor (or an admin) marks a flag explained")


def check_verifier(actor: Actor) -> None:
    if actor.role not in (access.ADMIN, access.AUDITOR, access.OPERATOR):
        raise Forbidden(f"the {actor.role} role may not run a verification")


async def load(repo: Repository, programme: str) -> Compiler:
    from qala.programme.service import compiled

    compiler = await compiled(repo, programme)
    if compiler.last_seq == 0:
        raise NotFound(f"there is no programme {programme!r}")
    return compiler


# -- bodies -----------------------------------------------------------------------------------


async def read_body(request: Request) -> Any:
    return await http.read_json(request, services(request).settings.max_body_bytes)


def revision_from(
    body: Any, actor: Actor, op: str, kind: str, target: str | None, now: datetime
) -> Revision:
    """A revision from ``{"id"?, "fields": {...}, "reason": "...", "document"?}``."""
    if not isinstance(body, dict):
        raise BadRequestData('the body must be an object {"fields": {...}, "reason": "..."}')
    allowed = {"fields", "reason", "document"} | ({"id"} if target is None else set())
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequestData(
            f"unknown member {unknown[0]!r}; the body has {', '.join(sorted(allowed))}"
        )
    if target is None:
        target = body.get("id")
        if not isinstance(target, str) or not re.match(ID_PATTERN, target):
            raise BadRequestData(
                "the body must give the new object's id: letters, digits and _ . : - "
                "(up to 128, starting with a letter or digit)"
            )
    fields = body.get("fields", {})
    if not isinstance(fields, dict):
        raise BadRequestData("fields must be an object of the object's fields")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise BadRequestData("every change needs its reason (a non-empty string)")
    document = body.get("document")
    if document is not None and not isinstance(document, str):
        raise BadRequestData("document must be a string (the reference of the document)")
    return Revision(op, kind, target, fields, actor.id, reason, now, document or None)


# -- JSON out ---------------------------------------------------------------------------------


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__}")


def json_out(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, default=json_default),
        status_code=status,
        media_type=openapi.JSON,
        headers=headers,
    )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def object_body(compiler: Compiler, kind: str, target: str) -> dict[str, Any]:
    return {"id": target, **compiler.raw[kind][target]}


def evaluation_body(ev: Evaluation) -> dict[str, Any]:
    return {
        "deliverable": ev.deliverable,
        "project": ev.project,
        "tenant": ev.tenant,
        "at": iso(ev.at),
        "target": ev.target,
        "matching": ev.matching,
        "reporting": ev.reporting,
        "deliveredShare": str(ev.delivered_share),
        "deliveredPercent": str(ev.delivered_percent),
        "coverageShare": dec(ev.coverage_share),
        "met": ev.met,
        "sample": list(ev.sample),
        "silentSample": list(ev.silent_sample),
        "areas": list(ev.areas),
    }


def progress_body(p: Progress) -> dict[str, Any]:
    return {
        "scope": p.scope,
        "tenant": p.tenant,
        "budget": str(p.budget),
        "contracted": str(p.contracted),
        "paid": str(p.paid),
        "financial": dec(p.financial),
        "physical": dec(p.physical),
        "planned": dec(p.planned),
        "earnedValue": dec(p.earned_value),
        "plannedValue": dec(p.planned_value),
        "cpi": dec(p.cpi),
        "spi": dec(p.spi),
        "projects": p.projects,
        "unverified": p.unverified,
    }


def flag_body(f: Flag) -> dict[str, Any]:
    x = f.explanation
    return {
        "key": f.key,
        "rule": f.rule,
        "version": f.version,
        "source": f.source,
        "severity": f.severity,
        "tenant": f.tenant,
        "project": f.project,
        "subject": f.subject,
        "message": f.message,
        "evidence": f.evidence,
        "explanation": None
        if x is None
        else {
            "actor": x.actor,
            "reason": x.reason,
            "at": iso(x.at),
            "document": x.document,
            "rule": x.rule,
            "version": x.version,
        },
    }


def listing(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda x: x["id"])


# -- OpenAPI ----------------------------------------------------------------------------------

_MONEY = {"type": "string", "description": 'An amount in KZT, exact (e.g. "1500000.00")'}
_NULLABLE_TEXT = {"type": ["string", "null"]}

OBJECT = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "string"}},
    "additionalProperties": True,
    "description": "A programme object: its id and its fields in canonical form (amounts as "
    "strings, dates as YYYY-MM-DD)",
}
OBJECTS = {"type": "array", "items": OBJECT}
CHANGE_BODY = {
    "type": "object",
    "required": ["reason"],
    "properties": {
        "fields": {"type": "object"},
        "reason": {"type": "string", "minLength": 1, "pattern": r"\S"},
        "document": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}
CREATE_BODY = {
    **CHANGE_BODY,
    "required": ["id", "reason"],
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN},
        **CHANGE_BODY["properties"],
    },
}
EVALUATION = {
    "type": "object",
    "required": ["deliverable", "project", "tenant", "at", "target", "reporting", "met"],
    "properties": {
        "deliverable": {"type": "string"},
        "project": {"type": "string"},
        "tenant": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "target": {"type": "integer"},
        "matching": {"type": "integer"},
        "reporting": {"type": "integer"},
        "deliveredShare": {"type": "string"},
        "deliveredPercent": {"type": "string"},
        "coverageShare": _NULLABLE_TEXT,
        "met": {"type": "boolean"},
        "sample": {"type": "array", "items": {"type": "string"}},
        "silentSample": {"type": "array", "items": {"type": "string"}},
        "areas": {"type": "array", "items": {"type": "string"}},
    },
}
PROGRESS = {
    "type": "object",
    "required": ["scope", "tenant", "contracted", "paid"],
    "properties": {
        "scope": {"type": "string"},
        "tenant": {"type": "string"},
        "budget": _MONEY,
        "contracted": _MONEY,
        "paid": _MONEY,
        **{
            k: _NULLABLE_TEXT
            for k in (
                "financial",
                "physical",
                "planned",
                "earnedValue",
                "plannedValue",
                "cpi",
                "spi",
            )
        },
        "projects": {"type": "integer"},
        "unverified": {"type": "integer"},
    },
}
FLAG = {
    "type": "object",
    "required": ["key", "rule", "version", "source", "severity", "tenant", "project", "message"],
    "properties": {
        "key": {"type": "string"},
        "rule": {"type": "string"},
        "version": {"type": "integer"},
        "source": {"type": "string"},
        "severity": {"type": "string", "enum": ["low", "medium", "high"]},
        "tenant": {"type": "string"},
        "project": {"type": "string"},
        "subject": {"type": "string"},
        "message": {"type": "string"},
        "evidence": {"type": "object"},
        "explanation": {"type": ["object", "null"]},
    },
}
