"""The device registry: service groups and devices in the store, and the look-up of the device
behind each incoming message (cached).

The tables belong to the ``iot`` migration branch. An apikey belongs to exactly one tenant: it
is how a message (whose MQTT topic carries only apikey and device id) finds its tenant.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from qala.hub import BadRequestData, HubError, Instance, Statement, Storage, now_us, us_to_iso
from qala.iot.model import (
    DEFAULT_TIMESTAMP_ATTRIBUTE,
    ERROR_KINDS,
    MeasureError,
    Target,
    _unit,
    context_value,
    converter,
    infer_instance,
    type_kind,
)
from qala.jsonld.compiled import CompiledContext
from qala.jsonld.core import CORE_GEO_PROPERTIES
from qala.jsonld.resolver import ContextResolver
from qala.ngsild.parse import check_name

SERVICE_COLUMNS = (
    "id, tenant, apikey, resource, entity_type, config, created_at, modified_at, "
    "unknown_devices, last_error, last_error_at"
)
DEVICE_COLUMNS = (
    "id, tenant, device_id, apikey, entity_name, entity_type, config, created_at, modified_at, "
    "messages, measures, last_measure_at, "
    + ", ".join(f"err_{kind}" for kind in ERROR_KINDS)
    + ", last_error_kind, last_error, last_error_at"
)
_CHUNK = 500
#: Seconds a looked-up device (or its absence) is trusted before the store is asked again;
#: changes made through this process's API apply at once.
FOUND_TTL = 60.0
MISSING_TTL = 2.0


def _loads(text: Any) -> Any:
    return orjson.loads(text) if isinstance(text, str | bytes) else text


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def iso(us: int | None) -> str | None:
    return us_to_iso(us) if us else None


@dataclass(slots=True)
class ServiceRow:
    id: int
    tenant: str
    apikey: str
    resource: str
    entity_type: str | None
    config: dict[str, Any]
    created_at: int
    modified_at: int
    unknown_devices: int = 0
    last_error: str | None = None
    last_error_at: int | None = None

    @classmethod
    def of(cls, row: Sequence[Any]) -> ServiceRow:
        values = list(row)
        values[5] = _loads(values[5])
        return cls(*values)


@dataclass(slots=True)
class DeviceRow:
    id: int
    tenant: str
    device_id: str
    apikey: str
    entity_name: str
    entity_type: str
    config: dict[str, Any]
    created_at: int
    modified_at: int
    messages: int = 0
    measures: int = 0
    last_measure_at: int | None = None
    errors: dict[str, int] = field(default_factory=dict)
    last_error_kind: str | None = None
    last_error: str | None = None
    last_error_at: int | None = None

    @classmethod
    def of(cls, row: Sequence[Any]) -> DeviceRow:
        head = list(row[:12])
        head[6] = _loads(head[6])
        counts = dict(zip(ERROR_KINDS, row[12 : 12 + len(ERROR_KINDS)], strict=True))
        tail = row[12 + len(ERROR_KINDS) :]
        return cls(*head, counts, *tail)


@dataclass(slots=True)
class ResolvedDevice:
    """A device ready for ingestion: its group's defaults merged in, names expanded."""

    pk: int
    tenant: str
    device_id: str
    apikey: str
    entity_id: str
    type_iri: str
    targets: dict[str, Target]
    names: CompiledContext
    timestamp_attribute: str
    timezone: str | None
    strict: bool
    explicit: bool
    static: list[tuple[str, Instance]]
    _passthrough: dict[str, Target] = field(default_factory=dict)

    def passthrough(self, object_id: str) -> Target:
        """The target of an unmapped measure: an attribute named like the object id."""
        target = self._passthrough.get(object_id)
        if target is None:
            try:
                name = check_name(object_id, "object_id")
            except BadRequestData as exc:
                raise MeasureError("invalid_payload", exc.detail) from None
            iri = self.names.expand(name)

            def infer(value: Any, iri: str = iri) -> Instance:
                return infer_instance(value, iri)

            target = Target(name, iri, infer)
            if len(self._passthrough) < 256:
                self._passthrough[object_id] = target
        return target


@dataclass(slots=True)
class Unresolved:
    """Why a message has no device: ``kind`` is wrong_apikey, unknown_device, unknown_apikey
    or rejected; the device or service group it is counted on, if any."""

    kind: str
    message: str
    device_pk: int | None = None
    service_pk: int | None = None


Resolution = ResolvedDevice | Unresolved


def is_unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(exc, asyncpg.UniqueViolationError)


def merged_config(device: dict[str, Any], group: dict[str, Any] | None) -> dict[str, Any]:
    """A device's effective settings: its own, else its group's."""
    group = group or {}
    attributes = {a["object_id"]: a for a in group.get("attributes", [])}
    attributes.update({a["object_id"]: a for a in device.get("attributes", [])})
    static = {a["name"]: a for a in group.get("static_attributes", [])}
    static.update({a["name"]: a for a in device.get("static_attributes", [])})

    def pick(key: str, default: Any) -> Any:
        if device.get(key) is not None:
            return device[key]
        if group.get(key) is not None:
            return group[key]
        return default

    return {
        "attributes": list(attributes.values()),
        "static_attributes": list(static.values()),
        "timestamp_attribute": pick("timestamp_attribute", DEFAULT_TIMESTAMP_ATTRIBUTE),
        "timezone": pick("timezone", None),
        "strict": pick("strict", False),
        "explicitAttrs": pick("explicitAttrs", False),
        "context": context_value(group),
    }


async def build_device(
    contexts: ContextResolver,
    *,
    pk: int,
    tenant: str,
    device_id: str,
    apikey: str,
    entity_name: str,
    entity_type: str,
    device: dict[str, Any],
    group: dict[str, Any] | None,
) -> ResolvedDevice:
    """Compile a device's mapping; :class:`BadRequestData` if it cannot work."""
    config = merged_config(device, group)
    ctx = await contexts.compile(config["context"])
    type_iri = ctx.expand(entity_type)
    names = ctx.for_types([type_iri])
    targets: dict[str, Target] = {}
    for attr in config["attributes"]:
        name = attr["name"]
        iri = names.expand(name)
        kind = type_kind(attr.get("type"), f"attribute {name!r}")
        if iri in CORE_GEO_PROPERTIES and kind not in ("geojson", "geopoint"):
            raise BadRequestData(
                f"attribute {name!r} is a GeoProperty: map it with type geo:json or geo:point"
            )
        unit = _unit(attr, f"attribute {name!r}")
        targets[attr["object_id"]] = Target(name, iri, converter(attr.get("type"), unit, name))
    static: list[tuple[str, Instance]] = []
    for attr in config["static_attributes"]:
        name = attr["name"]
        iri = names.expand(name)
        unit = _unit(attr, f"static attribute {name!r}")
        kind = type_kind(attr.get("type"), f"static attribute {name!r}")
        try:
            if iri in CORE_GEO_PROPERTIES and kind not in ("geojson", "geopoint"):
                instance = infer_instance(attr["value"], iri)
            else:
                instance = converter(attr.get("type"), unit, name)(attr["value"])
        except MeasureError as exc:
            raise BadRequestData(f"static attribute {name!r}: {exc.message}") from None
        static.append((iri, instance))
    return ResolvedDevice(
        pk=pk,
        tenant=tenant,
        device_id=device_id,
        apikey=apikey,
        entity_id=entity_name,
        type_iri=type_iri,
        targets=targets,
        names=names,
        timestamp_attribute=config["timestamp_attribute"],
        timezone=config["timezone"],
        strict=bool(config["strict"]),
        explicit=bool(config["explicitAttrs"]),
        static=static,
    )


class Registry:
    """Storage access for service groups and devices, and the ingestion look-up cache."""

    def __init__(self, store: Storage, contexts: ContextResolver) -> None:
        self.store = store
        self.contexts = contexts
        self._cache: dict[tuple[str, str], tuple[float, Resolution]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    # -- service groups ----------------------------------------------------------------------

    async def services(self, tenant: str, limit: int, offset: int) -> tuple[int, list[ServiceRow]]:
        count = await self.store.fetch(
            "SELECT count(*) FROM iot_services WHERE tenant = $1", tenant
        )
        rows = await self.store.fetch(
            f"SELECT {SERVICE_COLUMNS} FROM iot_services WHERE tenant = $1 "
            "ORDER BY id LIMIT $2 OFFSET $3",
            tenant,
            limit,
            offset,
        )
        return int(count[0][0]), [ServiceRow.of(r) for r in rows]

    async def service(self, apikey: str) -> ServiceRow | None:
        rows = await self.store.fetch(
            f"SELECT {SERVICE_COLUMNS} FROM iot_services WHERE apikey = $1", apikey
        )
        return ServiceRow.of(rows[0]) if rows else None

    async def tenant_services(self, tenant: str) -> list[ServiceRow]:
        rows = await self.store.fetch(
            f"SELECT {SERVICE_COLUMNS} FROM iot_services WHERE tenant = $1 ORDER BY id", tenant
        )
        return [ServiceRow.of(r) for r in rows]

    async def apikey_tenant(self, apikey: str) -> str | None:
        """The tenant an apikey belongs to (through a service group or a device)."""
        rows = await self.store.fetch(
            "SELECT tenant FROM iot_services WHERE apikey = $1 "
            "UNION SELECT tenant FROM iot_devices WHERE apikey = $1",
            apikey,
        )
        return str(rows[0][0]) if rows else None

    async def insert_services(self, tenant: str, docs: list[dict[str, Any]]) -> None:
        stamp = now_us()
        await self.store.execute(
            [
                (
                    "INSERT INTO iot_services(tenant, apikey, resource, entity_type, config, "
                    "created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    (
                        tenant,
                        doc["apikey"],
                        doc["resource"],
                        doc.get("entity_type"),
                        _dumps(doc),
                        stamp,
                        stamp,
                    ),
                )
                for doc in docs
            ]
        )
        self.invalidate()

    async def update_service(self, row: ServiceRow, doc: dict[str, Any]) -> None:
        await self.store.execute(
            [
                (
                    "UPDATE iot_services SET resource = $1, entity_type = $2, config = $3, "
                    "modified_at = $4 WHERE id = $5",
                    (doc["resource"], doc.get("entity_type"), _dumps(doc), now_us(), row.id),
                )
            ]
        )
        self.invalidate()

    async def delete_service(self, row: ServiceRow, *, with_devices: bool) -> None:
        statements: list[Statement] = [("DELETE FROM iot_services WHERE id = $1", (row.id,))]
        if with_devices:
            statements.append(
                (
                    "DELETE FROM iot_devices WHERE tenant = $1 AND apikey = $2",
                    (row.tenant, row.apikey),
                )
            )
        await self.store.execute(statements)
        self.invalidate()

    # -- devices -----------------------------------------------------------------------------

    async def devices(self, tenant: str, limit: int, offset: int) -> tuple[int, list[DeviceRow]]:
        count = await self.store.fetch("SELECT count(*) FROM iot_devices WHERE tenant = $1", tenant)
        rows = await self.store.fetch(
            f"SELECT {DEVICE_COLUMNS} FROM iot_devices WHERE tenant = $1 "
            "ORDER BY id LIMIT $2 OFFSET $3",
            tenant,
            limit,
            offset,
        )
        return int(count[0][0]), [DeviceRow.of(r) for r in rows]

    async def device(self, tenant: str, device_id: str) -> DeviceRow | None:
        rows = await self.store.fetch(
            f"SELECT {DEVICE_COLUMNS} FROM iot_devices WHERE tenant = $1 AND device_id = $2",
            tenant,
            device_id,
        )
        return DeviceRow.of(rows[0]) if rows else None

    async def existing_devices(self, tenant: str, device_ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        ids = list(device_ids)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join(f"${i + 2}" for i in range(len(chunk)))
            rows = await self.store.fetch(
                f"SELECT device_id FROM iot_devices WHERE tenant = $1 AND device_id IN ({marks})",
                tenant,
                *chunk,
            )
            found.update(r[0] for r in rows)
        return found

    async def insert_devices(self, tenant: str, rows: list[dict[str, Any]]) -> None:
        """Insert devices: dicts with device_id, apikey, entity_name, entity_type, config."""
        stamp = now_us()
        await self.store.execute(
            [
                (
                    "INSERT INTO iot_devices(tenant, device_id, apikey, entity_name, entity_type, "
                    "config, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    (
                        tenant,
                        r["device_id"],
                        r["apikey"],
                        r["entity_name"],
                        r["entity_type"],
                        _dumps(r["config"]),
                        stamp,
                        stamp,
                    ),
                )
                for r in rows
            ]
        )
        self.invalidate()

    async def insert_missing_devices(self, tenant: str, rows: list[dict[str, Any]]) -> int:
        """Insert the devices that do not exist yet (idempotent provisioning); how many."""
        existing = await self.existing_devices(tenant, [r["device_id"] for r in rows])
        fresh = [r for r in rows if r["device_id"] not in existing]
        for start in range(0, len(fresh), 2000):
            await self.insert_devices(tenant, fresh[start : start + 2000])
        return len(fresh)

    async def update_device(self, row: DeviceRow, values: dict[str, Any]) -> None:
        await self.store.execute(
            [
                (
                    "UPDATE iot_devices SET apikey = $1, entity_name = $2, entity_type = $3, "
                    "config = $4, modified_at = $5 WHERE id = $6",
                    (
                        values["apikey"],
                        values["entity_name"],
                        values["entity_type"],
                        _dumps(values["config"]),
                        now_us(),
                        row.id,
                    ),
                )
            ]
        )
        self.invalidate()

    async def delete_devices(self, tenant: str, device_ids: Sequence[str]) -> None:
        statements: list[Statement] = [
            ("DELETE FROM iot_devices WHERE tenant = $1 AND device_id = $2", (tenant, d))
            for d in device_ids
        ]
        if statements:
            await self.store.execute(statements)
        self.invalidate()

    # -- ingestion look-up -------------------------------------------------------------------

    async def resolve(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Resolution]:
        """The device (or the reason there is none) for each (apikey, device id)."""
        now = time.monotonic()
        out: dict[tuple[str, str], Resolution] = {}
        missing: list[tuple[str, str]] = []
        for key in keys:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                out[key] = hit[1]
            else:
                missing.append(key)
        if not missing:
            return out
        if len(self._cache) > 200_000:
            self._cache.clear()
        devices = await self._in(
            "iot_devices", DEVICE_COLUMNS, "device_id", {d for _, d in missing}
        )
        services = await self._in(
            "iot_services", SERVICE_COLUMNS, "apikey", {a for a, _ in missing}
        )
        by_id: dict[str, list[DeviceRow]] = {}
        for row in devices:
            device = DeviceRow.of(row)
            by_id.setdefault(device.device_id, []).append(device)
        groups = {s.apikey: s for s in map(ServiceRow.of, services)}
        orphan_keys = {a for a, _ in missing} - set(groups)
        owners: dict[str, str] = {}
        if orphan_keys:
            for apikey, tenant in await self._in(
                "iot_devices", "DISTINCT apikey, tenant", "apikey", orphan_keys
            ):
                owners.setdefault(apikey, tenant)
        for key in missing:
            resolution = await self._resolution(key, by_id, groups, owners)
            ttl = FOUND_TTL if isinstance(resolution, ResolvedDevice) else MISSING_TTL
            self._cache[key] = (now + ttl, resolution)
            out[key] = resolution
        return out

    async def _in(self, table: str, columns: str, column: str, values: set[str]) -> list[Any]:
        rows: list[Any] = []
        items = sorted(values)
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            marks = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            rows.extend(
                await self.store.fetch(
                    f"SELECT {columns} FROM {table} WHERE {column} IN ({marks})", *chunk
                )
            )
        return rows

    async def _resolution(
        self,
        key: tuple[str, str],
        by_id: dict[str, list[DeviceRow]],
        groups: dict[str, ServiceRow],
        owners: dict[str, str],
    ) -> Resolution:
        apikey, device_id = key
        rows = by_id.get(device_id, [])
        for row in rows:
            if row.apikey == apikey:
                group = groups.get(apikey)
                try:
                    return await build_device(
                        self.contexts,
                        pk=row.id,
                        tenant=row.tenant,
                        device_id=row.device_id,
                        apikey=row.apikey,
                        entity_name=row.entity_name,
                        entity_type=row.entity_type,
                        device=row.config,
                        group=group.config if group and group.tenant == row.tenant else None,
                    )
                except HubError as exc:
                    return Unresolved(
                        "rejected", f"device {device_id!r} cannot be used: {exc.detail}", row.id
                    )
        group = groups.get(apikey)
        tenant = group.tenant if group is not None else owners.get(apikey)
        if tenant is not None:
            for row in rows:
                if row.tenant == tenant:
                    return Unresolved(
                        "wrong_apikey",
                        f"device {device_id!r} is provisioned with another apikey",
                        device_pk=row.id,
                    )
            return Unresolved(
                "unknown_device",
                f"no device {device_id!r} is provisioned for this apikey",
                service_pk=group.id if group is not None else None,
            )
        if len(rows) == 1:
            return Unresolved(
                "wrong_apikey",
                f"device {device_id!r} is provisioned with another apikey",
                device_pk=rows[0].id,
            )
        return Unresolved("unknown_apikey", f"apikey {apikey!r} is not provisioned")

    # -- counters ----------------------------------------------------------------------------

    async def flush(
        self, devices: dict[int, DeviceDelta], services: dict[int, ServiceDelta]
    ) -> None:
        """Add the counted deltas to the stored counters (one transaction)."""
        statements: list[Statement] = []
        errors_sql = ", ".join(
            f"err_{kind} = err_{kind} + ${i + 4}" for i, kind in enumerate(ERROR_KINDS)
        )
        base = 4 + len(ERROR_KINDS)
        sql = (
            "UPDATE iot_devices SET messages = messages + $1, measures = measures + $2, "
            f"last_measure_at = COALESCE($3, last_measure_at), {errors_sql}, "
            f"last_error_kind = COALESCE(${base}, last_error_kind), "
            f"last_error = COALESCE(${base + 1}, last_error), "
            f"last_error_at = COALESCE(${base + 2}, last_error_at) WHERE id = ${base + 3}"
        )
        for pk, d in devices.items():
            statements.append(
                (
                    sql,
                    (
                        d.messages,
                        d.measures,
                        d.last_measure_at,
                        *[d.errors.get(kind, 0) for kind in ERROR_KINDS],
                        d.last_error_kind,
                        d.last_error,
                        d.last_error_at,
                        pk,
                    ),
                )
            )
        for pk, s in services.items():
            statements.append(
                (
                    "UPDATE iot_services SET unknown_devices = unknown_devices + $1, "
                    "last_error = COALESCE($2, last_error), "
                    "last_error_at = COALESCE($3, last_error_at) WHERE id = $4",
                    (s.unknown_devices, s.last_error, s.last_error_at, pk),
                )
            )
        if statements:
            await self.store.execute(statements)


@dataclass(slots=True)
class DeviceDelta:
    """Counts for one device not yet added to the store."""

    messages: int = 0
    measures: int = 0
    last_measure_at: int | None = None
    errors: dict[str, int] = field(default_factory=dict)
    last_error_kind: str | None = None
    last_error: str | None = None
    last_error_at: int | None = None

    def apply_to(self, row: DeviceRow) -> None:
        row.messages += self.messages
        row.measures += self.measures
        if self.last_measure_at is not None:
            row.last_measure_at = self.last_measure_at
        for kind, count in self.errors.items():
            row.errors[kind] = row.errors.get(kind, 0) + count
        if self.last_error_at is not None:
            row.last_error_kind = self.last_error_kind
            row.last_error = self.last_error
            row.last_error_at = self.last_error_at


@dataclass(slots=True)
class ServiceDelta:
    unknown_devices: int = 0
    last_error: str | None = None
    last_error_at: int | None = None

    def apply_to(self, row: ServiceRow) -> None:
        row.unknown_devices += self.unknown_devices
        if self.last_error_at is not None:
            row.last_error = self.last_error
            row.last_error_at = self.last_error_at
