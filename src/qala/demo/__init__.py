"""Demo data for the five cities: public facts, city extents and deterministic generators."""

from qala.demo.cities import CITY_KEYS, City, boundary, boundary_geojson, cities, city, contains
from qala.demo.generate import (
    CONTEXT,
    DEFAULT_OBSERVED_AT,
    DEMO_HISTORY,
    ENTITY_TYPES,
    demo_anchor,
    demo_plan,
    generate_city,
    generate_entities,
)
from qala.demo.recent import generate_history

__all__ = [
    "CITY_KEYS",
    "CONTEXT",
    "DEFAULT_OBSERVED_AT",
    "DEMO_HISTORY",
    "ENTITY_TYPES",
    "City",
    "boundary",
    "boundary_geojson",
    "cities",
    "city",
    "contains",
    "demo_anchor",
    "demo_plan",
    "generate_city",
    "generate_entities",
    "generate_history",
]
