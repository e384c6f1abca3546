"""Street lighting: lights under a light performance management system (ISO 37122 7.6) and
lights working."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from qala.indicators.calculators.base import (
    Calculator,
    Context,
    Read,
    existing,
    iso,
    reported_in_period,
)
from qala.indicators.values import (
    Result,
)


class StreetlightsManaged(Calculator):
    """ISO 37122 7.6: street lights under a light performance management system ÷ all × 100.

    The system "monitors, schedules, dims and controls each light over an ICT network" and
    reports faults, so a Streetlight counts when it is controlled individually
    (``controllingMethod`` = ``individual``; ``group`` control through a
    StreetlightControlCabinet switches circuits, not each light) **and** it reported its state
    (an hourly average of ``illuminanceLevel``, or an observedAt of ``powerState`` /
    ``illuminanceLevel``) in the period. Individually controlled lights that sent nothing are
    listed as silent. The inventory is the city's Streetlight entities created before the
    period's end.
    """

    name = "streetlights.managed"
    version = "1"
    unit = "%"
    defaults: ClassVar[Mapping[str, Any]] = {
        "controlling_method": "individual",
        "telemetry": ("illuminanceLevel", "powerState"),
    }

    def reads(self) -> tuple[Read, ...]:
        return (("Streetlight", (self.params["telemetry"][0],)),)

    async def compute(self, ctx: Context) -> Result:
        telemetry = tuple(self.params["telemetry"])
        lights = existing(
            await ctx.inputs.entities(
                ctx.tenant, "Streetlight", ["controllingMethod", *telemetry]
            ),
            ctx,
        )
        individual = [
            e
            for e in lights
            if e.attrs.get("controllingMethod") == self.params["controlling_method"]
        ]
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [e.id for e in individual], telemetry[0], ctx.period.start, ctx.window_end
        )
        managed = [
            e.id for e in individual if e.id in series or reported_in_period(e, ctx, telemetry)
        ]
        silent = [e.id for e in individual if e.id not in set(managed)]
        query = (
            "entities type=Streetlight attrs=controllingMethod,"
            f"{','.join(telemetry)}; hourly means of {telemetry[0]} for the "
            f"{len(individual)} individually controlled lights over "
            f"[{iso(ctx.period.start)}, {iso(ctx.window_end)})"
        )
        newest = max((p[-1].hour for p in series.values() if p), default=None)
        provenance = self._provenance(
            query, [e.id for e in lights], sum(p.count for v in series.values() for p in v)
        )
        quality = self._quality(
            ctx,
            len(managed) / len(individual) if individual else None,
            None,
            newest,
            silent,
            (f"{len(individual)} of {len(lights)} lights are controlled individually",),
        )
        if not lights:
            return self.not_computable(ctx, "no Streetlight entity in the city", provenance)
        return self.measured(ctx, round(100.0 * len(managed) / len(lights), 4), provenance, quality)


class StreetlightsWorking(Calculator):
    """Street lights whose ``status`` is ``ok`` ÷ street lights with a status × 100, from the
    entities' current state (the state at computation time, not a history of the period)."""

    name = "streetlights.working"
    version = "1"
    unit = "%"

    def reads(self) -> tuple[Read, ...]:
        return (("Streetlight", ()),)

    async def compute(self, ctx: Context) -> Result:
        lights = existing(await ctx.inputs.entities(ctx.tenant, "Streetlight", ["status"]), ctx)
        with_status = [e for e in lights if e.attrs.get("status") is not None]
        working = [e for e in with_status if e.attrs.get("status") == "ok"]
        newest = max(
            (e.observed_at["status"] for e in with_status if "status" in e.observed_at),
            default=None,
        )
        provenance = self._provenance(
            "entities type=Streetlight attrs=status (current state)",
            [e.id for e in with_status],
            len(with_status),
        )
        notes = ["state at computation time"]
        if len(with_status) < len(lights):
            notes.append(f"{len(lights) - len(with_status)} lights have no status")
        quality = self._quality(
            ctx, len(with_status) / len(lights) if lights else None, None, newest, (), notes
        )
        if not with_status:
            return self.not_computable(ctx, "no Streetlight entity with a status", provenance)
        return self.measured(
            ctx, round(100.0 * len(working) / len(with_status), 4), provenance, quality
        )
