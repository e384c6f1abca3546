"""Builders shared by the programme monitor's tests: revisions and a small programme."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from qala.programme.inputs import MemoryEntity, MemoryInputs
from qala.programme.revisions import Revision

T0 = datetime(2019, 1, 10, 6, 0, tzinfo=UTC)
PROGRAMME = "smart-city"


def rev(
    op: str,
    kind: str,
    target: str,
    data: dict[str, Any] | None = None,
    *,
    at: datetime = T0,
    actor: str = "akimat-astana",
    reason: str = "entered from the signed documents",
    document: str | None = None,
) -> Revision:
    return Revision(op, kind, target, data or {}, actor, reason, at, document)


def project_revisions(
    *,
    budget: str = "1000000000",
    contract_value: str = "800000000",
    status: str = "implementation",
    count: int = 100,
) -> list[Revision]:
    """One Astana project: a budget, one contract, one deliverable, one milestone."""
    return [
        rev("update", "programme", PROGRAMME, {"title": "Smart City", "budget": "29890000000"}),
        rev(
            "create",
            "project",
            "P1",
            {
                "tenant": "astana",
                "title": "Connected streetlights",
                "sector": ["energy"],
                "status": status,
                "period": {"startDate": "2019-01-01", "endDate": "2021-12-31"},
                "budget": budget,
            },
        ),
        rev(
            "create",
            "contract",
            "C1",
            {
                "project": "P1",
                "title": "Supply and installation of smart streetlights",
                "contractor": {"name": "Jaryq LLP", "id": "BIN 180240012345"},
                "value": contract_value,
                "period": {"startDate": "2019-03-01", "endDate": "2020-12-31"},
            },
        ),
        rev(
            "create",
            "deliverable",
            "D1",
            {
                "project": "P1",
                "title": "Connected streetlights reporting",
                "type": "Streetlight",
                "count": count,
                "freshWithin": "PT24H",
            },
        ),
        rev(
            "create",
            "milestone",
            "M1",
            {
                "contract": "C1",
                "title": "Streetlights installed and reporting",
                "dueDate": "2020-12-31",
                "deliverables": ["D1"],
            },
        ),
    ]


def lights(
    n: int, *, reporting: int, at: datetime, tenant: str = "astana", area: str | None = None
) -> list[MemoryEntity]:
    """``n`` streetlights of which the first ``reporting`` reported an hour before ``at``."""
    return [
        MemoryEntity(
            id=f"urn:ngsi-ld:Streetlight:{tenant}:{i:06d}",
            type="Streetlight",
            tenant=tenant,
            last_reported=at - timedelta(hours=1) if i < reporting else at - timedelta(days=30),
            attrs={"controllingMethod": "individual"},
            area=area,
        )
        for i in range(n)
    ]


def memory(*entities: list[MemoryEntity]) -> MemoryInputs:
    inputs = MemoryInputs()
    for group in entities:
        inputs.add(group)
    return inputs
