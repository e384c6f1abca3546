"""The calculators by name and version, the default registry, and computing every indicator of
a city and period."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qala.indicators.calculators.air import (
    NO2,
    PM10,
    PM25,
    SO2,
    PM25DaysAbove,
    StationsReporting,
)
from qala.indicators.calculators.base import (
    Calculator,
    Context,
)
from qala.indicators.calculators.lighting import StreetlightsManaged, StreetlightsWorking
from qala.indicators.calculators.mobility import (
    EVPointsPer100k,
    ParkingRealTime,
    StopsRealTime,
    TrafficCountsPerCapita,
)
from qala.indicators.calculators.requests import RequestResolutionTime, RequestsWithinSLA
from qala.indicators.calculators.waste import WasteFillAtCollection, WasteFillSensing
from qala.indicators.catalogue import Catalogue
from qala.indicators.values import (
    AnyValue,
    MeasuredValue,
    ReportedValue,
    Result,
)


class Registry:
    """Calculators by name and version; one version of each name is current."""

    def __init__(self, calculators: Iterable[Calculator] = ()) -> None:
        self._all: dict[tuple[str, str], Calculator] = {}
        self._current: dict[str, str] = {}
        for calculator in calculators:
            self.register(calculator)

    def register(self, calculator: Calculator, current: bool = True) -> None:
        key = (calculator.name, calculator.version)
        if key in self._all:
            raise ValueError(f"calculator {calculator.name} version {calculator.version} exists")
        self._all[key] = calculator
        if current or calculator.name not in self._current:
            self._current[calculator.name] = calculator.version

    def get(self, name: str, version: str | None = None) -> Calculator:
        version = version or self._current.get(name)
        try:
            return self._all[(name, version or "")]
        except KeyError:
            raise KeyError(f"no calculator {name!r} version {version!r}") from None

    def names(self) -> list[str]:
        return sorted(self._current)

    def versions(self, name: str) -> list[str]:
        return sorted(v for n, v in self._all if n == name)

    def check(self, catalogue: Catalogue) -> None:
        """Every calculator the catalogue names exists, and every calculator is named."""
        missing = [n for n in catalogue.calculators() if n not in self._current]
        if missing:
            raise LookupError(f"catalogue names calculators that do not exist: {missing}")
        unused = [n for n in self._current if not catalogue.by_calculator(n)]
        if unused:
            raise LookupError(f"calculators no catalogue indicator uses: {unused}")


def default_registry() -> Registry:
    return Registry(
        [
            PM25(),
            PM10(),
            SO2(),
            NO2(),
            PM25DaysAbove(),
            StationsReporting(),
            StreetlightsManaged(),
            StreetlightsWorking(),
            StopsRealTime(),
            EVPointsPer100k(),
            WasteFillSensing(),
            WasteFillAtCollection(),
            ParkingRealTime(),
            TrafficCountsPerCapita(),
            RequestResolutionTime(),
            RequestsWithinSLA(),
        ]
    )


@dataclass(frozen=True, slots=True)
class IndicatorValues:
    """What is known of one indicator for a city and period: measured and reported, apart."""

    indicator_id: str
    measured: Result | None
    reported: ReportedValue | None

    @property
    def best(self) -> AnyValue | None:
        """The measured value if there is one, else the reported one (never blended)."""
        if isinstance(self.measured, MeasuredValue):
            return self.measured
        return self.reported or self.measured


async def compute_all(ctx: Context, registry: Registry | None = None) -> list[Result]:
    """Every current calculator over the context's city and period."""
    registry = registry or default_registry()
    results = []
    for name in ctx.catalogue.calculators():
        results.append(await registry.get(name).compute(ctx))
    return results


async def indicator_values(
    ctx: Context, results: Iterable[Result] | None = None
) -> dict[str, IndicatorValues]:
    """Measured and reported values of every catalogue indicator, side by side."""
    if results is None:
        results = await compute_all(ctx)
    measured: dict[str, Result] = {}
    for result in results:
        for indicator_id in result.indicator_ids:
            measured[indicator_id] = result
    out = {}
    for indicator in ctx.catalogue:
        reported = await ctx.inputs.reported(ctx.tenant, indicator.id, ctx.period)
        out[indicator.id] = IndicatorValues(indicator.id, measured.get(indicator.id), reported)
    return out
