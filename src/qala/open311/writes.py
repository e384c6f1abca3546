"""The statements of the back office's changes, for the hub write that mirrors them.

Each change of a request (filing it, a status change, an assignment, a merge, an escalation)
is one hub transaction: the request's entity is written with ``tx.create`` / ``tx.update`` and
these statements are added with ``tx.add_statements``, so the entity, the request's row and
its history commit together or not at all. The statements take the request number already
chosen (``open311_counters`` is moved past it in the same write); a number taken by a
concurrent write makes the entity exist already, and the write is retried with the next one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from qala.hub import Statement
from qala.open311.repository import Draft, Repository, _json, to_us


def insert_request(tenant: str, num: int, token: str, draft: Draft, actor: str) -> list[Statement]:
    """A new request ``num``, its first history event, and the city's counter past it."""
    at = to_us(draft.requested_at)
    columns = (
        "tenant", "num", "token", "service_code", "status", "extended_status", "description",
        "agency", "service_notice", "lang", "requested_at", "updated_at", "expected_at",
        "address", "address_id", "zipcode", "lat", "long", "pinpointed", "media_urls",
        "attributes", "extra", "personal", "external_id", "client", "entity_id",
    )  # fmt: skip
    values: tuple[Any, ...] = (
        tenant, num, token, draft.service_code, "open", "OPEN", draft.description,
        draft.agency, draft.service_notice, draft.lang, at, at,
        to_us(draft.expected_at) if draft.expected_at else None, draft.address,
        draft.address_id, draft.zipcode, draft.lat, draft.long, int(draft.pinpointed),
        _json(draft.media_urls), _json(draft.attributes), _json(draft.extra),
        _json(draft.personal.as_dict()), draft.external_id, draft.client, draft.entity_id,
    )  # fmt: skip
    marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
    return [
        (f"INSERT INTO open311_requests({', '.join(columns)}) VALUES ({marks})", values),
        (
            "INSERT INTO open311_events(tenant, request_num, at, actor, kind, status, "
            "extended_status, text, public) VALUES ($1, $2, $3, $4, 'opened', 'open', 'OPEN', "
            "NULL, 1)",
            (tenant, num, at, actor),
        ),
        (
            "INSERT INTO open311_counters(tenant, next) VALUES ($1, $2) "
            "ON CONFLICT (tenant) DO UPDATE SET next = CASE WHEN "
            "open311_counters.next > $2 THEN open311_counters.next ELSE $2 END",
            (tenant, num),
        ),
    ]


def event(
    tenant: str, num: int, at: datetime, actor: str, kind: str, text: str | None, *,
    public: bool, detail: dict[str, Any] | None = None,
) -> Statement:  # fmt: skip
    return (
        "INSERT INTO open311_events(tenant, request_num, at, actor, kind, text, public, detail) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        (tenant, num, to_us(at), actor, kind, text, int(public),
         _json(detail) if detail else None),
    )  # fmt: skip


def status_change(
    repo: Repository,
    tenant: str,
    num: int,
    extended: str,
    at: datetime,
    actor: str,
    notes: str | None,
    *,
    kind: str = "status",
) -> tuple[str, list[Statement]]:
    """A status change made here: the request, a history event and a published update
    (mySociety's ``servicerequestupdates``, id ``qala-…``). Returns the update id too."""
    update_id = f"qala-{uuid.uuid4().hex[:16]}"
    when = to_us(at)
    statements: list[Statement] = list(
        repo._status_statements(tenant, num, extended, when, actor, notes, kind=kind)
    )
    statements.append(
        (
            "INSERT INTO open311_updates(uid, tenant, update_id, request_num, status, at, "
            "received_at, description, media_url, source) "
            "VALUES ($1, $2, $1, $3, $4, $5, $5, $6, NULL, 'qala')",
            (update_id, tenant, num, extended, when, notes or ""),
        )
    )
    return update_id, statements


def assignment(
    tenant: str, num: int, agency: str | None, assignee: str | None, at: datetime
) -> Statement:
    return (
        "UPDATE open311_requests SET agency = COALESCE($3, agency), "
        "assigned_to = COALESCE($4, assigned_to), updated_at = CASE WHEN updated_at < $5 "
        "THEN $5 ELSE updated_at END WHERE tenant = $1 AND num = $2",
        (tenant, num, agency, assignee, to_us(at)),
    )


def duplicate_of(tenant: str, num: int, original: int) -> Statement:
    return (
        "UPDATE open311_requests SET duplicate_of = $3 WHERE tenant = $1 AND num = $2",
        (tenant, num, original),
    )
