"""Verification: deliverables evaluated against the hub's data, and what that says of milestones.

A deliverable is *met* when at least ``count`` entities of its type matching its ``q`` have
reported within its freshness window in the project's city and, when it asks for a coverage,
those reporting entities lie in at least ``min_share`` of the listed areas. Each evaluation is
kept (:class:`Evaluation`, stored append-only), so the history shows when delivery was reached
and when devices went silent.

A milestone tied to deliverables gets a *data status* beside the status its contract reports:

* ``met-by-data`` — every deliverable of the milestone is met now;
* ``regressed`` — some deliverable was met in an earlier evaluation and is not met now;
* ``claimed-only`` — the milestone is reported ``met`` but the data never showed it;
* ``not-delivered`` — neither reported met nor shown by the data;
* ``unverifiable`` — the milestone names no deliverable, or none was evaluated yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from qala.programme import model as m
from qala.programme.fields import LOCAL
from qala.programme.inputs import Inputs, Reading, Unavailable

_PLACES = Decimal("0.0001")

DATA_STATUSES = ("met-by-data", "regressed", "claimed-only", "not-delivered", "unverifiable")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation of one deliverable."""

    deliverable: str
    project: str
    tenant: str
    at: datetime
    target: int
    matching: int
    reporting: int
    #: min(reporting, target) / target
    delivered_share: Decimal
    #: share of the coverage's areas with a reporting entity; None without coverage
    coverage_share: Decimal | None
    met: bool
    sample: tuple[str, ...] = ()
    silent_sample: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()

    @property
    def delivered_percent(self) -> Decimal:
        return (self.delivered_share * 100).quantize(Decimal("0.01"))


async def evaluate(
    programme: m.Programme,
    inputs: Inputs,
    at: datetime,
    *,
    tenant: str | None = None,
    deliverables: Iterable[str] | None = None,
) -> list[Evaluation]:
    """Evaluate deliverables (all, one city's, or the listed ones) at ``at``."""
    if at.tzinfo is None:
        raise ValueError("evaluation time must be timezone-aware")
    wanted = set(deliverables) if deliverables is not None else None
    results = []
    for deliverable in sorted(programme.deliverables.values(), key=lambda d: d.id):
        project = programme.projects[deliverable.project]
        if tenant is not None and project.tenant != tenant:
            continue
        if wanted is not None and deliverable.id not in wanted:
            continue
        delivery = await inputs.count(
            project.tenant, deliverable.entity_type, deliverable.q, deliverable.fresh_within, at
        )
        share = (Decimal(min(delivery.reporting, deliverable.count)) / deliverable.count).quantize(
            _PLACES
        )
        coverage_share = None
        covered: tuple[str, ...] = ()
        met = delivery.reporting >= deliverable.count
        if deliverable.coverage is not None:
            covered = tuple(a for a in deliverable.coverage.areas if a in delivery.areas)
            coverage_share = (Decimal(len(covered)) / len(deliverable.coverage.areas)).quantize(
                _PLACES
            )
            met = met and coverage_share >= deliverable.coverage.min_share
        results.append(
            Evaluation(
                deliverable=deliverable.id,
                project=project.id,
                tenant=project.tenant,
                at=at.astimezone(UTC),
                target=deliverable.count,
                matching=delivery.matching,
                reporting=delivery.reporting,
                delivered_share=share,
                coverage_share=coverage_share,
                met=met,
                sample=delivery.sample,
                silent_sample=delivery.silent_sample,
                areas=covered,
            )
        )
    return results


def latest(evaluations: Iterable[Evaluation]) -> dict[str, Evaluation]:
    """The newest evaluation of each deliverable."""
    newest: dict[str, Evaluation] = {}
    for ev in evaluations:
        current = newest.get(ev.deliverable)
        if current is None or ev.at >= current.at:
            newest[ev.deliverable] = ev
    return newest


def first_met(evaluations: Iterable[Evaluation]) -> dict[str, Evaluation]:
    """The first evaluation in which each deliverable was met."""
    found: dict[str, Evaluation] = {}
    for ev in sorted(evaluations, key=lambda e: e.at):
        if ev.met and ev.deliverable not in found:
            found[ev.deliverable] = ev
    return found


def milestone_data_status(
    milestone: m.Milestone, evaluations: Sequence[Evaluation]
) -> tuple[str, list[Evaluation]]:
    """The milestone's data status and the evaluations behind it (latest, per deliverable)."""
    mine = [ev for ev in evaluations if ev.deliverable in milestone.deliverables]
    now = latest(mine)
    evidence = [now[d] for d in milestone.deliverables if d in now]
    if not milestone.deliverables or len(evidence) < len(milestone.deliverables):
        return "unverifiable", evidence
    if all(ev.met for ev in evidence):
        return "met-by-data", evidence
    once = first_met(mine)
    if any(d in once and not now[d].met for d in milestone.deliverables):
        return "regressed", evidence
    if milestone.status == "met":
        return "claimed-only", evidence
    return "not-delivered", evidence


def start_of_day(day: date) -> datetime:
    """The first moment of a calendar day in Kazakhstan, in UTC."""
    return datetime.combine(day, time(), LOCAL).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class IndicatorSeries:
    project: str
    tenant: str
    indicator: m.Indicator
    since: datetime
    until: datetime
    readings: tuple[Reading, ...]
    #: why the values could not be read at all (None: they were read, maybe none)
    unavailable: str | None = None


async def indicator_series(
    programme: m.Programme, inputs: Inputs, at: datetime, *, tenant: str | None = None
) -> list[IndicatorSeries]:
    """For each completed project, its target indicators' values since its completion."""
    series = []
    for project in sorted(programme.projects.values(), key=lambda p: p.id):
        if tenant is not None and project.tenant != tenant:
            continue
        if project.completion is None or project.completion.end_date is None:
            continue
        since = start_of_day(project.completion.end_date)
        if since > at:
            continue
        for indicator in project.indicators:
            try:
                readings = await inputs.indicator_values(project.tenant, indicator.id, since, at)
            except Unavailable as exc:
                series.append(
                    IndicatorSeries(
                        project.id, project.tenant, indicator, since, at, (), exc.reason
                    )
                )
                continue
            series.append(
                IndicatorSeries(project.id, project.tenant, indicator, since, at, tuple(readings))
            )
    return series
