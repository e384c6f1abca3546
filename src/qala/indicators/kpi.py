"""Indicator values as NGSI-LD entities of the Smart Data Model ``KeyPerformanceIndicator``.

Each stored value is also an entity in the city's tenant, so subscriptions, the temporal API
and any NGSI-LD client see it. One entity per city, indicator and period::

    urn:ngsi-ld:KeyPerformanceIndicator:<tenant>:<indicator id, "/" written ":">:<period>
    urn:ngsi-ld:KeyPerformanceIndicator:astana:iso37120:8.1:2026
    urn:ngsi-ld:KeyPerformanceIndicator:astana:qala:air:no2-mean:2026-03

It holds the value of the newest computation (a recomputation updates it, so its temporal
history shows each computation); the values of older calculator versions stay in the
capability's table and its API. Attributes, as the model (v0.2.1) defines them:

* ``name``, ``description`` — the indicator's English title, its framework and clause;
* ``kpiValue`` (observedAt: when it was computed) — absent when the value is not computable;
* ``category`` ``["quantitative"]``; ``calculationMethod`` ``automatic``;
  ``calculationFrequency`` yearly / quarterly / monthly;
* ``calculationFormula`` — numerator ÷ denominator × multiplier, and the calculator's method;
* ``calculationPeriod`` ``{from, to}`` — the period's first and last local day;
* ``aggregatedData`` ``[{entityType, attrs}]`` — what the calculator read;
* ``organization`` (the city), ``calculatedBy`` (Qala's calculator and version), ``source``;
* ``dateNextCalculation`` — for a period still running, the next day (closed periods are only
  recomputed when their inputs change, so they have none).

And Qala's own: ``indicator`` (the catalogue id), ``valueKind`` (measured / not-computable),
``unit``, ``flagged``, ``coverage``, ``reason`` (why not computable), ``provenance`` (the
query, counts of entities and observations; the full lists are in the values API).
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from qala.indicators.calculators import Calculator
from qala.indicators.catalogue import Catalogue, Definition
from qala.indicators.values import MeasuredValue, Result

KPI = "KeyPerformanceIndicator"
FREQUENCY = {"year": "yearly", "quarter": "quarterly", "month": "monthly"}


def kpi_id(tenant: str, indicator_id: str, period: str) -> str:
    return f"urn:ngsi-ld:{KPI}:{tenant}:{indicator_id.replace('/', ':')}:{period}"


def _formula(definition: Any, calculator: Calculator) -> str:
    method = " ".join((inspect.getdoc(calculator) or "").split())
    if isinstance(definition, Definition):
        head = f"({definition.numerator}) ÷ ({definition.denominator})"
        if definition.multiplier != 1:
            head += f" × {definition.multiplier:g}"
        return f"{head}. {method}".strip()
    return method


def kpi_entity(
    result: Result,
    indicator_id: str,
    catalogue: Catalogue,
    calculator: Calculator,
    now: datetime,
) -> dict[str, Any]:
    """The entity (normalized NGSI-LD, Smart Data Models context terms) for one value."""
    indicator = catalogue.get(indicator_id)
    period = result.period
    last_day = period.end_day - timedelta(days=1)
    computed = result.computed_at.isoformat()
    data = result.to_dict()
    aggregated = []
    for entity_type, attrs in calculator.reads():
        item: dict[str, Any] = {"entityType": entity_type}
        listed = list(attrs) or [a for h in indicator.hub_data if h.type == entity_type
                                 for a in h.attrs]
        if listed:
            item["attrs"] = listed
        aggregated.append(item)
    if calculator.reads_requests:  # citizen requests: the Open311 capability's entities
        aggregated.extend(
            {"entityType": h.type, "attrs": list(h.attrs)} for h in indicator.hub_data
        )
    clause = indicator.clause or (f"section {indicator.section}" if indicator.section else "")
    entity: dict[str, Any] = {
        "id": kpi_id(result.tenant, indicator_id, period.label),
        "type": KPI,
        "name": {"type": "Property", "value": indicator.title.en},
        "description": {
            "type": "Property",
            "value": f"{indicator.framework} {clause}: {indicator.title.en}".strip(),
        },
        "indicator": {"type": "Property", "value": indicator_id},
        "category": {"type": "Property", "value": ["quantitative"]},
        "calculationMethod": {"type": "Property", "value": "automatic"},
        "calculationFrequency": {"type": "Property", "value": FREQUENCY[period.kind]},
        "calculationFormula": {
            "type": "Property",
            "value": _formula(indicator.definition, calculator),
        },
        "calculationPeriod": {
            "type": "Property",
            "value": {"from": period.first_day.isoformat(), "to": last_day.isoformat()},
        },
        "organization": {"type": "Property", "value": result.tenant},
        "calculatedBy": {
            "type": "Property",
            "value": f"Qala city indicators, calculator {result.calculator} "
            f"version {result.version}",
        },
        "source": {"type": "Property", "value": f"qala:indicators/{result.calculator}"},
        "valueKind": {"type": "Property", "value": result.kind},
        "unit": {"type": "Property", "value": data.get("unit") or calculator.unit},
        "provenance": {
            "type": "Property",
            "value": {
                "query": result.provenance.query,
                "entityCount": len(result.provenance.entities),
                "observations": result.provenance.observations,
                "calculator": {"name": result.calculator, "version": result.version},
                "computedAt": computed,
            },
        },
    }
    if aggregated:
        entity["aggregatedData"] = {"type": "Property", "value": aggregated}
    if isinstance(result, MeasuredValue):
        entity["kpiValue"] = {"type": "Property", "value": result.value, "observedAt": computed}
        entity["flagged"] = {"type": "Property", "value": result.flagged}
        if result.quality.coverage is not None:
            entity["coverage"] = {"type": "Property", "value": result.quality.coverage}
    else:
        entity["reason"] = {"type": "Property", "value": result.reason}
    local_now = now.astimezone(ZoneInfo(period.zone))
    if local_now < period.end_local:
        next_day = local_now.date() + timedelta(days=1)
        entity["dateNextCalculation"] = {"type": "Property", "value": next_day.isoformat()}
    return entity
