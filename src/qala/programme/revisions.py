"""Append-only revisions and the programme compiled from them.

Every change of a budget, a contract, a payment, a date or a status is a :class:`Revision`:
who made it, when, why, on which document, and the fields it sets. Revisions are never edited
or removed; the current state (:class:`~qala.programme.model.Programme`) is compiled by
applying them in order, and :func:`history` gives an auditor every field's successive values
with the revision behind each.

Three operations exist:

* ``create`` an object (a project, contract, payment, milestone or deliverable) with its fields;
* ``update`` some fields of an object (the programme itself is only updated);
* ``modify`` a contract's value, period (``duration``) or scope: an OC4IDS modification keeping
  the old and new values, its rationale and its approving document. Those three contract fields
  cannot be changed by ``update``.

Rules checked on every revision, with an error saying what to do instead: references point to
existing objects of the same project; an object's place (city, project, contract) is fixed;
once a project has entered implementation its baseline ``period``, ``budget`` and
``budgetBreakdown`` are frozen (OC4IDS: the ``period`` is not edited during implementation —
changes of cost and time show as contract modifications and completion details).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from qala.hub.errors import AlreadyExists, BadRequestData, Conflict, NotFound
from qala.programme import model as m
from qala.programme.fields import BASELINE, FIELDS, MODIFIED_ONLY, InvalidField, text, utc
from qala.programme.fields import parse_date as _parse_date
from qala.programme.fields import period as _parse_period

OPS = ("create", "update", "modify")
KINDS = tuple(FIELDS)


class RevisionRefused(BadRequestData):
    """A revision that cannot be applied to the current state."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.field = field


class BaselineFrozen(Conflict):
    """A change of a project's baseline after its implementation started."""

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, field=field)
        self.field = field


class UnknownObject(NotFound):
    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.field = field


class DuplicateObject(AlreadyExists):
    def __init__(self, detail: str, *, field: str | None = "id") -> None:
        super().__init__(detail, field=field)
        self.field = field


@dataclass(frozen=True, slots=True)
class Revision:
    """One immutable change. ``seq`` is its number in the programme (given when stored)."""

    op: str
    kind: str
    target: str
    data: Mapping[str, Any]
    actor: str
    reason: str
    at: datetime
    document: str | None = None
    seq: int | None = None

    def numbered(self, seq: int) -> Revision:
        return dataclasses.replace(self, seq=seq)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field's change in the auditors' history (values in their stored, canonical form)."""

    revision: int | None
    at: datetime
    actor: str
    reason: str
    document: str | None
    op: str
    kind: str
    target: str
    field: str
    old: Any
    new: Any


@dataclass(slots=True)
class Compiler:
    """Applies revisions one by one, keeping the canonical fields of every object."""

    programme_id: str
    raw: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {k: {} for k in KINDS}
    )
    state: m.Programme = field(init=False)
    changes: list[FieldChange] = field(default_factory=list)
    last_seq: int = 0

    def __post_init__(self) -> None:
        self.state = m.Programme(self.programme_id)
        self.raw["programme"][self.programme_id] = {}

    # -- applying ---------------------------------------------------------------------------

    def apply(self, revision: Revision) -> Revision:
        """Apply one revision, or raise (leaving the state as it was); returns it numbered."""
        if revision.seq is None:
            revision = revision.numbered(self.last_seq + 1)
        elif revision.seq <= self.last_seq:
            raise RevisionRefused(f"revision {revision.seq} comes after {self.last_seq}")
        if revision.op not in OPS:
            raise RevisionRefused(f"unknown operation {revision.op!r}: use {', '.join(OPS)}")
        if revision.kind not in KINDS:
            raise RevisionRefused(f"unknown kind {revision.kind!r}: use {', '.join(KINDS)}")
        if not isinstance(revision.actor, str) or not revision.actor.strip():
            raise RevisionRefused("a revision must say who made it (actor)")
        if not isinstance(revision.reason, str) or not revision.reason.strip():
            raise RevisionRefused("a revision must say why it was made (reason)")
        utc(revision.at)
        if not isinstance(revision.data, Mapping):
            raise RevisionRefused("a revision's data must be an object")
        new_raw = self._modified(revision) if revision.op == "modify" else self._set(revision)
        obj = self._build(revision.kind, revision.target, new_raw, revision)
        self._check_references(revision.kind, obj)
        old_raw = self.raw[revision.kind].get(revision.target, {})
        self.raw[revision.kind][revision.target] = new_raw
        self.state = _with(self.state, revision.kind, revision.target, obj)
        self.last_seq = revision.seq
        for name in sorted(set(old_raw) | set(new_raw)):
            if old_raw.get(name) != new_raw.get(name):
                self.changes.append(
                    FieldChange(
                        revision.seq,
                        revision.at,
                        revision.actor,
                        revision.reason,
                        revision.document,
                        revision.op,
                        revision.kind,
                        revision.target,
                        name,
                        old_raw.get(name),
                        new_raw.get(name),
                    )
                )
        return revision

    def _set(self, revision: Revision) -> dict[str, Any]:
        kind, target, data = revision.kind, revision.target, revision.data
        specs = FIELDS[kind]
        existing = self.raw[kind].get(target)
        text(target, "id")
        if revision.op == "create":
            if kind == "programme":
                raise RevisionRefused("the programme exists already: update it")
            if existing is not None:
                raise DuplicateObject(f"{kind} {target!r} exists already")
        elif existing is None:
            raise UnknownObject(f"there is no {kind} {target!r} to update", field="id")
        base = dict(existing or {})
        for name, value in data.items():
            spec = specs.get(name)
            if spec is None:
                raise RevisionRefused(
                    f"{kind} has no field {name!r} (fields: {', '.join(specs)})", field=name
                )
            if existing is not None and spec.fixed and value != existing.get(name):
                raise RevisionRefused(
                    f"{kind} {target!r}: {name} is fixed when the {kind} is created", field=name
                )
            if existing is not None and kind == "contract" and name in MODIFIED_ONLY:
                canonical = None if value is None else spec.dump(spec.parse(value, name))
                if canonical != existing.get(name):
                    raise RevisionRefused(
                        f"contract {target!r}: the {name} changes only through a modification "
                        f"(operation 'modify', type {MODIFIED_ONLY[name]!r}) that keeps the old "
                        "and new values and its rationale",
                        field=name,
                    )
            if value is None or value == "":
                if spec.required:
                    raise InvalidField(name, "is required")
                base.pop(name, None)
            else:
                base[name] = spec.dump(spec.parse(value, name))
        if revision.op == "create":
            for name, spec in specs.items():
                if spec.required and name not in base:
                    raise InvalidField(name, "is required")
        if kind == "project" and existing is not None:
            self._check_baseline(target, existing, base)
        return base

    def _check_baseline(self, target: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        project = self.state.projects[target]
        if (
            project.implementation_started_by is None
            and old.get("status") not in m.IMPLEMENTATION_STARTED
        ):
            return
        for name in BASELINE:
            if old.get(name) != new.get(name):
                started = project.implementation_started_by
                raise BaselineFrozen(
                    f"project {target!r}: the baseline {name} is frozen since implementation "
                    f"started (revision {started}); record the change as a contract "
                    "modification, or in the completion's end date and final value details",
                    field=name,
                )

    def _modified(self, revision: Revision) -> dict[str, Any]:
        if revision.kind != "contract":
            raise RevisionRefused("only contracts are modified; other objects are updated")
        existing = self.raw["contract"].get(revision.target)
        if existing is None:
            raise UnknownObject(f"there is no contract {revision.target!r} to modify", field="id")
        data = dict(revision.data)
        kind = data.get("type")
        if kind not in MODIFIED_ONLY.values():
            raise InvalidField("type", f"{kind!r} is not one of value, duration, scope")
        rationale = text(data.get("rationale"), "rationale")
        modifications = list(existing.get("modifications", []))
        mod_id = data.get("id") or f"{revision.target}-mod-{len(modifications) + 1}"
        if any(mod["id"] == mod_id for mod in modifications):
            raise DuplicateObject(f"contract {revision.target!r} has a modification {mod_id!r}")
        entry: dict[str, Any] = {"id": str(mod_id), "type": kind, "rationale": rationale}
        if data.get("date"):
            entry["date"] = _parse_date(data["date"], "date").isoformat()
        if revision.document:
            entry["document"] = revision.document
        entry["revision"] = revision.seq
        new = dict(existing)
        specs = FIELDS["contract"]
        if kind == "value":
            spec = specs["value"]
            new_value = spec.dump(spec.parse(data.get("newValue"), "newValue"))
            entry |= {"oldValue": existing["value"], "newValue": new_value}
            new["value"] = new_value
        elif kind == "duration":
            spec = specs["period"]
            new_period = spec.dump(_parse_period(data.get("newPeriod"), "newPeriod"))
            entry |= {"oldPeriod": existing["period"], "newPeriod": new_period}
            new["period"] = new_period
        else:
            new_scope = text(data.get("newScope"), "newScope")
            entry |= {"oldScope": existing.get("scope", ""), "newScope": new_scope}
            new["scope"] = new_scope
        unknown = set(data) - {
            "id",
            "type",
            "rationale",
            "date",
            "newValue",
            "newPeriod",
            "newScope",
        }
        if unknown:
            raise RevisionRefused(f"a modification has no field {sorted(unknown)[0]!r}")
        modifications.append(entry)
        new["modifications"] = modifications
        return new

    # -- typed objects ----------------------------------------------------------------------

    def _build(self, kind: str, target: str, raw: dict[str, Any], revision: Revision) -> Any:
        specs = FIELDS[kind]
        values = {
            spec.attr: spec.parse(raw[name], name) for name, spec in specs.items() if name in raw
        }
        if kind == "programme":
            return dataclasses.replace(self.state, **values)
        if kind == "project":
            old = self.state.projects.get(target)
            started = old.implementation_started_by if old is not None else None
            if started is None and values.get("status") in m.IMPLEMENTATION_STARTED:
                started = revision.seq
            if "completion" not in values:
                values["completion"] = None
            return m.Project(id=target, implementation_started_by=started, **values)
        if kind == "contract":
            values["modifications"] = tuple(_modification(e) for e in raw.get("modifications", []))
            return m.Contract(id=target, **values)
        if kind == "payment":
            contract_id = values.get("contract")
            if contract_id is not None and "project" not in values:
                contract = self.state.contracts.get(contract_id)
                if contract is None:
                    raise UnknownObject(f"there is no contract {contract_id!r}", field="contract")
                values["project"] = contract.project
                raw["project"] = contract.project
            if "project" not in values:
                raise InvalidField("project", "is required when the payment has no contract")
            values.setdefault("contract", None)
            return m.Payment(id=target, **values)
        if kind == "milestone":
            values.setdefault("due_date", None)
            return m.Milestone(id=target, **values)
        return m.Deliverable(id=target, **values)

    def _check_references(self, kind: str, obj: Any) -> None:
        s = self.state
        if kind == "contract" and obj.project not in s.projects:
            raise UnknownObject(f"there is no project {obj.project!r}", field="project")
        if kind == "deliverable" and obj.project not in s.projects:
            raise UnknownObject(f"there is no project {obj.project!r}", field="project")
        if kind == "payment":
            if obj.project not in s.projects:
                raise UnknownObject(f"there is no project {obj.project!r}", field="project")
            if obj.contract is not None:
                contract = s.contracts.get(obj.contract)
                if contract is None:
                    raise UnknownObject(f"there is no contract {obj.contract!r}", field="contract")
                if contract.project != obj.project:
                    raise RevisionRefused(
                        f"contract {obj.contract!r} belongs to project {contract.project!r}, "
                        f"not {obj.project!r}",
                        field="project",
                    )
            if obj.milestone is not None:
                milestone = s.milestones.get(obj.milestone)
                if milestone is None:
                    raise UnknownObject(
                        f"there is no milestone {obj.milestone!r}", field="milestone"
                    )
                if milestone.contract != obj.contract:
                    raise RevisionRefused(
                        f"milestone {obj.milestone!r} belongs to contract "
                        f"{milestone.contract!r}, not to this payment's contract",
                        field="milestone",
                    )
        if kind == "milestone":
            contract = s.contracts.get(obj.contract)
            if contract is None:
                raise UnknownObject(f"there is no contract {obj.contract!r}", field="contract")
            for ident in obj.deliverables:
                deliverable = s.deliverables.get(ident)
                if deliverable is None:
                    raise UnknownObject(f"there is no deliverable {ident!r}", field="deliverables")
                if deliverable.project != contract.project:
                    raise RevisionRefused(
                        f"deliverable {ident!r} belongs to another project",
                        field="deliverables",
                    )


def _modification(entry: dict[str, Any]) -> m.Modification:
    def per(key: str) -> m.Period | None:
        return _parse_period(entry[key], key) if key in entry else None

    def val(key: str) -> Any:
        return Decimal(entry[key]) if key in entry else None

    return m.Modification(
        id=entry["id"],
        type=entry["type"],
        date=_parse_date(entry["date"], "date") if "date" in entry else None,
        rationale=entry["rationale"],
        revision=entry.get("revision"),
        document=entry.get("document"),
        old_value=val("oldValue"),
        new_value=val("newValue"),
        old_period=per("oldPeriod"),
        new_period=per("newPeriod"),
        old_scope=entry.get("oldScope"),
        new_scope=entry.get("newScope"),
    )


_COLLECTION = {
    "project": "projects",
    "contract": "contracts",
    "payment": "payments",
    "milestone": "milestones",
    "deliverable": "deliverables",
}


def _with(state: m.Programme, kind: str, target: str, obj: Any) -> m.Programme:
    if kind == "programme":
        return obj
    name = _COLLECTION[kind]
    collection = dict(getattr(state, name))
    collection[target] = obj
    return dataclasses.replace(state, **{name: collection})


# -- the public functions ---------------------------------------------------------------------


def compile_programme(programme_id: str, revisions: Iterable[Revision]) -> m.Programme:
    """The current state: every revision applied in order."""
    compiler = Compiler(programme_id)
    for revision in revisions:
        compiler.apply(revision)
    return compiler.state


def compiler_for(programme_id: str, revisions: Iterable[Revision]) -> Compiler:
    compiler = Compiler(programme_id)
    for revision in revisions:
        compiler.apply(revision)
    return compiler


def history(
    programme_id: str,
    revisions: Iterable[Revision],
    *,
    kind: str | None = None,
    target: str | None = None,
    field_name: str | None = None,
) -> list[FieldChange]:
    """Every field change, oldest first, optionally for one object or one field."""
    compiler = compiler_for(programme_id, revisions)
    return [
        c
        for c in compiler.changes
        if (kind is None or c.kind == kind)
        and (target is None or c.target == target)
        and (field_name is None or c.field == field_name)
    ]


def check(
    programme_id: str, existing: Sequence[Revision], new: Sequence[Revision]
) -> tuple[Compiler, list[Revision]]:
    """Apply ``new`` after ``existing``; the compiler and ``new`` numbered. Raises on the first
    refused revision."""
    compiler = compiler_for(programme_id, existing)
    numbered = [compiler.apply(revision) for revision in new]
    return compiler, numbered
