"""Calculators: pure, versioned functions from :class:`~qala.indicators.inputs.Inputs` to values.

Each calculator has a ``name`` (the catalogue's ``calculator`` field points at it) and a
``version``. A change of method is a new version registered beside the old one: values keep the
version they were computed with (see :class:`~qala.indicators.values.ValueLog`). Parameters
(thresholds, attribute names) are part of a calculator instance and recorded in every value's
provenance. ``reads`` names the entity types and history attributes a calculator reads, and
``statistics`` the city statistics: what an input fingerprint covers.

Every calculator returns a :class:`MeasuredValue` or a :class:`NotComputable` with the reason —
no data, a zero denominator, a missing statistic — never a made-up 0. The methods are described
in docs/indicators.md; each class's docstring says the same in short.

| module | calculators |
|---|---|
| ``base`` | :class:`Context`, :class:`Calculator`, coverage of hourly series |
| ``air`` | PM2.5, PM10, SO₂, NO₂ means; days above the guideline; stations per 100 km² |
| ``lighting`` | streetlights managed, working |
| ``mobility`` | stops with real-time information, EV points, parking, traffic counts |
| ``waste`` | fill-level sensing, fill at collection |
| ``requests`` | citizen-request resolution time, within SLA |
| ``registry`` | :class:`Registry`, :func:`default_registry`, :func:`compute_all`… |
"""

from qala.indicators.calculators.air import (
    NO2,
    PM10,
    PM25,
    SO2,
    AirMean,
    PM25DaysAbove,
    StationsReporting,
)
from qala.indicators.calculators.base import Calculator, Context, Read
from qala.indicators.calculators.lighting import StreetlightsManaged, StreetlightsWorking
from qala.indicators.calculators.mobility import (
    EVPointsPer100k,
    ParkingRealTime,
    StopsRealTime,
    TrafficCountsPerCapita,
)
from qala.indicators.calculators.registry import (
    IndicatorValues,
    Registry,
    compute_all,
    default_registry,
    indicator_values,
)
from qala.indicators.calculators.requests import RequestResolutionTime, RequestsWithinSLA
from qala.indicators.calculators.waste import WasteFillAtCollection, WasteFillSensing

__all__ = [
    "NO2",
    "PM10",
    "PM25",
    "SO2",
    "AirMean",
    "Calculator",
    "Context",
    "EVPointsPer100k",
    "IndicatorValues",
    "PM25DaysAbove",
    "ParkingRealTime",
    "Read",
    "Registry",
    "RequestResolutionTime",
    "RequestsWithinSLA",
    "StationsReporting",
    "StopsRealTime",
    "StreetlightsManaged",
    "StreetlightsWorking",
    "TrafficCountsPerCapita",
    "WasteFillAtCollection",
    "WasteFillSensing",
    "compute_all",
    "default_registry",
    "indicator_values",
]
