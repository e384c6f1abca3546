"""The programme's objects, named after OC4IDS 0.9 and OCDS 1.1.

A :class:`Programme` holds :class:`Project` s (OC4IDS ``projects``), each in one city (tenant);
a project has :class:`Contract` s (OC4IDS ``contractingProcesses[].summary``) with their
:class:`Modification` s, :class:`Payment` s (OCDS ``transactions``) and :class:`Milestone` s
(OCDS ``implementation.milestones``), and :class:`Deliverable` s: what the hub must show when the
work is done, as a data expectation (an NGSI-LD type, a ``q`` filter, a freshness and a count,
optionally a geographic coverage).

These objects are values compiled from revisions (:mod:`qala.programme.revisions`); nothing here
is edited in place. Amounts are ``Decimal`` KZT, dates are calendar dates in the city's time
(Kazakhstan, UTC+5), indicator ids are strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

#: OC4IDS projectStatus codelist (closed).
PROJECT_STATUSES = (
    "identification",
    "preparation",
    "implementation",
    "completion",
    "maintenance",
    "decommissioning",
    "decommissioned",
    "cancelled",
)
#: Statuses at or after the start of implementation: from the first of them on, the project's
#: baseline ``period`` and ``budget`` are frozen.
IMPLEMENTATION_STARTED = frozenset(
    {"implementation", "completion", "maintenance", "decommissioning", "decommissioned"}
)
#: OC4IDS contractingProcessStatus codelist (closed).
CONTRACT_STATUSES = ("pre-award", "active", "closed")
#: OCDS milestoneStatus codelist (closed).
MILESTONE_STATUSES = ("scheduled", "met", "notMet", "partiallyMet")
#: OC4IDS modificationType codelist.
MODIFICATION_TYPES = ("value", "duration", "scope")


@dataclass(frozen=True, slots=True)
class Period:
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True)
class Organization:
    """An OCDS ``OrganizationReference``: a name and, where known, an identifier (BIN)."""

    name: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One line of OC4IDS ``budgetBreakdown``: an amount for a year from a source."""

    id: str
    year: int
    source: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Indicator:
    """A target indicator of a project: an indicator id (a string) with baseline and target."""

    id: str
    name: str
    baseline: Decimal
    target: Decimal
    unit: str | None = None
    baseline_date: date | None = None
    target_date: date | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """OC4IDS ``completion``: the actual end date and final value, with their reasons."""

    end_date: date | None = None
    end_date_details: str | None = None
    final_value: Decimal | None = None
    final_value_details: str | None = None


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    tenant: str
    title: str
    description: str = ""
    sector: tuple[str, ...] = ()
    status: str = "identification"
    #: The baseline: frozen once implementation starts (OC4IDS ``period``, ``budget``).
    period: Period = Period()
    budget: Decimal | None = None
    budget_breakdown: tuple[BudgetLine, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    related_projects: tuple[str, ...] = ()
    completion: Completion | None = None
    #: The revision that first moved the project into implementation (or later), if any.
    implementation_started_by: int | None = None


@dataclass(frozen=True, slots=True)
class Modification:
    """A change of a contract (OC4IDS ``modifications``): old and new value, period or scope."""

    id: str
    type: str
    date: date | None
    rationale: str
    revision: int | None
    document: str | None = None
    old_value: Decimal | None = None
    new_value: Decimal | None = None
    old_period: Period | None = None
    new_period: Period | None = None
    old_scope: str | None = None
    new_scope: str | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    id: str
    project: str
    title: str
    contractor: Organization
    value: Decimal
    period: Period
    scope: str = ""
    status: str = "active"
    final_value: Decimal | None = None
    final_value_details: str | None = None
    modifications: tuple[Modification, ...] = ()


@dataclass(frozen=True, slots=True)
class Payment:
    """An OCDS transaction: money paid, for a contract (or, irregularly, for none)."""

    id: str
    project: str
    contract: str | None
    date: date
    amount: Decimal
    payer: Organization | None = None
    payee: Organization | None = None
    document: str | None = None
    #: OCDS ``relatedImplementationMilestone``: the milestone this payment pays for.
    milestone: str | None = None


@dataclass(frozen=True, slots=True)
class Milestone:
    id: str
    contract: str
    title: str
    due_date: date | None
    status: str = "scheduled"
    date_met: date | None = None
    #: Deliverables whose data show that the milestone is met.
    deliverables: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Coverage:
    """Geographic coverage: the reporting entities lie in at least ``min_share`` of ``areas``."""

    areas: tuple[str, ...]
    min_share: Decimal


@dataclass(frozen=True, slots=True)
class Deliverable:
    """A data expectation on the hub: at least ``count`` entities of ``entity_type`` matching
    ``q`` in the project's city, each having reported within ``fresh_within``."""

    id: str
    project: str
    title: str
    entity_type: str
    count: int
    fresh_within: timedelta
    q: str | None = None
    coverage: Coverage | None = None


@dataclass(frozen=True, slots=True)
class Programme:
    id: str
    title: str = ""
    description: str = ""
    period: Period = Period()
    budget: Decimal | None = None
    note: str = ""
    projects: dict[str, Project] = field(default_factory=dict)
    contracts: dict[str, Contract] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    milestones: dict[str, Milestone] = field(default_factory=dict)
    deliverables: dict[str, Deliverable] = field(default_factory=dict)

    def contracts_of(self, project: str) -> list[Contract]:
        return [c for c in self.contracts.values() if c.project == project]

    def payments_of_contract(self, contract: str) -> list[Payment]:
        return [p for p in self.payments.values() if p.contract == contract]

    def payments_of(self, project: str) -> list[Payment]:
        return [p for p in self.payments.values() if p.project == project]

    def milestones_of(self, contract: str) -> list[Milestone]:
        return [m for m in self.milestones.values() if m.contract == contract]

    def deliverables_of(self, project: str) -> list[Deliverable]:
        return [d for d in self.deliverables.values() if d.project == project]

    def project_of_milestone(self, milestone: Milestone) -> Project:
        return self.projects[self.contracts[milestone.contract].project]
