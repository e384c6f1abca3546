"""Each city's Open311 service catalogue: services, the bodies responsible, SLAs.

The catalogue is package data (``data/catalogue.json``): services and their attributes are
shared by the cities, each with names and descriptions in Russian, Kazakh and English; every
city maps a service to the body responsible for it (its own name where it was verified, else
a name by function) and has its time zone. :func:`load` reads and checks the file once;
``jurisdiction_id`` names the city (one endpoint serves several).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from qala.open311.model import (
    DATATYPES,
    LANGUAGES,
    Agency,
    Attribute,
    AttributeValue,
    GeoReportError,
    Language,
    Service,
    Sla,
)


@dataclass(slots=True, frozen=True)
class City:
    tenant: str
    jurisdiction_id: str
    name: dict[str, str]
    zone: ZoneInfo
    services: tuple[Service, ...]
    default_language: Language = "ru"

    def service(self, code: str) -> Service:
        """The service with ``code``; a GeoReport 404 when there is none."""
        for service in self.services:
            if service.code == code:
                return service
        raise GeoReportError.one(
            404, f"service_code {code!r} is not a service of {self.name['en']}"
        )

    def language(self, requested: str | None) -> Language:
        """The catalogue language for a ``lang`` parameter (``ru``, ``kk``, ``en``; a regional
        tag such as ``kk-KZ`` counts as its language); the city's default when absent."""
        if not requested:
            return self.default_language
        primary = requested.strip().lower().replace("_", "-").split("-", 1)[0]
        if primary not in LANGUAGES:
            raise GeoReportError.one(
                400, f"lang {requested!r} is not offered: use one of {', '.join(LANGUAGES)}"
            )
        return primary  # type: ignore[return-value]


@dataclass(slots=True, frozen=True)
class Catalogue:
    cities: tuple[City, ...]

    def city(self, jurisdiction_id: str | None) -> City:
        """The city of a ``jurisdiction_id``: required, since one endpoint serves several
        cities (missing → 400, unknown → 404)."""
        if not jurisdiction_id:
            known = ", ".join(c.jurisdiction_id for c in self.cities)
            raise GeoReportError.one(400, f"jurisdiction_id is required (one of: {known})")
        for city in self.cities:
            if city.jurisdiction_id == jurisdiction_id:
                return city
        raise GeoReportError.one(404, f"jurisdiction_id {jurisdiction_id!r} was not found")

    def by_tenant(self, tenant: str) -> City | None:
        return next((c for c in self.cities if c.tenant == tenant), None)


def _texts(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != set(LANGUAGES):
        raise ValueError(f"{where}: texts in exactly {', '.join(LANGUAGES)} are required")
    if not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise ValueError(f"{where}: every text must be a non-empty string")
    return dict(value)


def _attribute(raw: dict[str, Any], where: str) -> Attribute:
    datatype = raw["datatype"]
    if datatype not in DATATYPES:
        raise ValueError(f"{where}: unknown datatype {datatype!r}")
    values = tuple(
        AttributeValue(str(v["key"]), _texts(v["name"], f"{where} value {v['key']}"))
        for v in raw.get("values", ())
    )
    if (datatype in ("singlevaluelist", "multivaluelist")) != bool(values):
        raise ValueError(f"{where}: values are required for, and only for, list datatypes")
    dd = raw.get("datatype_description")
    return Attribute(
        code=raw["code"],
        datatype=datatype,
        description=_texts(raw["description"], where),
        required=bool(raw.get("required", False)),
        variable=bool(raw.get("variable", True)),
        order=int(raw["order"]),
        datatype_description=_texts(dd, where) if dd is not None else None,
        values=values,
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
    )


def _agency(role: str, city: dict[str, Any], roles: dict[str, Any]) -> Agency:
    own = city.get("agencies", {}).get(role)
    if own is not None:
        name = _texts(own, f"{city['tenant']} agency {role}")
    else:
        template = roles[role]
        name = {
            "ru": template["ru"].format(ru=city["genitive_ru"]),
            "kk": template["kk"].format(kk=city["name"]["kk"]),
            "en": template["en"].format(en=city["name"]["en"]),
        }
    return Agency(id=f"{city['tenant']}.{role}", name=name)


def parse(document: dict[str, Any]) -> Catalogue:
    """Build and check a catalogue from its JSON document."""
    roles, groups = document["roles"], document["groups"]
    default_language = document.get("default_language", "ru")
    cities = []
    for raw_city in document["cities"]:
        services = []
        for raw in raw_city.get("services", document["services"]):
            where = f"{raw_city['tenant']} service {raw['code']}"
            attributes = tuple(_attribute(a, f"{where} attribute") for a in raw["attributes"])
            orders = [a.order for a in attributes]
            codes = [a.code for a in attributes]
            if len(set(orders)) != len(orders) or len(set(codes)) != len(codes):
                raise ValueError(f"{where}: attribute codes and orders must be unique")
            services.append(
                Service(
                    code=raw["code"],
                    name=_texts(raw["name"], where),
                    description=_texts(raw["description"], where),
                    group=_texts(groups[raw["group"]], where),
                    keywords={k: tuple(v) for k, v in raw["keywords"].items()},
                    agency=_agency(raw["agency"], raw_city, roles),
                    sla=Sla(hours=float(raw["sla"]["hours"]), working=raw["sla"]["working"]),
                    notice=_texts(raw["notice"], where),
                    attributes=attributes,
                    type=raw.get("type", "realtime"),
                    duplicate_radius_m=float(raw["duplicate_radius_m"]),
                    duplicate_window_h=float(raw["duplicate_window_h"]),
                )
            )
        cities.append(
            City(
                tenant=raw_city["tenant"],
                jurisdiction_id=raw_city["jurisdiction_id"],
                name=_texts(raw_city["name"], raw_city["tenant"]),
                zone=ZoneInfo(raw_city["time_zone"]),
                services=tuple(services),
                default_language=raw_city.get("default_language", default_language),
            )
        )
    return Catalogue(tuple(cities))


@cache
def load() -> Catalogue:
    """The catalogue shipped with Qala."""
    text = resources.files("qala.open311").joinpath("data/catalogue.json").read_text("utf-8")
    return parse(json.loads(text))
