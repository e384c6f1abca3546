"""Citizen requests: resolution time and the share resolved within the service's target, read
from :meth:`Inputs.service_requests` (the Open311 capability)."""

from __future__ import annotations

import statistics

from qala.indicators.calculators.base import (
    Calculator,
    Context,
    Read,
    iso,
)
from qala.indicators.values import (
    Result,
)

_NO_REQUESTS = (
    "no citizen-request source: requests come from the Open311 capability, "
    "which does not run on this server"
)


class RequestResolutionTime(Calculator):
    """Median hours from opening to closing of the citizen requests opened in the period and
    closed by its end (or now). Reads :meth:`Inputs.service_requests` (the requests the Open311
    capability publishes in the hub); without that capability the value is not computable."""

    name = "requests.resolution-time"
    version = "1"
    unit = "hours"
    reads_requests = True

    def reads(self) -> tuple[Read, ...]:
        return ()

    async def compute(self, ctx: Context) -> Result:
        requests = await ctx.inputs.service_requests(ctx.tenant, ctx.period.start, ctx.window_end)
        query = f"service requests opened in [{iso(ctx.period.start)}, {iso(ctx.window_end)})"
        if requests is None:
            return self.not_computable(ctx, _NO_REQUESTS, self._provenance(query))
        closed = [
            r for r in requests if r.closed_at is not None and r.closed_at <= ctx.window_end
        ]
        provenance = self._provenance(query, [r.id for r in closed], len(closed))
        quality = self._quality(
            ctx,
            None,
            notes=(f"{len(closed)} of {len(requests)} requests closed",),
            newest=max((r.opened_at for r in requests), default=None),
        )
        if not closed:
            return self.not_computable(
                ctx, "no request opened in the period has been closed", provenance, quality
            )
        hours = [
            (r.closed_at - r.opened_at).total_seconds() / 3600.0
            for r in closed
            if r.closed_at is not None
        ]
        return self.measured(ctx, round(statistics.median(hours), 4), provenance, quality)


class RequestsWithinSLA(Calculator):
    """Requests closed within their service's target time ÷ requests that have a target and
    whose outcome is known (closed, or open past the target: overdue counts as missed) × 100.
    Open requests still within their target are left out. The target is the request's due
    time (Open311's ``expected_datetime``: working hours and holidays counted). Reads the
    Open311 capability's requests through :meth:`Inputs.service_requests`."""

    name = "requests.within-sla"
    version = "1"
    unit = "%"
    reads_requests = True

    def reads(self) -> tuple[Read, ...]:
        return ()

    async def compute(self, ctx: Context) -> Result:
        requests = await ctx.inputs.service_requests(ctx.tenant, ctx.period.start, ctx.window_end)
        query = f"service requests opened in [{iso(ctx.period.start)}, {iso(ctx.window_end)})"
        if requests is None:
            return self.not_computable(ctx, _NO_REQUESTS, self._provenance(query))
        met: list[str] = []
        decided: list[str] = []
        for r in requests:
            due = r.due
            if due is None:
                continue
            closed = r.closed_at if r.closed_at is not None and r.closed_at <= ctx.now else None
            if closed is not None:
                decided.append(r.id)
                if closed <= due:
                    met.append(r.id)
            elif due <= ctx.now:
                decided.append(r.id)
        provenance = self._provenance(query, decided, len(decided))
        quality = self._quality(
            ctx, None, notes=(f"{len(decided)} of {len(requests)} requests have a known outcome",)
        )
        if not decided:
            return self.not_computable(
                ctx,
                "no request with a service target has a known outcome in the period",
                provenance,
                quality,
            )
        return self.measured(ctx, round(100.0 * len(met) / len(decided), 4), provenance, quality)
