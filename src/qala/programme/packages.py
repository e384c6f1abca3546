"""Import of OCDS release packages and OC4IDS project packages (JSON), all or nothing.

Like the tables of :mod:`qala.programme.importing`, a package becomes revisions applied in
order on top of the programme's current state; every problem is a
:class:`~qala.programme.importing.RowError` (the package path as its sheet), and if there is
any, :class:`~qala.programme.importing.ImportFailed` lists them all and nothing is imported.
Numbers with a fraction are read as ``Decimal``, never float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from qala.hub.errors import HubError
from qala.programme import fields as f
from qala.programme.importing import CellError, ImportFailed, RowError
from qala.programme.money import InvalidMoney, money_text, parse_value
from qala.programme.revisions import Revision, compiler_for


def load_json(data: bytes | str) -> Any:
    """JSON with exact decimals: numbers with a fraction become ``Decimal``, never float."""
    try:
        return json.loads(data, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportFailed([RowError("(package)", 0, None, f"not JSON: {exc}")]) from None


class _Builder:
    """Collects revisions from a package, applying each at once to find errors early."""

    def __init__(self, programme: str, existing: Sequence[Revision], who: dict[str, Any]):
        self.compiler = compiler_for(programme, existing)
        self.who = who
        self.out: list[Revision] = []
        self.errors: list[RowError] = []

    def add(
        self,
        where: str,
        index: int,
        op: str,
        kind: str,
        target: str,
        data: dict[str, Any],
        reason: str | None = None,
    ) -> None:
        rev = Revision(
            op,
            kind,
            target,
            data,
            self.who["actor"],
            reason or self.who["reason"],
            self.who["at"],
            self.who.get("document"),
        )
        try:
            self.compiler.apply(rev)
        except HubError as exc:
            column = getattr(exc, "field", None) or exc.extra.get("field")
            self.errors.append(RowError(where, index, column, exc.detail))
            return
        self.out.append(rev)

    def exists(self, kind: str, target: str) -> dict[str, Any] | None:
        return self.compiler.raw[kind].get(target)

    def finish(self) -> list[Revision]:
        if self.errors:
            raise ImportFailed(self.errors)
        return self.out


def _value(obj: Any, where: str) -> str:
    try:
        return money_text(parse_value(obj, what=where))
    except InvalidMoney as exc:
        raise CellError(exc.detail) from None


def _org(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict) or not obj.get("name"):
        return None
    return {"name": obj["name"]} | ({"id": str(obj["id"])} if obj.get("id") else {})


def _opt_period(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    return {k: obj[k] for k in ("startDate", "endDate") if obj.get(k)} or None


_OCDS_CONTRACT_STATUS = {
    "pending": "pre-award",
    "active": "active",
    "cancelled": "closed",
    "terminated": "closed",
}


def import_ocds(
    programme: str,
    existing: Sequence[Revision],
    package: Mapping[str, Any],
    *,
    project: str | None = None,
    **who: Any,
) -> list[Revision]:
    """Contracts, payments and milestones from an OCDS 1.1 release package.

    Releases are read in date order. A contract seen again with another value or period gets a
    value or duration modification (rationale: the release's amendment, or the release id).
    The project is ``planning.budget.projectID``, or ``project`` when given."""
    b = _Builder(programme, existing, who)
    releases = package.get("releases") if isinstance(package, Mapping) else None
    if not isinstance(releases, list):
        raise ImportFailed([RowError("(package)", 0, "releases", "no releases array")])
    order = sorted(range(len(releases)), key=lambda i: str(releases[i].get("date", "")))
    for i in order:
        release = releases[i]
        where = f"releases[{i}]"
        if not isinstance(release, dict):
            b.errors.append(RowError(where, i, None, "a release must be an object"))
            continue
        project_id = project or ((release.get("planning") or {}).get("budget") or {}).get(
            "projectID"
        )
        if not project_id:
            b.errors.append(
                RowError(
                    where,
                    i,
                    "planning.budget.projectID",
                    "names no project; pass the project to import into",
                )
            )
            continue
        suppliers = {
            a.get("id"): (a.get("suppliers") or [None])[0] for a in release.get("awards", [])
        }
        for j, contract in enumerate(release.get("contracts", [])):
            cwhere = f"{where}.contracts[{j}]"
            try:
                _ocds_contract(b, cwhere, i, release, str(project_id), contract, suppliers)
            except CellError as exc:
                b.errors.append(RowError(cwhere, i, "value", exc.reason))
    return b.finish()


def _ocds_contract(
    b: _Builder,
    where: str,
    index: int,
    release: dict[str, Any],
    project_id: str,
    contract: dict[str, Any],
    suppliers: dict[Any, Any],
) -> None:
    cid = str(contract.get("id", ""))
    value = _value(contract.get("value"), f"{where}.value") if contract.get("value") else None
    period = _opt_period(contract.get("period"))
    amendments = contract.get("amendments") or []
    rationale = (amendments[-1].get("rationale") if amendments else None) or (
        f"changed in release {release.get('id')}"
    )
    current = b.exists("contract", cid)
    if current is None:
        data: dict[str, Any] = {"project": project_id, "title": contract.get("title") or cid}
        contractor = _org(suppliers.get(contract.get("awardID")))
        data["contractor"] = contractor or {"name": "(unknown supplier)"}
        if value is not None:
            data["value"] = value
        if period:
            data["period"] = period
        if contract.get("status") in _OCDS_CONTRACT_STATUS:
            data["status"] = _OCDS_CONTRACT_STATUS[contract["status"]]
        b.add(where, index, "create", "contract", cid, data)
    else:
        if value is not None and value != current.get("value"):
            b.add(
                where,
                index,
                "modify",
                "contract",
                cid,
                {
                    "type": "value",
                    "newValue": value,
                    "rationale": rationale,
                    "date": release.get("date"),
                },
                reason=rationale,
            )
        if period and period != current.get("period"):
            b.add(
                where,
                index,
                "modify",
                "contract",
                cid,
                {
                    "type": "duration",
                    "newPeriod": period,
                    "rationale": rationale,
                    "date": release.get("date"),
                },
                reason=rationale,
            )
    implementation = contract.get("implementation") or {}
    for k, ms in enumerate(implementation.get("milestones", [])):
        mid = str(ms.get("id", ""))
        data = {"contract": cid, "title": ms.get("title") or mid}
        for key in ("dueDate", "dateMet", "status"):
            if ms.get(key):
                data[key] = ms[key]
        cur = b.exists("milestone", mid)
        if cur is None:
            b.add(
                f"{where}.implementation.milestones[{k}]", index, "create", "milestone", mid, data
            )
        else:
            changed = {
                key: v
                for key, v in data.items()
                if key != "contract"
                and f.FIELDS["milestone"][key].dump(f.FIELDS["milestone"][key].parse(v, key))
                != cur.get(key)
            }
            if changed:
                b.add(
                    f"{where}.implementation.milestones[{k}]",
                    index,
                    "update",
                    "milestone",
                    mid,
                    changed,
                )
    for k, tx in enumerate(implementation.get("transactions", [])):
        twhere = f"{where}.implementation.transactions[{k}]"
        tid = str(tx.get("id", ""))
        if b.exists("payment", tid) is not None:
            continue
        amount = tx.get("value", tx.get("amount"))
        data = {"contract": cid, "date": tx.get("date"), "amount": _value(amount, twhere)}
        for party in ("payer", "payee"):
            if _org(tx.get(party)):
                data[party] = _org(tx.get(party))
        if tx.get("uri"):
            data["document"] = tx["uri"]
        related = tx.get("relatedImplementationMilestone")
        if isinstance(related, dict) and related.get("id"):
            data["milestone"] = str(related["id"])
        b.add(twhere, index, "create", "payment", tid, data)


def import_oc4ids(
    programme: str,
    existing: Sequence[Revision],
    package: Mapping[str, Any],
    *,
    tenant: str | None = None,
    **who: Any,
) -> list[Revision]:
    """Projects with their contracting processes from an OC4IDS project package.

    A project's city is ``tenant`` when given, else its first location's locality (lower
    case). Contract values come in as first agreed (the first modification's old value) and
    each modification is replayed, so the history is the package's."""
    b = _Builder(programme, existing, who)
    projects = package.get("projects") if isinstance(package, Mapping) else None
    if not isinstance(projects, list):
        raise ImportFailed([RowError("(package)", 0, "projects", "no projects array")])
    for i, proj in enumerate(projects):
        where = f"projects[{i}]"
        try:
            _oc4ids_project(b, where, i, proj, tenant)
        except CellError as exc:
            b.errors.append(RowError(where, i, None, exc.reason))
    return b.finish()


def _oc4ids_project(
    b: _Builder, where: str, i: int, proj: dict[str, Any], tenant: str | None
) -> None:
    pid = str(proj.get("id", ""))
    city = tenant
    if city is None:
        for loc in proj.get("locations", []):
            locality = (loc.get("address") or {}).get("locality")
            if locality:
                city = str(locality).lower()
                break
    data: dict[str, Any] = {"tenant": city, "title": proj.get("title")}
    for key in ("description", "status", "sector"):
        if proj.get(key):
            data[key] = proj[key]
    if _opt_period(proj.get("period")):
        data["period"] = _opt_period(proj.get("period"))
    budget = proj.get("budget") or {}
    if budget.get("amount"):
        data["budget"] = _value(budget["amount"], f"{where}.budget.amount")
    lines = []
    for group in budget.get("budgetBreakdowns", []):
        for line in group.get("budgetBreakdown", []):
            start = ((line.get("period") or {}).get("startDate") or "")[:4]
            source = (line.get("sourceParty") or {}).get("name") or line.get("description")
            lines.append(
                {
                    "id": line.get("id"),
                    "year": int(start) if start.isdigit() else None,
                    "source": source,
                    "amount": _value(line.get("amount"), f"{where}.budget"),
                }
            )
    if lines:
        data["budgetBreakdown"] = lines
    related = [str(r.get("id")) for r in proj.get("relatedProjects", []) if r.get("id")]
    if related:
        data["relatedProjects"] = related
    completion = proj.get("completion")
    if isinstance(completion, dict):
        comp = {
            k: completion[k]
            for k in ("endDate", "endDateDetails", "finalValueDetails")
            if completion.get(k)
        }
        if completion.get("finalValue"):
            comp["finalValue"] = _value(completion["finalValue"], f"{where}.completion")
        data["completion"] = comp
    b.add(where, i, "create", "project", pid, data)
    for k, tx in enumerate(proj.get("transactions", [])):
        tdata = {
            "project": pid,
            "date": tx.get("date"),
            "amount": _value(tx.get("value"), f"{where}.transactions[{k}]"),
        }
        if tx.get("uri"):
            tdata["document"] = tx["uri"]
        b.add(f"{where}.transactions[{k}]", i, "create", "payment", str(tx.get("id")), tdata)
    for j, process in enumerate(proj.get("contractingProcesses", [])):
        s = process.get("summary") or {}
        cwhere = f"{where}.contractingProcesses[{j}]"
        cid = str(process.get("id", ""))
        mods = s.get("modifications", [])
        first_value = next(
            (mod["oldContractValue"] for mod in mods if mod.get("oldContractValue")),
            s.get("contractValue"),
        )
        first_period = next(
            (mod["oldContractPeriod"] for mod in mods if mod.get("oldContractPeriod")),
            s.get("contractPeriod"),
        )
        cdata: dict[str, Any] = {
            "project": pid,
            "title": s.get("title") or cid,
            "contractor": _org((s.get("suppliers") or [None])[0]) or {"name": "(unknown)"},
            "value": _value(first_value, f"{cwhere}.contractValue") if first_value else None,
            "period": _opt_period(first_period),
        }
        if s.get("status"):
            cdata["status"] = s["status"]
        if s.get("description"):
            cdata["scope"] = s["description"]
        b.add(cwhere, i, "create", "contract", cid, cdata)
        for k, mod in enumerate(mods):
            mdata: dict[str, Any] = {
                "id": mod.get("id"),
                "type": mod.get("type"),
                "rationale": mod.get("rationale")
                or mod.get("description")
                or "(no rationale given)",
            }
            if mod.get("date"):
                mdata["date"] = mod["date"]
            if mod.get("type") == "value":
                mdata["newValue"] = _value(mod.get("newContractValue"), f"{cwhere}.modifications")
            elif mod.get("type") == "duration":
                mdata["newPeriod"] = _opt_period(mod.get("newContractPeriod")) or {}
            else:
                mdata["newScope"] = mod.get("description") or "(scope changed)"
            b.add(
                f"{cwhere}.modifications[{k}]",
                i,
                "modify",
                "contract",
                cid,
                mdata,
                reason=mdata["rationale"],
            )
        for k, ms in enumerate(s.get("milestones", [])):
            mdata = {"contract": cid, "title": ms.get("title") or ms.get("id")}
            for key in ("dueDate", "dateMet", "status"):
                if ms.get(key):
                    mdata[key] = ms[key]
            b.add(f"{cwhere}.milestones[{k}]", i, "create", "milestone", str(ms.get("id")), mdata)
        for k, tx in enumerate(s.get("transactions", [])):
            tdata: dict[str, Any] = {
                "contract": cid,
                "date": tx.get("date"),
                "amount": _value(tx.get("value"), f"{cwhere}.transactions"),
            }
            for party in ("payer", "payee"):
                if _org(tx.get(party)):
                    tdata[party] = _org(tx.get(party))
            if tx.get("uri"):
                tdata["document"] = tx["uri"]
            related_ms = tx.get("relatedImplementationMilestone")
            if isinstance(related_ms, dict) and related_ms.get("id"):
                tdata["milestone"] = str(related_ms["id"])
            b.add(f"{cwhere}.transactions[{k}]", i, "create", "payment", str(tx.get("id")), tdata)
