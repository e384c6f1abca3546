"""Scheduled computation: every city's indicators kept current from the hub's live data.

Every ``QALA_INDICATORS_COMPUTE_INTERVAL`` seconds (default 3600; 0: never) the server
computes, for every city on the hub that holds data, the periods a reader looks at first: the
current month, quarter and year, then the eleven months before (newest first, so a trend fills
in from today backwards). Each run is incremental — a calculator whose inputs did not change
since the stored value (its fingerprint) is not recomputed — so a run over unchanged data
reads fingerprints only. The first run comes ``QALA_INDICATORS_COMPUTE_AFTER`` seconds after
start (default: one interval; ``qala demo`` starts it within seconds, so a freshly seeded demo
gets its values and monthly trends while it is already serving). A failed run is logged and
retried at the next interval. Values are computed as the system actor ``qala-indicators``
(an admin: the provenance says so).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from qala.hub import DEFAULT_TENANT, Actor, Hub
from qala.indicators.kpi import KPI
from qala.indicators.period import Period
from qala.indicators.service import IndicatorService

log = logging.getLogger("qala.indicators")

#: Who scheduled computations run as.
SYSTEM = Actor(id="qala-indicators", role="admin")
#: Months computed back from the current one (the current one included).
MONTHS = 12


def scheduled_periods(now: datetime, zone: str) -> list[Period]:
    """The current month, quarter and year in ``zone``, then the months before, newest first."""
    local = now.astimezone(ZoneInfo(zone))
    year, month = local.year, local.month
    periods = [
        Period.parse(f"{year:04d}-{month:02d}", zone),
        Period.parse(f"{year:04d}-Q{(month - 1) // 3 + 1}", zone),
        Period.parse(f"{year:04d}", zone),
    ]
    for back in range(1, MONTHS):
        y, m = divmod(year * 12 + month - 1 - back, 12)
        periods.append(Period.parse(f"{y:04d}-{m + 1:02d}", zone))
    return periods


@dataclass(slots=True)
class RunSummary:
    cities: int = 0
    periods: int = 0
    computed: int = 0
    unchanged: int = 0


async def cities_with_data(hub: Hub) -> list[str]:
    """The hub's cities holding entities other than the indicators' own."""
    out = []
    for tenant in await hub.tenants():
        if tenant == DEFAULT_TENANT:
            continue
        types = await hub.types(tenant, SYSTEM)
        if any(not t.endswith("/" + KPI) and t != KPI for t in types):
            out.append(tenant)
    return out


async def compute_all(
    service: IndicatorService, hub: Hub, *, now: datetime | None = None
) -> RunSummary:
    """One scheduled run over every city with data (see the module's description)."""
    moment = now or datetime.now(UTC)
    summary = RunSummary()
    cities = await cities_with_data(hub)
    summary.cities = len(cities)
    for period in scheduled_periods(moment, service.zone):
        for tenant in cities:
            outcomes = await service.compute(tenant, SYSTEM, period, now=moment)
            summary.periods += 1
            summary.computed += sum(o.status == "computed" for o in outcomes)
            summary.unchanged += sum(o.status == "unchanged" for o in outcomes)
            await asyncio.sleep(0)  # let requests in between two cities
    return summary


async def computation_loop(
    service: IndicatorService, hub: Hub, interval: float, first_after: float
) -> None:
    delay = first_after
    while True:
        await asyncio.sleep(delay)
        delay = interval
        try:
            started = asyncio.get_running_loop().time()
            done = await compute_all(service, hub)
            log.info(
                "indicators: %d cities, %d city-periods, %d values computed, %d unchanged "
                "in %.1f s",
                done.cities, done.periods, done.computed, done.unchanged,
                asyncio.get_running_loop().time() - started,
            )  # fmt: skip
        except Exception:
            log.exception("scheduled indicator computation failed; retrying at the next interval")
