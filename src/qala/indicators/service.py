"""The indicators capability's operations, shared by its HTTP API and its CLI.

:class:`IndicatorService` computes a city's indicators for a period from the hub
(:class:`~qala.indicators.hub_inputs.HubInputs`), stores each value in the capability's table
and publishes it as a ``KeyPerformanceIndicator`` entity in the same hub transaction, and
answers the reads (values, comparison, gaps, assessment, export) from what is stored.

Recomputation is incremental: before computing, each calculator's inputs fingerprint
(:meth:`HubInputs.fingerprint`) is compared with the one stored beside its value for the same
calculator version; when they are equal the value stands and nothing is written. ``force``
recomputes regardless. A calculator version with no stored value is always computed, and a new
version's values are added beside the old version's, never over them.

Access: every read goes through the hub with the caller's actor (:meth:`Hub.reader`: an actor
bound to another city is refused); computing writes entities, so it needs the hub's write
access to the city, and the routes allow it to the city's operators and admins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from qala.hub import (
    Actor,
    BadRequestData,
    Forbidden,
    Hub,
    NotFound,
    Tables,
    Transaction,
    access,
)
from qala.indicators import kpi
from qala.indicators.assessment import (
    AssessmentResult,
    Methodology,
    ReportedAnswer,
    assess,
    load_methodology,
)
from qala.indicators.calculators import (
    Calculator,
    Context,
    IndicatorValues,
    Registry,
    default_registry,
)
from qala.indicators.catalogue import Catalogue, load_catalogue
from qala.indicators.compare import (
    GapReport,
    IndicatorComparison,
    Target,
    compare,
    gap_report,
    progress,
)
from qala.indicators.export import ReportRow, report_rows
from qala.indicators.hub_inputs import SDM_CONTEXT, HubInputs
from qala.indicators.period import Period
from qala.indicators.repository import IndicatorRepository, StoredValue, save_statements
from qala.indicators.values import DEFAULT_COVERAGE_THRESHOLD, ReportedValue, Result
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.parse import parse_entity


class ContextSource(Protocol):
    async def compile(self, context: Any) -> CompiledContext: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a computation did for one calculator."""

    calculator: str
    version: str
    indicators: tuple[str, ...]
    status: Literal["computed", "unchanged"]
    kind: str | None = None
    value: float | None = None
    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "calculator": {"name": self.calculator, "version": self.version},
            "indicators": list(self.indicators),
            "status": self.status,
            "kind": self.kind,
            "value": self.value,
            "inputsFingerprint": self.fingerprint,
        }


Progress = Callable[[str, int, int], None]


def parse_period(text: str, zone: str = "Asia/Almaty") -> Period:
    try:
        return Period.parse(text, zone)
    except ValueError as exc:
        raise BadRequestData(f"period {text!r}: {exc}") from None


class IndicatorService:
    """The indicators of the cities a hub holds."""

    def __init__(
        self,
        hub: Hub,
        tables: Tables,
        contexts: ContextSource,
        *,
        catalogue: Catalogue | None = None,
        registry: Registry | None = None,
        coverage_threshold: float = DEFAULT_COVERAGE_THRESHOLD,
        zone: str = "Asia/Almaty",
        requests: bool = True,
    ) -> None:
        self.hub = hub
        #: Whether citizen requests have a source: the Open311 capability runs beside this one.
        self.requests = requests
        self.tables = tables
        self.contexts = contexts
        self.catalogue = catalogue or load_catalogue()
        self.registry = registry or default_registry()
        self.repository = IndicatorRepository(tables)
        self.coverage_threshold = coverage_threshold
        self.zone = zone
        self._context: CompiledContext | None = None

    async def context(self) -> CompiledContext:
        if self._context is None:
            self._context = await self.contexts.compile(SDM_CONTEXT)
        return self._context

    async def inputs(self, actor: Actor) -> HubInputs:
        return HubInputs(
            self.hub, self.tables, actor, await self.context(), zone=self.zone,
            requests=self.requests,
        )  # fmt: skip

    def calculators(self) -> list[Calculator]:
        return [self.registry.get(name) for name in self.catalogue.calculators()]

    async def _computation(
        self, tenant: str, actor: Actor, period: Period, now: datetime | None
    ) -> Context:
        await self.hub.reader(tenant, actor)  # refuses another city's actor, an unknown city
        return Context(
            tenant=tenant,
            period=period,
            inputs=await self.inputs(actor),
            now=now or datetime.now(UTC),
            coverage_threshold=self.coverage_threshold,
            catalogue=self.catalogue,
        )

    # -- computing ------------------------------------------------------------------------
    async def compute(
        self,
        tenant: str,
        actor: Actor,
        period: Period,
        *,
        force: bool = False,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> list[Outcome]:
        """Compute every calculator's indicators for a city and period (those whose inputs
        changed, or all with ``force``), store and publish them."""
        self._check_city_writer(tenant, actor)
        ctx = await self._computation(tenant, actor, period, now)
        inputs = ctx.inputs
        assert isinstance(inputs, HubInputs)
        calculators = self.calculators()
        outcomes = []
        for done, calculator in enumerate(calculators):
            if progress is not None:
                progress(calculator.name, done, len(calculators))
            fingerprint = await inputs.fingerprint(tenant, calculator, period, ctx.now)
            stored = await self.repository.fingerprint(
                tenant, calculator.name, calculator.version, period.label
            )
            ids = tuple(i.id for i in self.catalogue.by_calculator(calculator.name))
            if not force and stored == fingerprint:
                outcomes.append(
                    Outcome(calculator.name, calculator.version, ids, "unchanged",
                            fingerprint=fingerprint)
                )
                continue
            result = await calculator.compute(ctx)
            await self.publish(result, calculator, fingerprint, actor, ctx.now)
            outcomes.append(
                Outcome(
                    calculator.name, calculator.version, ids, "computed", result.kind,
                    result.value, fingerprint,
                )
            )
        if progress is not None:
            progress("", len(calculators), len(calculators))
        return outcomes

    async def publish(
        self, result: Result, calculator: Calculator, fingerprint: str, actor: Actor,
        now: datetime,
    ) -> None:
        """Store ``result`` and write its KeyPerformanceIndicator entities, in one transaction."""
        ctx = await self.context()
        documents = [
            kpi.kpi_entity(result, indicator_id, self.catalogue, calculator, now)
            for indicator_id in result.indicator_ids
        ]
        entities = [parse_entity(d, ctx) for d in documents]
        statements = save_statements(result, fingerprint, actor.id)

        def body(tx: Transaction) -> None:
            for entity in entities:
                before = tx.get(entity.id)
                if before is None:
                    tx.create(entity)
                else:
                    gone = [iri for iri in before.attrs if iri not in entity.attrs]
                    tx.update(entity.id, attrs=entity.attrs, delete=gone)
            tx.add_statements(statements)

        await self.hub.transact(
            result.tenant,
            actor,
            operation="indicators.publish",
            entity_ids=[e.id for e in entities],
            body=body,
        )

    # -- reading --------------------------------------------------------------------------
    async def values(
        self,
        tenant: str,
        actor: Actor,
        *,
        indicator: str | None = None,
        period: str | None = None,
        all_versions: bool = False,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[StoredValue]:
        await self.hub.reader(tenant, actor)
        if indicator is not None and indicator not in self.catalogue:
            raise NotFound(f"no indicator {indicator!r} in the catalogue")
        return await self.repository.values(
            tenant, indicator, period, latest_only=not all_versions, limit=limit, offset=offset
        )

    async def known(
        self, tenant: str, actor: Actor, period: Period
    ) -> dict[str, IndicatorValues]:
        """Per catalogue indicator, its stored measured value (the newest computation) and its
        reported value for ``period``, side by side."""
        await self.hub.reader(tenant, actor)
        stored = await self.repository.values(tenant, None, period.label, latest_only=True)
        measured = {v.indicator: v.as_result(self.zone) for v in stored}
        reported = {
            r.indicator_id: r
            for r in await self.repository.reported(tenant, None, period.label, self.zone)
        }
        return {
            i.id: IndicatorValues(i.id, measured.get(i.id), reported.get(i.id))
            for i in self.catalogue
        }

    async def readable_tenants(self, actor: Actor) -> list[str]:
        """The cities with stored values that ``actor`` may read."""
        out = []
        for tenant in await self.repository.tenants():
            try:
                access.check_tenant(actor, tenant)
            except Forbidden:
                continue
            out.append(tenant)
        return out

    async def comparison(
        self, actor: Actor, period: Period, tenants: Sequence[str] | None = None
    ) -> list[IndicatorComparison]:
        chosen = list(tenants) if tenants else await self.readable_tenants(actor)
        by_city = {t: await self.known(t, actor, period) for t in chosen}
        return compare(self.catalogue, by_city)

    async def gaps(self, tenant: str, actor: Actor, period: Period) -> GapReport:
        await self.hub.reader(tenant, actor)
        peers = await self.readable_tenants(actor)
        if tenant not in peers:
            peers.append(tenant)
        by_city = {t: await self.known(t, actor, period) for t in peers}
        comparisons = compare(self.catalogue, by_city)
        targets = [t for t, _ in await self.repository.targets(tenant)]
        return gap_report(tenant, self.catalogue, comparisons, by_city[tenant], targets)

    async def assessment(
        self,
        tenant: str,
        actor: Actor,
        period: Period,
        methodology: str = "kz-2018",
        now: datetime | None = None,
    ) -> AssessmentResult:
        method = _methodology(methodology)
        ctx = await self._computation(tenant, actor, period, now)
        districts = await self._districts(tenant, ctx.inputs)
        last_day = period.end_day - timedelta(days=1)
        answers = await self.repository.answers(tenant, method.id, last_day)
        known = _requirement_ids(method)
        answers = {k: v for k, v in answers.items() if k in known}
        return await assess(
            method, ctx, districts=districts, registry=self.registry, answers=answers
        )

    async def add_answer(
        self, actor: Actor, tenant: str, methodology: str, answer: ReportedAnswer
    ) -> None:
        """Record a person's answer to a requirement (the city's operators and admins)."""
        self._check_city_writer(tenant, actor)
        method = _methodology(methodology)
        if answer.requirement_id not in _requirement_ids(method):
            raise BadRequestData(
                f"methodology {methodology!r} has no requirement {answer.requirement_id!r}"
            )
        await self.repository.add_answer(tenant, method.id, answer)

    async def answers(
        self, tenant: str, actor: Actor, methodology: str
    ) -> list[ReportedAnswer]:
        await self.hub.reader(tenant, actor)  # the read rules of the city
        method = _methodology(methodology)
        found = await self.repository.answers(tenant, method.id)
        return [found[k] for k in sorted(found)]

    async def _districts(self, tenant: str, inputs: Any) -> list[str] | None:
        """The city's districts, from its City entity's ``districts`` (a list of names)."""
        cities = await inputs.entities(tenant, "City", ["districts"])
        for city in cities:
            names = city.attrs.get("districts")
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return list(names)
        return None

    async def targets_progress(
        self, tenant: str, actor: Actor, period: Period
    ) -> list[dict[str, Any]]:
        known = await self.known(tenant, actor, period)
        out = []
        for target, meta in await self.repository.targets(tenant):
            indicator = self.catalogue.get(target.indicator_id)
            current = known[target.indicator_id].best if target.indicator_id in known else None
            out.append({**progress(target, indicator, current).to_dict(), **meta})
        return out

    async def set_target(
        self, tenant: str, actor: Actor, target: Target, note: str = ""
    ) -> None:
        self._check_city_writer(tenant, actor)
        if target.indicator_id not in self.catalogue:
            raise NotFound(f"no indicator {target.indicator_id!r} in the catalogue")
        await self.repository.set_target(target, actor.id, datetime.now(UTC), note)

    async def add_reported(self, actor: Actor, value: ReportedValue) -> None:
        self._check_city_writer(value.tenant, actor)
        if value.indicator_id not in self.catalogue:
            raise NotFound(f"no indicator {value.indicator_id!r} in the catalogue")
        await self.repository.add_reported(value)

    async def reported(
        self, tenant: str, actor: Actor, indicator: str | None, period: str | None
    ) -> list[ReportedValue]:
        await self.hub.reader(tenant, actor)
        return await self.repository.reported(tenant, indicator, period, self.zone)

    async def export(
        self,
        tenant: str,
        actor: Actor,
        year: int,
        language: str = "en",
        include_not_computable: bool = False,
        frameworks: Sequence[str] = ("iso37120",),
    ) -> list[ReportRow]:
        period = Period("year", year, 1, self.zone)
        known = await self.known(tenant, actor, period)
        return report_rows(
            self.catalogue, known, year, frameworks=tuple(frameworks), language=language,
            include_not_computable=include_not_computable,
        )

    @staticmethod
    def _check_city_writer(tenant: str, actor: Actor) -> None:
        """Reported values and targets: the city's operators for their own city, and admins."""
        access.check_tenant(actor, tenant)
        if actor.role not in (access.ADMIN, access.OPERATOR):
            raise Forbidden(
                "only the city's operators (and admins) may compute its indicators and enter "
                "its reported values and targets"
            )


def _methodology(name: str) -> Methodology:
    """The assessment methodology ``name`` shipped in the package; NotFound otherwise."""
    try:
        return load_methodology(name)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise NotFound(f"no assessment methodology {name!r}: {exc}") from None


def _requirement_ids(method: Methodology) -> set[str]:
    return {r.id for area in method.areas for r in area.requirements}
