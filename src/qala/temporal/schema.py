"""The history's storage layout and the compact encoding of one attribute instance as a row.

A *series* is the history of one attribute instance slot: (tenant, entity, attribute,
datasetId). Its id (``sid``) is a 64-bit hash of those four, so the write path never has to
look anything up: the participant computes it, and the catalogue row (``temporal_series``) is
only written when the attribute instance first appears.

An instance row is ``(sid, ts, iid, k, num, val, doc, created_at, modified_at)``:

* ``ts``: the instance's time, µs since the epoch: its ``observedAt`` or, without one, the time
  it was written (so every instance has a place on the time axis);
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

INSTANCE_COLUMNS = ("sid", "ts", "iid", "k", "num", "val", "doc", "created_at", "modified_at")
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


def series_id(tenant_id: int, entity_id: str, attr: str, dataset_id: str | None) -> int:
    """The signed 64-bit id of a series (fits SQLite INTEGER and PostgreSQL BIGINT)."""
    key = f"{tenant_id}\x1f{entity_id}\x1f{attr}\x1f{dataset_id or ''}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big", signed=True)


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


def encode(instance: Instance) -> tuple[int, float | None, str | None, str | None]:
    """``(k, num, val, doc)`` of an instance (without the OBSERVED/DELETED flags)."""
    kind = instance.get("type", "Property")
    code = KIND_CODE.get(kind, 0)
    member = VALUE_MEMBER.get(kind, "value")
    value = instance.get(member)
    num: float | None = None
    val: str | None = None
    cls = value.__class__
    if cls is float and kind == "Property":
        num = value
    elif cls is int and kind == "Property":
        num = float(value)
        code |= INTEGER
    else:
        val = orjson.dumps(value).decode()
    doc: str | None = None
    if len(instance) > 3:
        extra = None
        for key, item in instance.items():
            if key == member or key in _OWN_COLUMNS:
                continue
            if extra is None:
                extra = {}
            extra[key] = _clean(item) if item.__class__ is dict else item
        if extra:
            doc = orjson.dumps(extra).decode()
    return code, num, val, doc


def decode_value(k: int, num: float | None, val: str | None) -> Any:
    if val is not None:
        return orjson.loads(val)
    if num is None:
        return None
    return int(num) if k & INTEGER else num


def kind_of(k: int) -> str:
    code = k & KIND_MASK
    return KINDS[code] if code < len(KINDS) else "Property"
