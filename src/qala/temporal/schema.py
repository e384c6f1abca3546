"""The history's storage layout and the compact encoding of one attribute instance as a row.

A *series* is the history of one attribute instance slot: (tenant, entity, attribute,
datasetId). Its id (``sid``) is a 64-bit hash of those four, so the write path never has to
look anything up: the participant computes it, and the catalogue row (``temporal_series``) is
only written when the attribute instance first appears.

An instance row is ``(sid, h, ts, iid, k, num, val, doc, created_at, modified_at)``:

* ``ts``: the instance's time, µs since the epoch: its ``observedAt`` or, without one, the time
  it was written (so every instance has a place on the time axis); ``h`` is ``ts`` in whole
  hours (``ts // HOUR_US``), the second key of the index, so that hourly aggregation needs no
  sort;
* ``iid``: random 62-bit number, the instance's identity (``instanceId`` is derived from it);
* ``k``: attribute type (low 4 bits) and flags (observedAt given, deleted, integer value);
* ``num``: the value when it is a number (aggregations run on this column in SQL);
* ``val``: the value member as JSON text otherwise (strings, objects, relationship targets…);
* ``doc``: the instance's other members as JSON (unitCode, sub-attributes…) or NULL;
* ``created_at``/``modified_at``: when the instance was recorded / last corrected (NULL: never).
"""

from __future__ import annotations

import hashlib
import os
import random
from typing import Any

import orjson

from qala.hub.model import Instance

INSTANCES = "temporal_instances"
SERIES = "temporal_series"
ENTITIES = "temporal_entities"
HOURLY = "temporal_hourly"

INSTANCE_COLUMNS = ("sid", "h", "ts", "iid", "k", "num", "val", "doc", "created_at", "modified_at")
SERIES_COLUMNS = ("sid", "tenant_id", "entity_id", "attr", "dataset_id", "created_at")
ENTITY_COLUMNS = ("tenant_id", "entity_id", "at", "types", "deleted")

KINDS = (
    "Property",
    "Relationship",
    "GeoProperty",
    "LanguageProperty",
    "JsonProperty",
    "VocabProperty",
    "ListProperty",
    "ListRelationship",
)
KIND_CODE = {name: code for code, name in enumerate(KINDS)}
VALUE_MEMBER = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "ListRelationship": "objectList",
    "LanguageProperty": "languageMap",
    "JsonProperty": "json",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
}
KIND_MASK = 0x0F
OBSERVED = 0x10  # ts is the instance's observedAt
DELETED = 0x20  # the instance records a deletion (deletedAt = ts)
INTEGER = 0x40  # num holds an integer value

NULL = "urn:ngsi-ld:null"
INSTANCE_PREFIX = "urn:ngsi-ld:attribute:instance:"
HOURLY_PREFIX = "urn:ngsi-ld:attribute:hourly:"
HOUR_US = 3_600_000_000

#: Members that are not stored in ``doc``: they have their own columns or are system members.
_OWN_COLUMNS = frozenset(
    {"type", "observedAt", "createdAt", "modifiedAt", "deletedAt", "datasetId", "instanceId"}
)
_SYSTEM = ("createdAt", "modifiedAt")

_random = random.Random(os.urandom(16))


def entity_key(tenant_id: int, entity_id: str) -> int:
    """The high 28 bits of the series ids of an entity (see :func:`series_id`)."""
    key = f"{tenant_id}\x1f{entity_id}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") >> 4


def series_id(
    tenant_id: int, entity_id: str, attr: str, dataset_id: str | None, prefix: int | None = None
) -> int:
    """The signed 64-bit id of a series (fits SQLite INTEGER and PostgreSQL BIGINT).

    The high 28 bits hash the entity and the low 36 bits hash the whole key, so an entity's
    series sit next to each other in the clustered index: a write of one entity's attributes
    touches one or two pages rather than one page per attribute. Two series collide only if
    both parts do (2^-64 across entities; 2^-36 for a pair of one entity's attributes).
    ``prefix``: :func:`entity_key`, when the caller has it already.
    """
    if prefix is None:
        prefix = entity_key(tenant_id, entity_id)
    key = f"{tenant_id}\x1f{entity_id}\x1f{attr}\x1f{dataset_id or ''}".encode()
    low = int.from_bytes(hashlib.blake2b(key, digest_size=5).digest(), "big") & _LOW
    value = (prefix << 36) | low
    return value - (1 << 64) if value >= 1 << 63 else value


_LOW = (1 << 36) - 1


def millis(us: int) -> int:
    """``us`` truncated to the millisecond: history times are what the API shows (ms)."""
    return us - us % 1000


def new_iid() -> int:
    return _random.getrandbits(62) + 1


def instance_uri(iid: int) -> str:
    return f"{INSTANCE_PREFIX}{iid:016x}"


def parse_instance_uri(uri: str) -> int | None:
    """The ``iid`` of an instanceId this broker issued, else None."""
    if not uri.startswith(INSTANCE_PREFIX):
        return None
    tail = uri[len(INSTANCE_PREFIX) :]
    if not 1 <= len(tail) <= 16:
        return None
    try:
        return int(tail, 16)
    except ValueError:
        return None


def _clean(member: Any) -> Any:
    """A sub-attribute without its system time stamps (history keeps the instance's own)."""
    if member.__class__ is dict:
        return {k: _clean(v) for k, v in member.items() if k not in _SYSTEM}
    return member


_PLAIN = frozenset({*_OWN_COLUMNS, "value", "unitCode"})
_UNIT_DOCS: dict[str, str] = {}


def encode(instance: Instance) -> tuple[int, float | None, str | None, str | None]:
    """``(k, num, val, doc)`` of an instance (without the OBSERVED/DELETED flags)."""
    kind = instance.get("type", "Property")
    if kind == "Property":
        value = instance.get("value")
        cls = value.__class__
        if cls is float:
            code, num, val = 0, value, None
        elif cls is int:
            code, num, val = INTEGER, float(value), None
        else:
            code, num, val = 0, None, orjson.dumps(value).decode()
        if instance.keys() <= _PLAIN:  # the common case: value, observedAt, unitCode
            unit = instance.get("unitCode")
            if unit is None:
                return code, num, val, None
            doc = _UNIT_DOCS.get(unit)
            if doc is None:
                doc = orjson.dumps({"unitCode": unit}).decode()
                if len(_UNIT_DOCS) < 4096:
                    _UNIT_DOCS[unit] = doc
            return code, num, val, doc
        member = "value"
    else:
        code = KIND_CODE.get(kind, 0)
        member = VALUE_MEMBER.get(kind, "value")
        num = None
        val = orjson.dumps(instance.get(member)).decode()
    extra = {
        key: _clean(item) if item.__class__ is dict else item
        for key, item in instance.items()
        if key != member and key not in _OWN_COLUMNS
    }
    return code, num, val, orjson.dumps(extra).decode() if extra else None


def decode_value(k: int, num: float | None, val: str | None) -> Any:
    if val is not None:
        return orjson.loads(val)
    if num is None:
        return None
    return int(num) if k & INTEGER else num


def kind_of(k: int) -> str:
    code = k & KIND_MASK
    return KINDS[code] if code < len(KINDS) else "Property"
