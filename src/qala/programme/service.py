"""The programme monitor's operations, shared by the HTTP API, the CLI, the schedule and the
demo: verify (evaluate and keep the history), audit, and what a caller may see.

Everything goes through the :class:`~qala.programme.repository.Repository` (the programme's
own tables) and an :class:`~qala.programme.inputs.Inputs` (the hub, read through its public
face); nothing here knows about HTTP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from qala.programme import model as m
from qala.programme.audit import AuditInput, Flag, Thresholds, audit, not_evaluated
from qala.programme.fields import LOCAL
from qala.programme.inputs import Inputs
from qala.programme.progress import Progress, all_progress
from qala.programme.repository import Repository
from qala.programme.revisions import Compiler, FieldChange, compiler_for
from qala.programme.verify import Evaluation, evaluate, indicator_series


async def programme_ids(repo: Repository) -> list[str]:
    """Every programme that has revisions, in id order."""
    rows = await repo.tables.fetch(
        "SELECT DISTINCT programme FROM programme_revisions ORDER BY programme"
    )
    return [r[0] for r in rows]


async def compiled(repo: Repository, programme: str) -> Compiler:
    return compiler_for(programme, await repo.revisions(programme))


async def verify(
    repo: Repository,
    inputs: Inputs,
    programme: str,
    at: datetime,
    *,
    tenant: str | None = None,
    state: m.Programme | None = None,
    each: Callable[[Evaluation], None] | None = None,
) -> list[Evaluation]:
    """Evaluate every deliverable of ``programme`` (or one city's) at ``at`` and keep the
    evaluations; ``each`` is told of every one as it is made (a progress bar)."""
    state = state or await repo.state(programme)
    results: list[Evaluation] = []
    for ident in sorted(state.deliverables):
        if (
            tenant is not None
            and state.projects[state.deliverables[ident].project].tenant != tenant
        ):
            continue
        results += await evaluate(state, inputs, at, deliverables=[ident])
        if each is not None:
            each(results[-1])
    await repo.record_evaluations(programme, results)
    return results


@dataclass(slots=True)
class Audit:
    """An audit at a moment: the (visible part of the) programme, its flags and progress."""

    programme: m.Programme
    changes: list[FieldChange]
    evaluations: list[Evaluation]
    flags: list[Flag]
    projects: list[Progress]
    cities: list[Progress]
    not_evaluated: dict[str, str]
    at: datetime


def restrict(p: m.Programme, projects: Collection[str]) -> m.Programme:
    """The programme with only ``projects`` and what belongs to them."""
    keep = set(projects)
    contracts = {k: c for k, c in p.contracts.items() if c.project in keep}
    return dataclasses.replace(
        p,
        projects={k: v for k, v in p.projects.items() if k in keep},
        contracts=contracts,
        payments={k: v for k, v in p.payments.items() if v.project in keep},
        milestones={k: v for k, v in p.milestones.items() if v.contract in contracts},
        deliverables={k: v for k, v in p.deliverables.items() if v.project in keep},
    )


def owner_project(p: m.Programme, kind: str, target: str) -> str | None:
    """The project an object belongs to (None for the programme itself or an unknown object)."""
    if kind == "project":
        return target if target in p.projects else None
    if kind == "contract" and target in p.contracts:
        return p.contracts[target].project
    if kind == "payment" and target in p.payments:
        return p.payments[target].project
    if kind == "milestone" and target in p.milestones:
        return p.contracts[p.milestones[target].contract].project
    if kind == "deliverable" and target in p.deliverables:
        return p.deliverables[target].project
    return None


def visible_changes(
    p: m.Programme, changes: Iterable[FieldChange], projects: Collection[str] | None
) -> list[FieldChange]:
    if projects is None:
        return list(changes)
    keep = set(projects)
    out = []
    for c in changes:
        owner = owner_project(p, c.kind, c.target)
        if c.kind == "programme" or owner in keep:
            out.append(c)
    return out


async def run_audit(
    repo: Repository,
    inputs: Inputs,
    programme: str,
    at: datetime,
    *,
    projects: Collection[str] | None = None,
    tenant: str | None = None,
    thresholds: Thresholds | None = None,
) -> Audit:
    """Flags and progress from the kept evaluations (the newest of each deliverable), the
    revisions and the explanations; ``projects`` limits it to what a caller may see."""
    compiler = await compiled(repo, programme)
    state = compiler.state
    if tenant is not None:
        wanted = {k for k, v in state.projects.items() if v.tenant == tenant}
        projects = wanted if projects is None else wanted & set(projects)
    if projects is not None:
        state = restrict(state, projects)
    changes = visible_changes(compiler.state, compiler.changes, projects)
    evaluations = [
        ev
        for ev in await repo.evaluations(programme)
        if ev.deliverable in state.deliverables and ev.at <= at
    ]
    series = await indicator_series(state, inputs, at)
    data = AuditInput(state, changes, evaluations, series, await repo.explanations(programme))
    flags = audit(data, at, thresholds)
    on = at.astimezone(LOCAL).date()
    project_rows, city_rows = all_progress(state, evaluations, on)
    return Audit(
        state, changes, evaluations, flags, project_rows, city_rows, not_evaluated(data), at
    )


def filter_flags(
    flags: Sequence[Flag],
    state: m.Programme,
    *,
    city: str | None = None,
    sector: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
) -> list[Flag]:
    out = []
    for f in flags:
        if city is not None and f.tenant != city:
            continue
        if rule is not None and f.rule != rule:
            continue
        if severity is not None and f.severity != severity:
            continue
        if sector is not None:
            project = state.projects.get(f.project)
            if project is None or not any(
                s == sector or s.startswith(sector + ".") for s in project.sector
            ):
                continue
        out.append(f)
    return out
