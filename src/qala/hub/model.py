"""The hub's plain-Python picture of city data: entities, their attributes, tenants.

An entity's attributes are a dict keyed by *expanded* attribute IRIs. Each value is either one
attribute instance (the default instance, without ``datasetId``) or a list of instances when the
attribute has instances with a ``datasetId``. An instance is a dict with the NGSI-LD core member
names (``type``, ``value``, ``object``, ``observedAt``, ``unitCode``, ``datasetId``, …) and its
sub-attributes under their expanded IRIs, nested the same way. This is also exactly what the
store keeps as the entity's JSON document, so reading and writing need no conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Instance = dict[str, Any]
AttrValue = Instance | list[Instance]

#: The name the default tenant has in the store (requests without ``NGSILD-Tenant``).
DEFAULT_TENANT = ""

_TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")


def valid_tenant_name(name: str) -> bool:
    return bool(_TENANT_NAME.match(name))


@dataclass(slots=True)
class Entity:
    """One NGSI-LD entity as the hub holds it."""

    id: str
    types: list[str]
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    scope: list[str] | None = None
    created_at: int = 0  # microseconds since the epoch, UTC
    modified_at: int = 0
    owner: str | None = None
    pk: int | None = None

    def instances(self, iri: str) -> list[Instance]:
        value = self.attrs.get(iri)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def copy(self) -> Entity:
        return Entity(
            id=self.id,
            types=list(self.types),
            attrs=dict(self.attrs),
            scope=list(self.scope) if self.scope is not None else None,
            created_at=self.created_at,
            modified_at=self.modified_at,
            owner=self.owner,
            pk=self.pk,
        )


def instances_of(value: AttrValue | None) -> list[Instance]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def pack_instances(instances: list[Instance]) -> AttrValue | None:
    """The stored form of an attribute's instances: one object for a lone default instance."""
    if not instances:
        return None
    if len(instances) == 1 and "datasetId" not in instances[0]:
        return instances[0]
    return instances


# -- time ----------------------------------------------------------------------------------


def now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def us_to_iso(us: int) -> str:
    """Microseconds since the epoch as an NGSI-LD DateTime: UTC, to the millisecond, and
    without a fraction when it is zero (``2026-03-01T10:00:00Z``, ``…10:00:00.250Z``) — the
    form clients most often send, and the one the JVM brokers' temporal APIs answer with."""
    dt = datetime.fromtimestamp(us / 1_000_000, UTC)
    millis = dt.microsecond // 1000
    if millis == 0:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$")


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time with a zone (``Z`` or ``±hh:mm``). ValueError otherwise."""
    if not isinstance(text, str) or not _ISO.match(text):
        raise ValueError(f"{text!r} is not an ISO 8601 date-time with a time zone")
    value = text
    if "." in value:  # Python accepts at most 6 fractional digits
        head, _, rest = value.partition(".")
        digits = re.match(r"\d+", rest)
        assert digits is not None
        frac = digits.group(0)
        value = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac) :]}"
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"{text!r} is out of range: years 1 to 9999 in UTC") from None


def iso_to_us(text: str) -> int:
    dt = parse_datetime(text)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond
