"""Audit flags: rules over the compiled programme, its revisions and the hub's data.

Every flag names its rule (id and version), the source the rule comes from, a severity and the
evidence behind it — the numbers, the entity ids, the revision numbers — so an auditor can check
it without trusting the monitor. Thresholds are configurable (:class:`Thresholds`). Flags are
recomputed on demand and are not stored; an auditor's explanation of a flag is (append-only,
never deleted), keyed by the flag's :attr:`Flag.key`, and shown with the flag from then on.

Sources:

* ``open-contracting`` — Open Contracting Partnership, *Red Flags for Integrity: Giving the green
  light to open data solutions* (2016), implementation-stage red flags (delays, amendments that
  raise the value, payments not matched by completed work, awards above the budget);
* ``world-bank`` — World Bank Integrity Vice Presidency, *Common Red Flags of Fraud and
  Corruption in Procurement* (changes in contract terms and value, multiple change orders,
  poor quality or non-delivery of works, goods and services);
* ``qala`` — the monitor's own data checks: what the hub's data show against what was paid and
  claimed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from qala.programme import model as m
from qala.programme.fields import LOCAL, dump_duration
from qala.programme.money import ZERO, money_text, share
from qala.programme.progress import project_progress
from qala.programme.revisions import FieldChange
from qala.programme.verify import (
    Evaluation,
    IndicatorSeries,
    first_met,
    latest,
    milestone_data_status,
)

OPEN_CONTRACTING = "open-contracting"
WORLD_BANK = "world-bank"
QALA = "qala"
SOURCES = {
    OPEN_CONTRACTING: "Open Contracting Partnership, Red Flags for Integrity (2016)",
    WORLD_BANK: "World Bank INT, Common Red Flags of Fraud and Corruption in Procurement",
    QALA: "Qala data checks",
}
SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    title: str
    source: str
    description: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "milestone-overdue",
            1,
            "Milestone overdue",
            OPEN_CONTRACTING,
            "A milestone is not met more than `overdue_grace_days` after its due date.",
        ),
        Rule(
            "deadline-moved",
            1,
            "Deadline moved",
            WORLD_BANK,
            "A milestone's due date or a contract's end date was changed; every move is listed.",
        ),
        Rule(
            "contract-value-increased",
            1,
            "Contract value increased by modification",
            WORLD_BANK,
            "Modifications raised a contract's value above its original value by more than "
            "`value_increase_min` of it.",
        ),
        Rule(
            "contracted-over-budget",
            1,
            "Contracted more than the budget",
            OPEN_CONTRACTING,
            "The project's contracts add up to more than its baseline budget "
            "(plus `budget_tolerance`).",
        ),
        Rule(
            "paid-over-contracted",
            1,
            "Paid more than contracted",
            OPEN_CONTRACTING,
            "A contract's payments add up to more than its current value.",
        ),
        Rule(
            "payment-before-milestone",
            1,
            "Payment before its milestone was met",
            OPEN_CONTRACTING,
            "A payment for a milestone is dated before the milestone's dateMet, or the "
            "milestone is not met.",
        ),
        Rule(
            "paid-not-delivered",
            1,
            "Paid but not delivered",
            QALA,
            "At least `paid_share_min` of the contracted value is paid while verified delivery "
            "is below `delivered_share_max`.",
        ),
        Rule(
            "delivered-but-silent",
            1,
            "Delivered but silent",
            QALA,
            "The deliverable's entities exist on the hub, but fewer than "
            "`silent_reporting_max` of the expected count report within the freshness window; "
            "or the deliverable was met in an earlier evaluation and is not any more.",
        ),
        Rule(
            "claimed-not-in-data",
            1,
            "Claimed but not in the data",
            QALA,
            "A milestone is reported met, but the hub's data never showed its deliverables.",
        ),
        Rule(
            "indicators-flat-after-completion",
            1,
            "No movement of target indicators after completion",
            QALA,
            "`indicator_wait_days` after completion, a target indicator has moved less than "
            "`indicator_min_move` of the way from its baseline to its target (or has no value).",
        ),
        Rule(
            "spent-without-contract",
            1,
            "Budget spent with no contract",
            WORLD_BANK,
            "A payment charged to a project has no contract, or is dated before its contract "
            "started, or its contract is still pre-award.",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    overdue_grace_days: int = 0
    overdue_high_days: int = 180
    moves_high: int = 2
    value_increase_min: Decimal = Decimal("0")
    value_increase_high: Decimal = Decimal("0.25")
    budget_tolerance: Decimal = Decimal("0")
    paid_share_min: Decimal = Decimal("0.5")
    delivered_share_max: Decimal = Decimal("0.5")
    silent_reporting_max: Decimal = Decimal("0.8")
    indicator_min_move: Decimal = Decimal("0.1")
    indicator_wait_days: int = 90

    def __post_init__(self) -> None:
        for name in (
            "value_increase_min",
            "value_increase_high",
            "budget_tolerance",
            "paid_share_min",
            "delivered_share_max",
            "silent_reporting_max",
            "indicator_min_move",
        ):
            value = getattr(self, name)
            if isinstance(value, float) or not isinstance(value, Decimal):
                raise TypeError(f"threshold {name} must be a Decimal, got {value!r}")
            if value < 0:
                raise ValueError(f"threshold {name} must not be negative")


@dataclass(frozen=True, slots=True)
class Explanation:
    """An auditor's note that a flag is explained (kept forever, the newest applies)."""

    flag: str
    rule: str
    version: int
    actor: str
    reason: str
    at: datetime
    document: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Flag:
    rule: str
    version: int
    source: str
    severity: str
    tenant: str
    project: str
    subject: str  # "<kind>:<id>"
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    explanation: Explanation | None = None

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"

    @property
    def explained(self) -> bool:
        return self.explanation is not None


def _flag(
    rule: str,
    severity: str,
    project: m.Project,
    subject: str,
    message: str,
    evidence: dict[str, Any],
) -> Flag:
    r = RULES[rule]
    return Flag(
        r.id, r.version, r.source, severity, project.tenant, project.id, subject, message, evidence
    )


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else f"{(value * 100).quantize(Decimal('0.01'))} %"


def _ev(ev: Evaluation) -> dict[str, Any]:
    return {
        "deliverable": ev.deliverable,
        "at": ev.at.isoformat(),
        "expected": ev.target,
        "matching": ev.matching,
        "reporting": ev.reporting,
        "delivered": _pct(ev.delivered_share),
        "met": ev.met,
        "reportingSample": list(ev.sample),
        "silentSample": list(ev.silent_sample),
    }


def _move(change: FieldChange) -> dict[str, Any]:
    return {
        "revision": change.revision,
        "at": change.at.isoformat(),
        "actor": change.actor,
        "reason": change.reason,
        "document": change.document,
        "old": change.old,
        "new": change.new,
    }


@dataclass(slots=True)
class AuditInput:
    """Everything the rules read."""

    programme: m.Programme
    changes: Sequence[FieldChange]
    evaluations: Sequence[Evaluation] = ()
    indicators: Sequence[IndicatorSeries] = ()
    explanations: Sequence[Explanation] = ()


def audit(
    data: AuditInput,
    at: datetime,
    thresholds: Thresholds | None = None,
    *,
    tenant: str | None = None,
) -> list[Flag]:
    """Every flag raised at ``at``, most severe first, with explanations attached."""
    t = thresholds or Thresholds()
    today = at.astimezone(LOCAL).date()
    p = data.programme
    flags: list[Flag] = []
    flags += _milestones_overdue(p, data.changes, today, t)
    flags += _deadlines_moved(p, data.changes, t)
    flags += _value_increases(p, t)
    flags += _over_budget(p, t)
    flags += _over_paid(p)
    flags += _early_payments(p)
    flags += _paid_not_delivered(p, data.evaluations, today, t)
    flags += _silent(p, data.evaluations, t)
    flags += _claimed(p, data.evaluations)
    flags += _flat_indicators(data.indicators, p, at, t)
    flags += _without_contract(p)
    if tenant is not None:
        flags = [f for f in flags if f.tenant == tenant]
    newest: dict[str, Explanation] = {}
    for note in sorted(data.explanations, key=lambda e: (e.at, e.seq or 0)):
        newest[note.flag] = note
    flags = [dataclasses.replace(f, explanation=newest.get(f.key)) for f in flags]
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    return sorted(flags, key=lambda f: (order[f.severity], f.tenant, f.project, f.rule, f.subject))


def not_evaluated(data: AuditInput, *, tenant: str | None = None) -> dict[str, str]:
    """Rules that could not be evaluated (rule id -> why): their silence is no finding.

    Today only ``indicators-flat-after-completion`` can be, when the indicator values cannot be
    read at all (the source raised :class:`~qala.programme.inputs.Unavailable`)."""
    out: dict[str, str] = {}
    for s in data.indicators:
        if s.unavailable is not None and (tenant is None or s.tenant == tenant):
            out["indicators-flat-after-completion"] = s.unavailable
    return out


# -- the rules --------------------------------------------------------------------------------


def _milestones_overdue(
    p: m.Programme, changes: Sequence[FieldChange], today: date, t: Thresholds
) -> Iterable[Flag]:
    for ms in sorted(p.milestones.values(), key=lambda x: x.id):
        if ms.due_date is None or ms.status == "met":
            continue
        late = (today - ms.due_date).days
        if late <= t.overdue_grace_days:
            continue
        moves = [
            c
            for c in changes
            if c.kind == "milestone"
            and c.target == ms.id
            and c.field == "dueDate"
            and c.old is not None
        ]
        project = p.project_of_milestone(ms)
        yield _flag(
            "milestone-overdue",
            "high" if late >= t.overdue_high_days else "medium",
            project,
            f"milestone:{ms.id}",
            f"Milestone {ms.title!r} was due on {ms.due_date} and is {late} days late "
            f"(status {ms.status}).",
            {
                "milestone": ms.id,
                "contract": ms.contract,
                "dueDate": ms.due_date.isoformat(),
                "status": ms.status,
                "daysOverdue": late,
                "dueDateMoves": len(moves),
                "originalDueDate": moves[0].old if moves else ms.due_date.isoformat(),
            },
        )


def _deadlines_moved(
    p: m.Programme, changes: Sequence[FieldChange], t: Thresholds
) -> Iterable[Flag]:
    by_subject: dict[tuple[str, str], list[FieldChange]] = {}
    for c in changes:
        if c.old is None:
            continue
        if (c.kind == "milestone" and c.field == "dueDate") or (
            c.kind == "contract"
            and c.field == "period"
            and (c.old or {}).get("endDate") != (c.new or {}).get("endDate")
        ):
            by_subject.setdefault((c.kind, c.target), []).append(c)
    for (kind, target), moves in sorted(by_subject.items()):
        if kind == "milestone":
            ms = p.milestones[target]
            project, what = p.project_of_milestone(ms), f"milestone {ms.title!r}"
            first, last = moves[0].old, moves[-1].new
        else:
            contract = p.contracts[target]
            project, what = p.projects[contract.project], f"contract {contract.title!r}"
            first, last = moves[0].old.get("endDate"), moves[-1].new.get("endDate")
        yield _flag(
            "deadline-moved",
            "high" if len(moves) >= t.moves_high else "medium",
            project,
            f"{kind}:{target}",
            f"The deadline of {what} moved {len(moves)} time(s), from {first} to {last}.",
            {"moves": [_move(c) for c in moves], "count": len(moves), "from": first, "to": last},
        )


def _value_increases(p: m.Programme, t: Thresholds) -> Iterable[Flag]:
    for contract in sorted(p.contracts.values(), key=lambda c: c.id):
        changes = [mod for mod in contract.modifications if mod.type == "value"]
        if not changes or changes[0].old_value is None:
            continue
        original = changes[0].old_value
        increase = contract.value - original
        ratio = share(increase, original)
        if increase <= 0 or (ratio is not None and ratio <= t.value_increase_min):
            continue
        yield _flag(
            "contract-value-increased",
            "high" if ratio is None or ratio >= t.value_increase_high else "medium",
            p.projects[contract.project],
            f"contract:{contract.id}",
            f"Contract {contract.title!r} grew from {money_text(original)} to "
            f"{money_text(contract.value)} KZT ({_pct(ratio)}) by {len(changes)} modification(s).",
            {
                "contract": contract.id,
                "originalValue": money_text(original),
                "currentValue": money_text(contract.value),
                "increase": money_text(increase),
                "increaseShare": _pct(ratio),
                "modifications": [
                    {
                        "id": mod.id,
                        "revision": mod.revision,
                        "date": mod.date.isoformat() if mod.date else None,
                        "old": money_text(mod.old_value) if mod.old_value is not None else None,
                        "new": money_text(mod.new_value) if mod.new_value is not None else None,
                        "rationale": mod.rationale,
                        "document": mod.document,
                    }
                    for mod in changes
                ],
            },
        )


def _over_budget(p: m.Programme, t: Thresholds) -> Iterable[Flag]:
    for project in sorted(p.projects.values(), key=lambda x: x.id):
        if project.budget is None:
            continue
        contracts = p.contracts_of(project.id)
        contracted = sum((c.value for c in contracts), ZERO)
        limit = project.budget * (1 + t.budget_tolerance)
        if contracted <= limit:
            continue
        yield _flag(
            "contracted-over-budget",
            "high",
            project,
            f"project:{project.id}",
            f"Project {project.title!r} has {money_text(contracted)} KZT under contract against "
            f"a budget of {money_text(project.budget)} KZT.",
            {
                "budget": money_text(project.budget),
                "contracted": money_text(contracted),
                "excess": money_text(contracted - project.budget),
                "contracts": {c.id: money_text(c.value) for c in contracts},
            },
        )


def _over_paid(p: m.Programme) -> Iterable[Flag]:
    for contract in sorted(p.contracts.values(), key=lambda c: c.id):
        payments = p.payments_of_contract(contract.id)
        paid = sum((x.amount for x in payments), ZERO)
        if paid <= contract.value:
            continue
        yield _flag(
            "paid-over-contracted",
            "high",
            p.projects[contract.project],
            f"contract:{contract.id}",
            f"Contract {contract.title!r} is worth {money_text(contract.value)} KZT and "
            f"{money_text(paid)} KZT were paid.",
            {
                "contract": contract.id,
                "value": money_text(contract.value),
                "paid": money_text(paid),
                "excess": money_text(paid - contract.value),
                "payments": {x.id: money_text(x.amount) for x in payments},
            },
        )


def _early_payments(p: m.Programme) -> Iterable[Flag]:
    for pay in sorted(p.payments.values(), key=lambda x: x.id):
        if pay.milestone is None:
            continue
        ms = p.milestones[pay.milestone]
        if ms.date_met is not None and pay.date >= ms.date_met:
            continue
        why = (
            f"the milestone was met on {ms.date_met}"
            if ms.date_met is not None
            else f"the milestone is not met (status {ms.status})"
        )
        yield _flag(
            "payment-before-milestone",
            "medium",
            p.projects[pay.project],
            f"payment:{pay.id}",
            f"Payment {pay.id} of {money_text(pay.amount)} KZT on {pay.date} pays for milestone "
            f"{ms.title!r}, but {why}.",
            {
                "payment": pay.id,
                "date": pay.date.isoformat(),
                "amount": money_text(pay.amount),
                "document": pay.document,
                "milestone": ms.id,
                "milestoneStatus": ms.status,
                "dateMet": ms.date_met.isoformat() if ms.date_met else None,
            },
        )


def _paid_not_delivered(
    p: m.Programme, evaluations: Sequence[Evaluation], today: date, t: Thresholds
) -> Iterable[Flag]:
    for project in sorted(p.projects.values(), key=lambda x: x.id):
        progress = project_progress(p, project.id, evaluations, today)
        if progress.financial is None or progress.physical is None:
            continue
        if progress.financial < t.paid_share_min or progress.physical >= t.delivered_share_max:
            continue
        newest = latest(ev for ev in evaluations if ev.project == project.id)
        yield _flag(
            "paid-not-delivered",
            "high",
            project,
            f"project:{project.id}",
            f"Project {project.title!r} has paid {_pct(progress.financial)} of its contracts, "
            f"while the hub's data verify {_pct(progress.physical)} of its deliverables.",
            {
                "contracted": money_text(progress.contracted),
                "paid": money_text(progress.paid),
                "financialProgress": _pct(progress.financial),
                "physicalProgress": _pct(progress.physical),
                "evaluations": [_ev(newest[d]) for d in sorted(newest)],
            },
        )


def _silent(p: m.Programme, evaluations: Sequence[Evaluation], t: Thresholds) -> Iterable[Flag]:
    newest = latest(evaluations)
    once = first_met(evaluations)
    for ident in sorted(newest):
        ev = newest[ident]
        if ident not in p.deliverables:
            continue
        deliverable = p.deliverables[ident]
        regressed = ident in once and not ev.met
        present = ev.matching >= ev.target
        quiet = Decimal(ev.reporting) / ev.target < t.silent_reporting_max
        if not (regressed or (present and quiet)):
            continue
        evidence = _ev(ev)
        if ident in once:
            evidence["firstMet"] = once[ident].at.isoformat()
        yield _flag(
            "delivered-but-silent",
            "high" if ev.reporting == 0 else "medium",
            p.projects[deliverable.project],
            f"deliverable:{ident}",
            f"{ev.matching} {deliverable.entity_type} entities exist for {deliverable.title!r} "
            f"(expected {ev.target}), but only {ev.reporting} reported within "
            f"{dump_duration(deliverable.fresh_within)}.",
            evidence,
        )


def _claimed(p: m.Programme, evaluations: Sequence[Evaluation]) -> Iterable[Flag]:
    for ms in sorted(p.milestones.values(), key=lambda x: x.id):
        status, evidence = milestone_data_status(ms, evaluations)
        if status != "claimed-only":
            continue
        yield _flag(
            "claimed-not-in-data",
            "high",
            p.project_of_milestone(ms),
            f"milestone:{ms.id}",
            f"Milestone {ms.title!r} is reported met"
            + (f" on {ms.date_met}" if ms.date_met else "")
            + ", but the hub's data have never shown its deliverables.",
            {
                "milestone": ms.id,
                "status": ms.status,
                "dateMet": ms.date_met.isoformat() if ms.date_met else None,
                "evaluations": [_ev(ev) for ev in evidence],
            },
        )


def _flat_indicators(
    series: Sequence[IndicatorSeries], p: m.Programme, at: datetime, t: Thresholds
) -> Iterable[Flag]:
    for s in series:
        if s.unavailable is not None or at - s.since < timedelta(days=t.indicator_wait_days):
            continue
        ind = s.indicator
        planned = ind.target - ind.baseline
        last = s.readings[-1].value if s.readings else None
        moved = None
        if last is not None and planned != 0:
            moved = ((last - ind.baseline) / planned).quantize(Decimal("0.0001"))
        if last is not None and (
            planned == 0 or (moved is not None and moved >= t.indicator_min_move)
        ):
            continue
        project = p.projects[s.project]
        detail = (
            "no value was reported since completion"
            if last is None
            else f"it moved {_pct(moved)} of the way from {ind.baseline} to {ind.target}"
        )
        yield _flag(
            "indicators-flat-after-completion",
            "medium",
            project,
            f"indicator:{s.project}:{ind.id}",
            f"Indicator {ind.name!r} of project {project.title!r}: {detail}.",
            {
                "indicator": ind.id,
                "baseline": str(ind.baseline),
                "target": str(ind.target),
                "since": s.since.isoformat(),
                "readings": len(s.readings),
                "first": str(s.readings[0].value) if s.readings else None,
                "last": str(last) if last is not None else None,
                "moved": _pct(moved),
            },
        )


def _without_contract(p: m.Programme) -> Iterable[Flag]:
    by_project: dict[str, list[tuple[m.Payment, str]]] = {}
    for pay in sorted(p.payments.values(), key=lambda x: x.id):
        if pay.contract is None:
            why = "no contract"
        else:
            contract = p.contracts[pay.contract]
            if contract.status == "pre-award":
                why = f"contract {contract.id} is still pre-award"
            elif contract.period.start is not None and pay.date < contract.period.start:
                why = f"paid before contract {contract.id} started on {contract.period.start}"
            else:
                continue
        by_project.setdefault(pay.project, []).append((pay, why))
    for project_id, items in sorted(by_project.items()):
        project = p.projects[project_id]
        total = sum((pay.amount for pay, _ in items), ZERO)
        yield _flag(
            "spent-without-contract",
            "high",
            project,
            f"project:{project_id}",
            f"Project {project.title!r} spent {money_text(total)} KZT without a contract in force.",
            {
                "total": money_text(total),
                "payments": [
                    {
                        "payment": pay.id,
                        "date": pay.date.isoformat(),
                        "amount": money_text(pay.amount),
                        "document": pay.document,
                        "why": why,
                    }
                    for pay, why in items
                ],
            },
        )
