"""Pure functions on attribute instances: the NGSI-LD update semantics, time stamps, geometry.

Nothing here touches the store; the hub's planners call these inside the write transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from qala.hub.model import AttrValue, Entity, Instance, instances_of, pack_instances

#: The value that deletes an attribute or sub-attribute in merge and update operations.
NULL_MARKER = "urn:ngsi-ld:null"

_VALUE_MEMBERS = ("value", "object", "objectList", "languageMap", "json", "vocab", "valueList")
_SYSTEM_MEMBERS = ("createdAt", "modifiedAt")


def is_null_instance(instance: Instance) -> bool:
    """An instance whose value is the null marker: a deletion request."""
    for member in _VALUE_MEMBERS:
        if member in instance:
            value = instance[member]
            return value == NULL_MARKER or value == [NULL_MARKER] or value == {"@none": NULL_MARKER}
    return False


def is_sub_attribute(key: str) -> bool:
    """Sub-attributes are stored under expanded IRIs; core members are short keywords."""
    return ":" in key


def sub_attributes(instance: Instance) -> Iterator[tuple[str, Instance]]:
    for key, value in instance.items():
        if isinstance(value, dict) and is_sub_attribute(key):
            yield key, value


def stamp(instance: Instance, previous: Instance | None, now_iso: str) -> Instance:
    """Set ``createdAt``/``modifiedAt`` on an instance and its sub-attributes, in place.

    ``createdAt`` survives from ``previous`` (the instance this one replaces), if any.
    """
    instance["createdAt"] = previous.get("createdAt", now_iso) if previous else now_iso
    instance["modifiedAt"] = now_iso
    for key, sub in instance.items():
        # Sub-attributes are the only members with expanded (colon-bearing) names.
        if sub.__class__ is dict and ":" in key:
            old = previous.get(key) if previous else None
            stamp(sub, old if old.__class__ is dict else None, now_iso)
    return instance


def dataset_of(instance: Instance) -> str | None:
    dataset = instance.get("datasetId")
    return dataset if isinstance(dataset, str) else None


def find_instance(value: AttrValue | None, dataset_id: str | None) -> Instance | None:
    for instance in instances_of(value):
        if dataset_of(instance) == dataset_id:
            return instance
    return None


def put_instance(value: AttrValue | None, instance: Instance) -> AttrValue:
    """The attribute with ``instance`` added, replacing the one with the same datasetId."""
    dataset = dataset_of(instance)
    kept = [i for i in instances_of(value) if dataset_of(i) != dataset]
    packed = pack_instances([*kept, instance] if dataset is not None else [instance, *kept])
    assert packed is not None
    return packed


def remove_instance(value: AttrValue | None, dataset_id: str | None) -> AttrValue | None:
    return pack_instances([i for i in instances_of(value) if dataset_of(i) != dataset_id])


def merge_instance(old: Instance, patch: Instance, now_iso: str) -> Instance:
    """Merge ``patch`` into ``old`` (NGSI-LD merge-patch): members replace members,
    sub-attributes merge recursively, a null-marker sub-attribute is removed."""
    merged = dict(old)
    for key, value in patch.items():
        if key in _SYSTEM_MEMBERS:
            continue
        if isinstance(value, dict) and is_sub_attribute(key):
            if is_null_instance(value):
                merged.pop(key, None)
            elif isinstance(old.get(key), dict):
                merged[key] = merge_instance(old[key], value, now_iso)
            else:
                merged[key] = stamp(dict(value), None, now_iso)
        else:
            merged[key] = value
    if patch.get("type") and patch["type"] != old.get("type"):
        # A change of kind replaces the value members of the old kind.
        for member in _VALUE_MEMBERS:
            if member in old and member not in patch:
                merged.pop(member, None)
    merged["createdAt"] = old.get("createdAt", now_iso)
    merged["modifiedAt"] = now_iso
    return merged


def drop_system_members(instance: Instance) -> Instance:
    """A copy without createdAt/modifiedAt anywhere (inputs must not set them)."""
    out = {k: v for k, v in instance.items() if k not in _SYSTEM_MEMBERS}
    for key, sub in sub_attributes(out):
        out[key] = drop_system_members(sub)
    return out


# -- geometry ------------------------------------------------------------------------------


def _walk_positions(coords: Any) -> Iterator[tuple[float, float]]:
    if isinstance(coords, list) and coords and isinstance(coords[0], int | float):
        yield float(coords[0]), float(coords[1])
        return
    if isinstance(coords, list):
        for item in coords:
            yield from _walk_positions(item)


def geometry_bbox(geometry: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """The bounding box of a (validated) GeoJSON geometry."""
    if geometry.get("type") == "Point":
        x, y = geometry["coordinates"][:2]
        return float(x), float(y), float(x), float(y)
    if geometry.get("type") == "GeometryCollection":
        boxes = [geometry_bbox(g) for g in geometry.get("geometries", [])]
        valid = [b for b in boxes if b is not None]
        if not valid:
            return None
        return (
            min(b[0] for b in valid),
            min(b[1] for b in valid),
            max(b[2] for b in valid),
            max(b[3] for b in valid),
        )
    xs: list[float] = []
    ys: list[float] = []
    for x, y in _walk_positions(geometry.get("coordinates")):
        xs.append(x)
        ys.append(y)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def geo_values(entity: Entity) -> list[tuple[str, Any]]:
    """The GeoJSON values of every GeoProperty instance, as (attribute IRI, geometry)."""
    found: list[tuple[str, Any]] = []
    for iri, value in entity.attrs.items():
        if value.__class__ is dict:
            if value.get("type") == "GeoProperty":
                found.append((iri, value.get("value")))
        else:
            for instance in value:
                if instance.get("type") == "GeoProperty":
                    found.append((iri, instance.get("value")))
    return found


def geo_rows(
    entity: Entity, values: list[tuple[str, Any]] | None = None
) -> list[tuple[str, float, float, float, float]]:
    """One bounding box per GeoProperty instance, for the spatial index."""
    rows = []
    for iri, geometry in geo_values(entity) if values is None else values:
        if isinstance(geometry, dict):
            box = geometry_bbox(geometry)
            if box is not None:
                rows.append((iri, *box))
    return rows
