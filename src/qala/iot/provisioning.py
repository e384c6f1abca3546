"""Provisioning: the service groups and devices of a tenant, checked, stored and audited, and
the entities the devices report into.

A service group (its apikey, a default entity type, attribute mappings) is a row of the
registry. Provisioning a device stores its row and creates its entity (type and static
attributes) through the hub, all or nothing: a device whose entity cannot be written is not
kept. Errors are :class:`~qala.iot.errors.IotError` (or hub errors), in the IoT Agent format.
"""

from __future__ import annotations

from typing import Any

import orjson

from qala.auth import audit
from qala.hub import Actor, Conflict, Entity, Hub, Transaction
from qala.iot.errors import IotError
from qala.iot.model import check_device, check_service, default_entity_name
from qala.iot.registry import (
    DeviceRow,
    Registry,
    ResolvedDevice,
    ServiceRow,
    build_device,
    is_unique_violation,
)
from qala.services import Services

# -- service groups ----------------------------------------------------------------------------


async def add_services(
    svc: Services,
    registry: Registry,
    tenant: str,
    actor: Actor,
    items: list[Any],
    service_path: str | None = None,
) -> None:
    """Create the service groups of ``items`` (IoT Agent documents), all or none."""
    docs = [check_service(d, i) for i, d in enumerate(items)]
    keys = [d["apikey"] for d in docs]
    if len(set(keys)) != len(keys):
        raise IotError(400, "BAD_REQUEST", "the same apikey appears twice in the request")
    for doc in docs:
        if service_path:
            doc["service_path"] = service_path
        await svc.contexts.compile(doc.get("@context", doc.get("context")))
        if await registry.apikey_tenant(doc["apikey"]) is not None:
            raise IotError(
                409, "DUPLICATE_GROUP", f"a service group with apikey {doc['apikey']!r} exists"
            )
    try:
        await registry.insert_services(tenant, docs)
    except Exception as exc:
        if is_unique_violation(exc):
            raise IotError(
                409, "DUPLICATE_GROUP", "a service group with this apikey exists"
            ) from None
        raise
    for doc in docs:
        await audit.record(
            svc.store, actor, "iot.service.create", tenant=tenant, target=doc["apikey"]
        )


async def find_service(
    registry: Registry, tenant: str, apikey: str | None, resource: str | None
) -> ServiceRow:
    """The tenant's service group with this apikey (and resource, if given)."""
    if not apikey:
        raise IotError(400, "MISSING_PARAMETERS", "give the service group's apikey as ?apikey=")
    row = await registry.service(apikey)
    if row is None or row.tenant != tenant or (resource is not None and row.resource != resource):
        raise IotError(404, "GROUP_NOT_FOUND", f"no service group with apikey {apikey!r} here")
    return row


async def change_service(
    svc: Services, registry: Registry, tenant: str, actor: Actor, row: ServiceRow, body: Any
) -> None:
    """Change the fields of a service group given in ``body``; its apikey stays."""
    if not isinstance(body, dict):
        raise IotError(400, "BAD_REQUEST", "the body must be a JSON object of fields to change")
    if body.get("apikey", row.apikey) != row.apikey:
        raise IotError(
            400, "BAD_REQUEST", "the apikey of a service group cannot change; delete and create"
        )
    doc = check_service({**row.config, **body, "apikey": row.apikey}, 0)
    await svc.contexts.compile(doc.get("@context", doc.get("context")))
    await registry.update_service(row, doc)
    await audit.record(
        svc.store, actor, "iot.service.update", tenant=tenant, target=row.apikey, detail=body
    )


async def remove_service(
    svc: Services,
    registry: Registry,
    tenant: str,
    actor: Actor,
    row: ServiceRow,
    *,
    with_devices: bool,
) -> None:
    """Delete a service group (and its devices if ``with_devices``; never their entities)."""
    await registry.delete_service(row, with_devices=with_devices)
    detail = {"devices": True} if with_devices else None
    await audit.record(
        svc.store, actor, "iot.service.delete", tenant=tenant, target=row.apikey, detail=detail
    )


# -- devices -----------------------------------------------------------------------------------


async def device_values(
    svc: Services, registry: Registry, tenant: str, doc: dict[str, Any], groups: list[ServiceRow]
) -> tuple[dict[str, Any], ResolvedDevice]:
    """The row values of a checked device document, and the compiled device (which proves
    that its mapping works)."""
    apikey = doc.get("apikey")
    group: ServiceRow | None = None
    if apikey is None:
        typed = [g for g in groups if doc.get("entity_type") in (None, g.entity_type)]
        if len(groups) == 1:
            group = groups[0]
        elif len(typed) == 1 and doc.get("entity_type") is not None:
            group = typed[0]
        else:
            raise IotError(
                400,
                "BAD_REQUEST",
                f"device {doc['device_id']!r} has no apikey and the tenant has "
                f"{len(groups)} service groups: give its apikey",
            )
        apikey = group.apikey
    else:
        owner = await registry.apikey_tenant(apikey)
        if owner is not None and owner != tenant:
            raise IotError(409, "DUPLICATE_GROUP", f"apikey {apikey!r} belongs to another tenant")
        group = next((g for g in groups if g.apikey == apikey), None)
    entity_type = doc.get("entity_type") or (group.entity_type if group else None)
    if not entity_type:
        raise IotError(
            400,
            "BAD_REQUEST",
            f"device {doc['device_id']!r} has no entity_type, nor has its service group",
        )
    entity_name = doc.get("entity_name") or default_entity_name(entity_type, doc["device_id"])
    config = {
        k: v
        for k, v in doc.items()
        if k not in ("device_id", "entity_name", "entity_type", "apikey")
    }
    resolved = await build_device(
        svc.contexts,
        pk=0,
        tenant=tenant,
        device_id=doc["device_id"],
        apikey=apikey,
        entity_name=entity_name,
        entity_type=entity_type,
        device=config,
        group=group.config if group else None,
    )
    values = {
        "device_id": doc["device_id"],
        "apikey": apikey,
        "entity_name": entity_name,
        "entity_type": entity_type,
        "config": config,
    }
    return values, resolved


async def ensure_entities(
    hub: Hub, tenant: str, devices: list[ResolvedDevice], actor: Actor
) -> None:
    """Create each device's entity (type and static attributes) or add the static attributes
    to the existing one, in one hub write; :class:`Conflict` for an entity of another type."""

    def apply(tx: Transaction) -> None:
        for device in devices:
            before = tx.get(device.entity_id)
            static = {iri: orjson.loads(orjson.dumps(inst)) for iri, inst in device.static}
            if before is None:
                tx.create(Entity(id=device.entity_id, types=[device.type_iri], attrs=static))
                continue
            if device.type_iri not in before.types:
                raise Conflict(
                    f"entity {device.entity_id!r} exists with another type; give the device "
                    "another entity_name or the entity's entity_type"
                )
            if static:
                tx.update(device.entity_id, attrs=static)

    await hub.transact(
        tenant,
        actor,
        operation="iot.provision",
        entity_ids=[d.entity_id for d in devices],
        body=apply,
    )


async def add_devices(
    svc: Services,
    registry: Registry,
    tenant: str,
    actor: Actor,
    items: list[Any],
    service_path: str | None = None,
) -> None:
    """Provision the devices of ``items`` (IoT Agent documents) and create their entities,
    all or none."""
    docs = [check_device(d, i) for i, d in enumerate(items)]
    ids = [d["device_id"] for d in docs]
    if len(set(ids)) != len(ids):
        raise IotError(400, "BAD_REQUEST", "the same device_id appears twice in the request")
    taken = await registry.existing_devices(tenant, ids)
    if taken:
        raise IotError(
            409, "DUPLICATE_DEVICE_ID", f"device(s) already provisioned: {', '.join(sorted(taken))}"
        )
    groups = await registry.tenant_services(tenant)
    rows = []
    resolved = []
    for doc in docs:
        if service_path:
            doc["service_path"] = service_path
        values, device = await device_values(svc, registry, tenant, doc, groups)
        rows.append(values)
        resolved.append(device)
    try:
        await registry.insert_devices(tenant, rows)
    except Exception as exc:
        if is_unique_violation(exc):
            raise IotError(409, "DUPLICATE_DEVICE_ID", "a device with this id exists") from None
        raise
    try:
        await ensure_entities(svc.hub, tenant, resolved, actor)
    except BaseException:
        await registry.delete_devices(tenant, ids)  # all or nothing
        raise
    for device_id in ids:
        await audit.record(svc.store, actor, "iot.device.create", tenant=tenant, target=device_id)


async def find_device(registry: Registry, tenant: str, device_id: str) -> DeviceRow:
    """The tenant's device with this id."""
    row = await registry.device(tenant, device_id)
    if row is None:
        raise IotError(404, "DEVICE_NOT_FOUND", f"no device {device_id!r} in this tenant")
    return row


async def change_device(
    svc: Services, registry: Registry, tenant: str, actor: Actor, row: DeviceRow, body: Any
) -> None:
    """Change the fields of a device given in ``body`` (its entity gains the static
    attributes); its device_id stays."""
    if not isinstance(body, dict):
        raise IotError(400, "BAD_REQUEST", "the body must be a JSON object of fields to change")
    if body.get("device_id", row.device_id) != row.device_id:
        raise IotError(400, "BAD_REQUEST", "the device_id of a device cannot change")
    current = {
        **row.config,
        "device_id": row.device_id,
        "apikey": row.apikey,
        "entity_name": row.entity_name,
        "entity_type": row.entity_type,
    }
    doc = check_device({**current, **body}, 0)
    values, device = await device_values(
        svc, registry, tenant, doc, await registry.tenant_services(tenant)
    )
    await ensure_entities(svc.hub, tenant, [device], actor)
    await registry.update_device(row, values)
    await audit.record(
        svc.store, actor, "iot.device.update", tenant=tenant, target=row.device_id, detail=body
    )


async def remove_device(
    svc: Services, registry: Registry, tenant: str, actor: Actor, device_id: str
) -> None:
    """Delete a device (not its entity)."""
    await find_device(registry, tenant, device_id)
    await registry.delete_devices(tenant, [device_id])
    await audit.record(svc.store, actor, "iot.device.delete", tenant=tenant, target=device_id)
