"""Physical against financial progress, and earned-value indices, per project and per city.

For a project at a date ``t``:

* **contracted** — the sum of its contracts' current values (after modifications); this is the
  budget at completion, ``BAC``, of the earned-value method;
* **paid** — the sum of its payments dated on or before ``t``: the actual cost, ``AC``;
* **financial progress** = ``AC / BAC``;
* **physical progress** — verified delivery: the mean, over the project's deliverables, of the
  latest ``delivered_share`` (``min(reporting, count) / count``); unknown when the project has
  no deliverable or none was evaluated yet;
* **planned progress** — the elapsed share of the project's baseline ``period`` at ``t``
  (a straight-line plan: 0 before the start, 1 after the end);
* **earned value** ``EV = physical × BAC``; **planned value** ``PV = planned × BAC``;
* **cost performance index** ``CPI = EV / AC`` (below 1: more paid than delivered);
* **schedule performance index** ``SPI = EV / PV`` (below 1: behind the baseline plan).

A city's figures add the projects' ``BAC``, ``EV``, ``PV`` and ``AC`` (projects with an unknown
physical progress are left out of ``EV`` and ``PV`` and counted in ``unverified``) and take the
ratios of the sums. Ratios are ``Decimal`` rounded to four places; None where the divisor is 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from qala.programme import model as m
from qala.programme.money import TIYN, ZERO, share
from qala.programme.verify import Evaluation, latest

_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Progress:
    scope: str  # a project id, or a tenant for a city
    tenant: str
    budget: Decimal
    contracted: Decimal
    paid: Decimal
    financial: Decimal | None
    physical: Decimal | None
    planned: Decimal | None
    earned_value: Decimal | None
    planned_value: Decimal | None
    cpi: Decimal | None
    spi: Decimal | None
    projects: int = 1
    unverified: int = 0


def planned_share(period: m.Period, on: date) -> Decimal | None:
    """The straight-line planned progress of a baseline period on a day."""
    if period.start is None or period.end is None:
        return None
    if on <= period.start:
        return Decimal("0.0000")
    if on >= period.end:
        return Decimal("1.0000")
    total = (period.end - period.start).days
    return (Decimal((on - period.start).days) / total).quantize(_PLACES)


def project_progress(
    programme: m.Programme, project_id: str, evaluations: Iterable[Evaluation], on: date
) -> Progress:
    project = programme.projects[project_id]
    contracted = sum((c.value for c in programme.contracts_of(project_id)), ZERO)
    paid = sum((p.amount for p in programme.payments_of(project_id) if p.date <= on), ZERO)
    newest = latest(ev for ev in evaluations if ev.project == project_id)
    shares = [
        newest[d.id].delivered_share
        for d in programme.deliverables_of(project_id)
        if d.id in newest
    ]
    physical = (sum(shares, Decimal(0)) / len(shares)).quantize(_PLACES) if shares else None
    planned = planned_share(project.period, on)
    ev = (physical * contracted).quantize(TIYN) if physical is not None else None
    pv = (planned * contracted).quantize(TIYN) if planned is not None else None
    return Progress(
        scope=project_id,
        tenant=project.tenant,
        budget=project.budget if project.budget is not None else ZERO,
        contracted=contracted,
        paid=paid,
        financial=share(paid, contracted),
        physical=physical,
        planned=planned,
        earned_value=ev,
        planned_value=pv,
        cpi=share(ev, paid) if ev is not None else None,
        spi=share(ev, pv) if ev is not None and pv is not None else None,
        unverified=0 if physical is not None else 1,
    )


def city_progress(
    programme: m.Programme, tenant: str, evaluations: Iterable[Evaluation], on: date
) -> Progress:
    evaluations = list(evaluations)
    parts = [
        project_progress(programme, p.id, evaluations, on)
        for p in sorted(programme.projects.values(), key=lambda p: p.id)
        if p.tenant == tenant
    ]
    known = [p for p in parts if p.earned_value is not None]
    contracted = sum((p.contracted for p in parts), ZERO)
    paid = sum((p.paid for p in parts), ZERO)
    bac_known = sum((p.contracted for p in known), ZERO)
    ev = sum((p.earned_value for p in known if p.earned_value is not None), ZERO)
    pv = sum((p.planned_value for p in known if p.planned_value is not None), ZERO)
    paid_known = sum((p.paid for p in known), ZERO)
    return Progress(
        scope=tenant,
        tenant=tenant,
        budget=sum((p.budget for p in parts), ZERO),
        contracted=contracted,
        paid=paid,
        financial=share(paid, contracted),
        physical=share(ev, bac_known) if known else None,
        planned=share(pv, bac_known) if known else None,
        earned_value=ev if known else None,
        planned_value=pv if known else None,
        cpi=share(ev, paid_known) if known else None,
        spi=share(ev, pv) if known else None,
        projects=len(parts),
        unverified=len(parts) - len(known),
    )


def all_progress(
    programme: m.Programme, evaluations: Iterable[Evaluation], on: date
) -> tuple[list[Progress], list[Progress]]:
    """Every project's progress and every city's, in id order."""
    evaluations = list(evaluations)
    projects = [
        project_progress(programme, pid, evaluations, on) for pid in sorted(programme.projects)
    ]
    tenants = sorted({p.tenant for p in programme.projects.values()})
    return projects, [city_progress(programme, t, evaluations, on) for t in tenants]
