"""Waste: containers with fill-level sensing and the mean filling level at collection."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import timedelta
from operator import attrgetter
from typing import Any, ClassVar

from qala.indicators.calculators.base import (
    Calculator,
    Context,
    Read,
    existing,
    iso,
    reported_in_period,
    series_stats,
)
from qala.indicators.values import (
    Result,
)


class WasteFillSensing(Calculator):
    """Waste containers that reported ``fillingLevel`` in the period ÷ all containers × 100."""

    name = "waste.fill-sensing"
    version = "1"
    unit = "%"

    def reads(self) -> tuple[Read, ...]:
        return (("WasteContainer", ("fillingLevel",)),)

    async def compute(self, ctx: Context) -> Result:
        bins = existing(
            await ctx.inputs.entities(ctx.tenant, "WasteContainer", ["fillingLevel"]), ctx
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [b.id for b in bins], "fillingLevel", ctx.period.start, ctx.window_end
        )
        sensing = [
            b.id
            for b in bins
            if b.id in series or reported_in_period(b, ctx, ["fillingLevel"])
        ]
        silent = [b.id for b in bins if b.id not in set(sensing)]
        newest = max((p[-1].hour for p in series.values() if p), default=None)
        provenance = self._provenance(
            "entities type=WasteContainer; hourly means of fillingLevel over "
            f"[{iso(ctx.period.start)}, {iso(ctx.window_end)})",
            [b.id for b in bins],
            sum(sum(map(_COUNT, v)) for v in series.values()),
        )
        quality = self._quality(ctx, None, None, newest, silent)
        if not bins:
            return self.not_computable(ctx, "no WasteContainer entity in the city", provenance)
        return self.measured(ctx, round(100.0 * len(sensing) / len(bins), 4), provenance, quality)


_COUNT = attrgetter("count")


class WasteFillAtCollection(Calculator):
    """Mean filling level at emptying. An emptying is a fall of the hourly mean of
    ``fillingLevel`` by at least ``drop`` (a fraction of the volume) between two hours at most
    ``max_gap_hours`` apart; the level at emptying is the highest value seen in those two hours
    (the hour before, or the emptying hour if it was sampled before the truck came). Levels are
    fractions 0..1 (Smart Data Models); the value is in %. Coverage is against one observation
    per ``interval_hours`` per container."""

    name = "waste.fill-at-collection"
    version = "1"
    unit = "%"
    defaults: ClassVar[Mapping[str, Any]] = {"drop": 0.3, "max_gap_hours": 3, "interval_hours": 1}

    def reads(self) -> tuple[Read, ...]:
        return (("WasteContainer", ("fillingLevel",)),)

    async def compute(self, ctx: Context) -> Result:
        bins = existing(
            await ctx.inputs.entities(ctx.tenant, "WasteContainer", ["fillingLevel"]), ctx
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [b.id for b in bins], "fillingLevel", ctx.period.start, ctx.window_end
        )
        stats = series_stats(ctx, bins, series, float(self.params["interval_hours"]))
        levels: list[float] = []
        max_gap = timedelta(hours=self.params["max_gap_hours"])
        for points in series.values():
            for before, after in itertools.pairwise(points):
                if after.hour - before.hour > max_gap:
                    continue
                if before.mean - after.mean >= self.params["drop"]:
                    highest = max(
                        before.maximum if before.maximum is not None else before.mean,
                        after.maximum if after.maximum is not None else after.mean,
                    )
                    levels.append(highest)
        provenance = self._provenance(
            "entities type=WasteContainer; hourly means of fillingLevel over "
            f"[{iso(ctx.period.start)}, {iso(ctx.window_end)})",
            sorted(series),
            stats.observations,
        )
        quality = self._quality(
            ctx,
            stats.coverage,
            stats.by_device,
            stats.newest,
            stats.silent,
            (f"{len(levels)} emptyings detected",),
        )
        if not bins:
            return self.not_computable(ctx, "no WasteContainer entity in the city", provenance)
        if not levels:
            return self.not_computable(
                ctx, "no emptying detected in the containers' filling levels", provenance, quality
            )
        value = 100.0 * sum(levels) / len(levels)
        return self.measured(ctx, round(value, 4), provenance, quality)
