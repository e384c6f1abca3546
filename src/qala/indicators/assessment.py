"""Kazakhstan's Smart City reference-standard assessment of a city.

A *methodology* (a YAML file; ``data/assessment-kz-2018.yaml`` ships) lists areas, each with a
class (priority, ICT, additional) and a checklist of requirements. A requirement is either a
**rule** the hub can check — evaluated over the same :class:`Inputs` the calculators read, with
the evidence kept — or answered as **reported** (met or not, source, date, who). Per area, the
implementation percentage (requirements met ÷ requirements answered × 100) becomes points by
the methodology's bands; points are weighted by class and the weighted sum is divided by the
methodology's divisor (25 in the published rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from qala.indicators.calculators import Context, Registry, default_registry
from qala.indicators.catalogue import Title
from qala.indicators.values import MeasuredValue


class AssessmentError(ValueError):
    """A methodology file is not valid, or an assessment was asked for with bad input."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    max: float = Field(ge=0, le=100)
    points: int = Field(ge=0)


class Scoring(_Strict):
    bands: tuple[Band, ...]
    weights: dict[str, float]
    divisor: float | Literal["maximum"] = 25.0

    @field_validator("divisor", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _bands_cover(self) -> Scoring:
        bounds = [b.max for b in self.bands]
        if not bounds or bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError("bands must have increasing upper bounds")
        if bounds[-1] != 100:
            raise ValueError("the last band must end at 100")
        return self


class IndicatorRule(_Strict):
    kind: Literal["indicator-at-least", "indicator-at-most"]
    indicator: str
    threshold: float


class DistrictRule(_Strict):
    kind: Literal["every-district-covered"]
    type: str
    attr: str
    district_attr: str = "district"


Rule = Annotated[IndicatorRule | DistrictRule, Field(discriminator="kind")]


class Requirement(_Strict):
    id: str
    title: Title
    rule: Rule | None = None


class Area(_Strict):
    id: str
    title: Title
    class_: str = Field(alias="class")
    class_basis: Literal["published", "assumed"] = "published"
    requirements: tuple[Requirement, ...] = ()


class Methodology(_Strict):
    id: str
    title: Title
    official: bool = False
    scoring: Scoring
    areas: tuple[Area, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Methodology:
        seen: set[str] = set()
        for area in self.areas:
            if area.class_ not in self.scoring.weights:
                raise ValueError(f"area {area.id!r}: class {area.class_!r} has no weight")
            for req in area.requirements:
                if req.id in seen:
                    raise ValueError(f"requirement {req.id!r} appears more than once")
                seen.add(req.id)
        return self

    def points(self, percent: float) -> int:
        """Points for an implementation percentage (0..100), by the methodology's bands."""
        if not 0 <= percent <= 100:
            raise AssessmentError(f"implementation percentage {percent} is not within 0..100")
        for band in self.scoring.bands:
            if percent <= band.max:
                return band.points
        raise AssertionError("bands end at 100")  # pragma: no cover - checked on load

    @property
    def maximum(self) -> float:
        top = self.scoring.bands[-1].points
        return sum(top * self.scoring.weights[a.class_] for a in self.areas)

    @property
    def divisor(self) -> float:
        divisor = self.scoring.divisor
        return self.maximum if divisor == "maximum" else float(divisor)


def parse_methodology(data: Any, source: str = "methodology") -> Methodology:
    try:
        return Methodology.model_validate(data)
    except ValidationError as exc:
        detail = exc.errors()[0]
        where = ".".join(str(p) for p in detail["loc"]) or "(document)"
        raise AssessmentError(f"{source}: {where}: {detail['msg']}") from None


def load_methodology_file(path: str | Path) -> Methodology:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AssessmentError(f"{path.name}: cannot read: {exc}") from None
    return parse_methodology(data, path.name)


@lru_cache(maxsize=4)
def load_methodology(name: str = "kz-2018") -> Methodology:
    """A methodology shipped in the package: ``data/assessment-<name>.yaml``."""
    file = resources.files("qala.indicators").joinpath(f"data/assessment-{name}.yaml")
    if not file.is_file():
        raise AssessmentError(f"no methodology {name!r} in the package")
    return parse_methodology(yaml.safe_load(file.read_text("utf-8")), file.name)


# ---------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class ReportedAnswer:
    """A requirement answered by a person."""

    requirement_id: str
    met: bool
    source: str
    source_date: date
    entered_by: str
    entered_at: datetime | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requirement": self.requirement_id,
            "met": self.met,
            "source": self.source,
            "sourceDate": self.source_date.isoformat(),
            "enteredBy": self.entered_by,
        }
        if self.entered_at is not None:
            out["enteredAt"] = self.entered_at.isoformat()
        if self.note:
            out["note"] = self.note
        return out


RequirementStatus = Literal["met", "not-met", "unanswered"]


@dataclass(frozen=True, slots=True)
class RequirementResult:
    id: str
    title: Title
    status: RequirementStatus
    basis: Literal["rule", "reported", "none"]
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title.model_dump(),
            "status": self.status,
            "basis": self.basis,
            "evidence": self.evidence,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class AreaResult:
    id: str
    title: Title
    class_: str
    class_basis: str
    weight: float
    requirements: tuple[RequirementResult, ...]
    percent: float | None
    points: int | None

    @property
    def weighted(self) -> float | None:
        return None if self.points is None else self.points * self.weight

    @property
    def unanswered(self) -> list[str]:
        return [r.id for r in self.requirements if r.status == "unanswered"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title.model_dump(),
            "class": self.class_,
            "classBasis": self.class_basis,
            "weight": self.weight,
            "implementationPercent": self.percent,
            "points": self.points,
            "weightedPoints": self.weighted,
            "unanswered": self.unanswered,
            "requirements": [r.to_dict() for r in self.requirements],
        }


@dataclass(frozen=True, slots=True)
class AssessmentResult:
    methodology: str
    official: bool
    tenant: str
    period: str
    areas: tuple[AreaResult, ...]
    divisor: float
    maximum: float

    @property
    def complete(self) -> bool:
        return all(not a.unanswered for a in self.areas)

    @property
    def total(self) -> float | None:
        """Weighted points ÷ divisor; ``None`` while an area has no answered requirement."""
        if any(a.points is None for a in self.areas):
            return None
        return round(sum(a.weighted or 0.0 for a in self.areas) / self.divisor, 4)

    @property
    def reason(self) -> str:
        empty = [a.id for a in self.areas if a.points is None]
        if empty:
            return "areas without an answered requirement: " + ", ".join(empty)
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "methodology": self.methodology,
            "official": self.official,
            "tenant": self.tenant,
            "period": self.period,
            "total": self.total,
            "reason": self.reason,
            "complete": self.complete,
            "divisor": self.divisor,
            "maximum": round(self.maximum / self.divisor, 4),
            "areas": [a.to_dict() for a in self.areas],
        }


async def _evaluate_rule(
    rule: IndicatorRule | DistrictRule,
    ctx: Context,
    registry: Registry,
    districts: Sequence[str] | None,
) -> tuple[RequirementStatus | None, dict[str, Any], str]:
    """(met / not-met, evidence, '') or (None, evidence, why it cannot be evaluated)."""
    if isinstance(rule, IndicatorRule):
        indicator = ctx.catalogue.get(rule.indicator)
        if indicator.calculator is None:
            return None, {}, f"{rule.indicator} has no calculator"
        result = await registry.get(indicator.calculator).compute(ctx)
        evidence = result.to_dict()
        if not isinstance(result, MeasuredValue):
            return None, evidence, f"{rule.indicator} is not computable: {result.reason}"
        if rule.kind == "indicator-at-least":
            ok = result.value >= rule.threshold
        else:
            ok = result.value <= rule.threshold
        return ("met" if ok else "not-met"), evidence, ""
    if not districts:
        return None, {}, "the city's list of districts is not known"
    entities = await ctx.inputs.entities(ctx.tenant, rule.type, [rule.attr, "address"])
    series = await ctx.inputs.hourly_series(
        ctx.tenant, [e.id for e in entities], rule.attr, ctx.period.start, ctx.window_end
    )
    covered: dict[str, list[str]] = {d: [] for d in districts}
    for entity in entities:
        if entity.id not in series:
            continue
        address = entity.attrs.get("address")
        district = address.get(rule.district_attr) if isinstance(address, Mapping) else None
        if district in covered:
            covered[district].append(entity.id)
    missing = [d for d, ids in covered.items() if not ids]
    evidence = {
        "query": f"entities type={rule.type}; reporting {rule.attr} in the period; by "
        f"address.{rule.district_attr}",
        "covered": {d: ids for d, ids in covered.items() if ids},
        "missing": missing,
    }
    return ("not-met" if missing else "met"), evidence, ""


async def assess(
    methodology: Methodology,
    ctx: Context,
    answers: Mapping[str, ReportedAnswer] | None = None,
    districts: Sequence[str] | None = None,
    registry: Registry | None = None,
) -> AssessmentResult:
    """Assess a city for a period. Rules are evaluated over ``ctx.inputs``; a rule that cannot
    be evaluated falls back to a reported answer if there is one, else stays unanswered."""
    registry = registry or default_registry()
    answers = answers or {}
    known = {r.id for a in methodology.areas for r in a.requirements}
    stray = sorted(set(answers) - known)
    if stray:
        raise AssessmentError(f"answers to unknown requirements: {', '.join(stray)}")
    areas = []
    for area in methodology.areas:
        results = []
        for req in area.requirements:
            status: RequirementStatus | None = None
            evidence: dict[str, Any] = {}
            reason = ""
            basis: Literal["rule", "reported", "none"] = "none"
            if req.rule is not None:
                status, evidence, reason = await _evaluate_rule(req.rule, ctx, registry, districts)
                basis = "rule" if status is not None else "none"
            if status is None and req.id in answers:
                answer = answers[req.id]
                status, basis = ("met" if answer.met else "not-met"), "reported"
                evidence = {**evidence, "reported": answer.to_dict()}
            if status is None:
                status = "unanswered"
                reason = reason or "no reported answer"
            results.append(RequirementResult(req.id, req.title, status, basis, evidence, reason))
        answered = [r for r in results if r.status != "unanswered"]
        percent = (
            round(100.0 * sum(r.status == "met" for r in answered) / len(answered), 4)
            if answered
            else None
        )
        areas.append(
            AreaResult(
                id=area.id,
                title=area.title,
                class_=area.class_,
                class_basis=area.class_basis,
                weight=methodology.scoring.weights[area.class_],
                requirements=tuple(results),
                percent=percent,
                points=None if percent is None else methodology.points(percent),
            )
        )
    return AssessmentResult(
        methodology=methodology.id,
        official=methodology.official,
        tenant=ctx.tenant,
        period=ctx.period.label,
        areas=tuple(areas),
        divisor=methodology.divisor,
        maximum=methodology.maximum,
    )
