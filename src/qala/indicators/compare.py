"""Comparison across cities, targets, and each city's gaps.

- :func:`compare_indicator`: per indicator, each city's rank, distance to the best and a
  normalised score (0 = the worst city compared, 100 = the best; direction-aware, from the
  catalogue's ``better``). Cities without a value are listed, never ranked.
- :class:`Target` and :func:`progress`: a city's target for an indicator and how far it has come.
- :func:`gap_report`: for one city, the indicators where it trails its peers or its targets
  most, and the data it lacks for each dimension of IESE Cities in Motion and each area of the
  IMD Smart City Index (a residents' survey that sensors cannot produce).

Nothing here computes a ranking's score: the rankings' own methods are not Qala's to imitate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from qala.indicators.calculators import IndicatorValues
from qala.indicators.catalogue import Catalogue, Indicator
from qala.indicators.values import AnyValue, MeasuredValue, ReportedValue


@dataclass(frozen=True, slots=True)
class CityStanding:
    tenant: str
    value: float
    kind: str  # measured | reported
    flagged: bool
    rank: int
    distance_to_best: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "value": self.value,
            "kind": self.kind,
            "flagged": self.flagged,
            "rank": self.rank,
            "distanceToBest": self.distance_to_best,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class IndicatorComparison:
    indicator_id: str
    better: str
    standings: tuple[CityStanding, ...]
    missing: tuple[tuple[str, str], ...]  # (tenant, why)

    def of(self, tenant: str) -> CityStanding | None:
        return next((s for s in self.standings if s.tenant == tenant), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator_id,
            "better": self.better,
            "cities": [s.to_dict() for s in self.standings],
            "missing": [{"tenant": t, "reason": r} for t, r in self.missing],
        }


def _usable(value: AnyValue | None) -> tuple[float, str, bool] | None:
    if isinstance(value, MeasuredValue):
        return value.value, "measured", value.flagged
    if isinstance(value, ReportedValue):
        return value.value, "reported", False
    return None


def _why_missing(value: AnyValue | None) -> str:
    if value is None:
        return "no value"
    return getattr(value, "reason", "no value")


def compare_indicator(
    indicator: Indicator, values: Mapping[str, AnyValue | None]
) -> IndicatorComparison:
    """Rank the cities on one indicator. Equal values share a rank (1, 1, 3…)."""
    present: list[tuple[str, float, str, bool]] = []
    missing: list[tuple[str, str]] = []
    for tenant, value in sorted(values.items()):
        usable = _usable(value)
        if usable is None:
            missing.append((tenant, _why_missing(value)))
        else:
            present.append((tenant, *usable))
    higher = indicator.better == "higher"
    ordered = sorted(present, key=lambda p: (-p[1] if higher else p[1], p[0]))
    standings = []
    if ordered:
        best = ordered[0][1]
        worst = ordered[-1][1]
        span = abs(best - worst)
        for tenant, value, kind, flagged in ordered:
            ahead = sum(1 for p in present if (p[1] > value if higher else p[1] < value))
            score = 100.0 if span == 0 else 100.0 * (1 - abs(best - value) / span)
            standings.append(
                CityStanding(
                    tenant=tenant,
                    value=value,
                    kind=kind,
                    flagged=flagged,
                    rank=ahead + 1,
                    distance_to_best=round(abs(best - value), 6),
                    score=round(score, 4),
                )
            )
    return IndicatorComparison(indicator.id, indicator.better, tuple(standings), tuple(missing))


def compare(
    catalogue: Catalogue, by_city: Mapping[str, Mapping[str, IndicatorValues]]
) -> list[IndicatorComparison]:
    """Every catalogue indicator that at least one city has a value for."""
    out = []
    for indicator in catalogue:
        values = {
            t: v[indicator.id].best if indicator.id in v else None for t, v in by_city.items()
        }
        comparison = compare_indicator(indicator, values)
        if comparison.standings:
            out.append(comparison)
    return out


# ------------------------------------------------------------------------------- targets
@dataclass(frozen=True, slots=True)
class Target:
    """A city's target for an indicator, e.g. PM2.5 ≤ 25 µg/m³ by 2027, optionally with the
    baseline it started from."""

    tenant: str
    indicator_id: str
    value: float
    by: date
    baseline: float | None = None
    baseline_period: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    target: Target
    current: float | None
    met: bool | None
    remaining: float | None  # how far the current value still is from the target (≥ 0)
    percent: float | None  # share of the way from baseline to target, when a baseline is known

    def to_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.target.indicator_id,
            "target": self.target.value,
            "by": self.target.by.isoformat(),
            "baseline": self.target.baseline,
            "baselinePeriod": self.target.baseline_period,
            "current": self.current,
            "met": self.met,
            "remaining": self.remaining,
            "progressPercent": self.percent,
        }


def progress(target: Target, indicator: Indicator, current: AnyValue | None) -> Progress:
    usable = _usable(current)
    if usable is None:
        return Progress(target, None, None, None, None)
    value = usable[0]
    higher = indicator.better == "higher"
    met = value >= target.value if higher else value <= target.value
    remaining = 0.0 if met else abs(target.value - value)
    percent = None
    if target.baseline is not None and target.baseline != target.value:
        percent = round(100.0 * (value - target.baseline) / (target.value - target.baseline), 4)
    return Progress(target, value, met, round(remaining, 6), percent)


# --------------------------------------------------------------------------------- gaps
@lru_cache(maxsize=1)
def rankings() -> dict[str, Any]:
    text = resources.files("qala.indicators").joinpath("data/rankings.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@dataclass(frozen=True, slots=True)
class DimensionCoverage:
    ranking: str
    dimension: str
    title: dict[str, str]
    indicators: tuple[str, ...]
    with_value: tuple[str, ...]
    missing: tuple[tuple[str, tuple[str, ...]], ...]  # (indicator, hub types it needs)

    @property
    def coverage(self) -> float | None:
        return len(self.with_value) / len(self.indicators) if self.indicators else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ranking": self.ranking,
            "dimension": self.dimension,
            "title": self.title,
            "indicators": len(self.indicators),
            "withValue": list(self.with_value),
            "coverage": self.coverage,
            "missing": [{"indicator": i, "hubData": list(t)} for i, t in self.missing],
            "note": "" if self.indicators else "no catalogue indicator relates to this dimension",
        }


def _dimension(
    ranking: str,
    key: str,
    spec: Mapping[str, Any],
    catalogue: Catalogue,
    values: Mapping[str, IndicatorValues],
) -> DimensionCoverage:
    themes = set(spec.get("themes", []))
    related = [i for i in catalogue if i.theme in themes]
    with_value = [i.id for i in related if i.id in values and _usable(values[i.id].best)]
    missing = [
        (i.id, tuple(h.type for h in i.hub_data)) for i in related if i.id not in set(with_value)
    ]
    return DimensionCoverage(
        ranking=ranking,
        dimension=key,
        title={k: spec[k] for k in ("en", "ru", "kk")},
        indicators=tuple(i.id for i in related),
        with_value=tuple(with_value),
        missing=tuple(missing),
    )


@dataclass(frozen=True, slots=True)
class GapReport:
    tenant: str
    trailing_peers: tuple[tuple[str, CityStanding, int], ...]  # (indicator, standing, cities)
    trailing_targets: tuple[Progress, ...]
    iese: tuple[DimensionCoverage, ...]
    imd: tuple[DimensionCoverage, ...]
    imd_note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "trailingPeers": [
                {"indicator": i, "cities": n, **s.to_dict()} for i, s, n in self.trailing_peers
            ],
            "trailingTargets": [p.to_dict() for p in self.trailing_targets],
            "iese": [d.to_dict() for d in self.iese],
            "imd": {"note": self.imd_note, "areas": [d.to_dict() for d in self.imd]},
        }


def gap_report(
    tenant: str,
    catalogue: Catalogue,
    comparisons: Sequence[IndicatorComparison],
    values: Mapping[str, IndicatorValues],
    targets: Sequence[Target] = (),
    limit: int = 10,
) -> GapReport:
    """Where a city trails: against its peers (lowest normalised scores among indicators with at
    least two cities), against its targets (unmet, largest remaining distance relative to the
    target first), and the data missing per ranking dimension."""
    trailing = []
    for comparison in comparisons:
        standing = comparison.of(tenant)
        if standing is None or len(comparison.standings) < 2 or standing.rank == 1:
            continue
        trailing.append((comparison.indicator_id, standing, len(comparison.standings)))
    trailing.sort(key=lambda t: (t[1].score, t[0]))
    unmet = []
    for target in targets:
        if target.tenant != tenant:
            continue
        indicator = catalogue.get(target.indicator_id)
        current = values[target.indicator_id].best if target.indicator_id in values else None
        p = progress(target, indicator, current)
        if p.met is not True:
            unmet.append(p)

    def _relative(p: Progress) -> float:
        if p.remaining is None:
            return float("inf")
        return p.remaining / abs(p.target.value) if p.target.value else p.remaining

    unmet.sort(key=lambda p: (-_relative(p), p.target.indicator_id))
    spec = rankings()
    iese = tuple(
        _dimension("iese", k, v, catalogue, values) for k, v in spec["iese"]["dimensions"].items()
    )
    imd = tuple(
        _dimension("imd", k, v, catalogue, values) for k, v in spec["imd"]["areas"].items()
    )
    return GapReport(
        tenant=tenant,
        trailing_peers=tuple(trailing[:limit]),
        trailing_targets=tuple(unmet[:limit]),
        iese=iese,
        imd=imd,
        imd_note=" ".join(spec["imd"]["note"].split()),
    )
