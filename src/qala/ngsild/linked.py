"""Linked-entity retrieval (GS CIM 009 v1.8.1, 4.5.23): ``join=inline`` and ``join=flat``.

With ``join`` a retrieve or a query also returns the entities that the Relationships of the
result point to, ``joinLevel`` hops deep (default 1): ``inline`` puts each one in an
``entity`` member of its Relationship (in keyValues, in place of the relationship's object);
``flat`` returns them after the entities asked for, each once, in one array. Only the
relationships still present after ``pick``/``omit`` are followed; ``name{a,b}`` in pick or
omit projects the entities that ``name`` links to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qala.hub import Actor, Hub
from qala.hub.model import Entity, instances_of
from qala.hub.query import EntityQuery, Selector
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.params import linked_options
from qala.ngsild.render import RenderOptions, render_entity

JoinMode = Literal["inline", "flat"]
MAX_JOIN_LEVEL = 8
#: Entities fetched per store query when following relationships.
_FETCH_CHUNK = 500


@dataclass(slots=True, frozen=True)
class Join:
    mode: JoinMode
    level: int


def parse_join(join: str | None, join_level: int | None) -> Join | None:
    """``join`` and ``joinLevel`` of a request; None when no linked entities are wanted."""
    from qala.hub.errors import BadRequestData

    if join is None or join == "@none":
        if join_level is not None and join is None:
            raise BadRequestData("joinLevel needs join=flat or join=inline")
        return None
    if join not in ("inline", "flat"):
        raise BadRequestData(f"unknown join {join!r}; use flat, inline or @none")
    level = 1 if join_level is None else join_level
    if not 1 <= level <= MAX_JOIN_LEVEL:
        raise BadRequestData(f"joinLevel must be between 1 and {MAX_JOIN_LEVEL}, not {level}")
    return Join(join, level)  # type: ignore[arg-type]


def _kept_instances(value: Any, opts: RenderOptions) -> list[dict[str, Any]]:
    """The instances of an attribute that the rendering shows (datasetId filter applied)."""
    instances = instances_of(value)
    if opts.datasets is not None:
        instances = [i for i in instances if i.get("datasetId", "@none") in opts.datasets]
    return instances


def links_of(
    entity: Entity, ctx: CompiledContext, opts: RenderOptions, body: dict[str, Any]
) -> list[tuple[str, str]]:
    """(compact attribute name, target id) of each shown Relationship of ``entity``."""
    names = ctx.for_types(entity.types)
    found = []
    for iri, value in entity.attrs.items():
        key = names.compact(iri)
        if key not in body:
            continue
        for instance in _kept_instances(value, opts):
            target = instance.get("object")
            if instance.get("type") == "Relationship" and isinstance(target, str):
                found.append((key, target))
    return found


class Linker:
    """Fetches the entities a result links to and renders them inline or flat."""

    def __init__(
        self, hub: Hub, tenant: str | None, actor: Actor, ctx: CompiledContext, join: Join
    ) -> None:
        self.hub = hub
        self.tenant = tenant
        self.actor = actor
        self.ctx = ctx
        self.join = join
        self.entities: dict[str, Entity] = {}

    async def _fetch(self, ids: set[str]) -> None:
        wanted = sorted(i for i in ids if i not in self.entities)
        for start in range(0, len(wanted), _FETCH_CHUNK):
            chunk = wanted[start : start + _FETCH_CHUNK]
            query = EntityQuery(selectors=[Selector(ids=chunk)], limit=len(chunk))
            result = await self.hub.query(self.tenant, query, self.actor)
            for entity in result.entities:
                self.entities[entity.id] = entity

    async def join_rendered(
        self,
        items: list[dict[str, Any]],
        links: list[list[tuple[str, str]]],
        opts: RenderOptions,
    ) -> list[dict[str, Any]]:
        """``items``, already rendered with ``opts``, joined with the entities their
        relationships ``links`` (per item: compact name, target) point to — for bodies
        rendered where the entities could not be fetched (a notification's, in the write)."""
        await self._fetch({target for found in links for _, target in found})
        deeper = Linker(
            self.hub, self.tenant, self.actor, self.ctx, Join(self.join.mode, self.join.level - 1)
        )
        deeper.entities = self.entities
        out = list(items)
        seen = {item.get("id") for item in items}
        for item, found in zip(items, links, strict=True):
            for key, target in found:
                linked = self.entities.get(target)
                if linked is None:
                    continue
                bodies = await deeper.render([linked], linked_options(opts, key, self.ctx))
                if self.join.mode == "flat":
                    for body in bodies:
                        if body.get("id") not in seen:
                            seen.add(body.get("id"))
                            out.append(body)
                    continue
                rendered = item.get(key)
                entries = rendered if isinstance(rendered, list) else [rendered]
                for index, entry in enumerate(entries):
                    if opts.format == "keyValues" and entry == target:
                        entries[index] = bodies[0]  # the linked entity in place of its id
                    elif isinstance(entry, dict) and entry.get("object") == target:
                        entry["entity"] = bodies[0]
                item[key] = entries if isinstance(rendered, list) else entries[0]
        return out

    async def render(self, roots: list[Entity], opts: RenderOptions) -> list[dict[str, Any]]:
        """The rendered roots (inline) or roots followed by the linked entities (flat)."""
        # Breadth first: which entity is rendered with which options, level by level.
        plan: list[list[tuple[Entity, RenderOptions, dict[str, Any]]]] = [
            [(e, opts, render_entity(e, self.ctx, opts)) for e in roots]
        ]
        for _ in range(self.join.level):
            wanted: list[tuple[str, RenderOptions]] = []
            for entity, entity_opts, body in plan[-1]:
                for key, target in links_of(entity, self.ctx, entity_opts, body):
                    wanted.append((target, linked_options(entity_opts, key, self.ctx)))
            if not wanted:
                break
            await self._fetch({target for target, _ in wanted})
            level = []
            for target, target_opts in wanted:
                linked = self.entities.get(target)
                if linked is not None:
                    rendered = render_entity(linked, self.ctx, target_opts)
                    level.append((linked, target_opts, rendered))
            plan.append(level)
        if self.join.mode == "flat":
            seen: set[str] = set()
            out = []
            for level in plan:
                for entity, _, body in level:
                    if entity.id not in seen:
                        seen.add(entity.id)
                        out.append(body)
            return out
        return [self._inline(e, o, b, self.join.level) for e, o, b in plan[0]]

    def _inline(
        self, entity: Entity, opts: RenderOptions, body: dict[str, Any], depth: int
    ) -> dict[str, Any]:
        if depth == 0:
            return body
        names = self.ctx.for_types(entity.types)
        for iri, value in entity.attrs.items():
            key = names.compact(iri)
            if key not in body:
                continue
            instances = _kept_instances(value, opts)
            rendered = body[key] if isinstance(body[key], list) else [body[key]]
            if len(rendered) != len(instances):
                continue
            child_opts: RenderOptions | None = None
            changed = []
            for instance, out in zip(instances, rendered, strict=True):
                target = instance.get("object")
                linked = self.entities.get(target) if isinstance(target, str) else None
                if instance.get("type") != "Relationship" or linked is None:
                    changed.append(out)
                    continue
                child_opts = child_opts or linked_options(opts, key, self.ctx)
                child = self._inline(
                    linked, child_opts, render_entity(linked, self.ctx, child_opts), depth - 1
                )
                if opts.format == "keyValues":
                    changed.append(child)  # the linked entity in place of its id
                else:
                    changed.append({**out, "entity": child})
            body[key] = changed[0] if len(changed) == 1 else changed
        return body
