"""Import: CSV and XLSX tables, OCDS release packages and OC4IDS project packages.

Every import is all-or-nothing. Tables are read row by row into revisions, which are applied,
in order, on top of the programme's current state; any problem — a missing column, an empty
required cell, an amount that is not exact tenge, a date that is not a date, a reference to
nothing, a duplicate id, a change the rules refuse (a frozen baseline, a contract value changed
without a modification) — becomes a :class:`RowError` (sheet, row, column, reason), and if there
is any, :class:`ImportFailed` lists them all and nothing is imported.

Tables (one CSV file per sheet, or one XLSX workbook with these sheet names). Lists inside a
cell are separated by ``;``. Rows are numbered as in a spreadsheet: the header is row 1.

* ``projects``: id, tenant, title, description, sector, status, startDate, endDate, budget
* ``budget``: project, id, year, source, amount (the project's budgetBreakdown)
* ``indicators``: project, id, name, unit, baseline, target, baselineDate, targetDate
* ``contracts``: id, project, title, contractor, contractorId, value, startDate, endDate,
  scope, status
* ``deliverables``: id, project, title, type, q, count, freshWithin, areas, minShare
* ``milestones``: id, contract, title, dueDate, status, dateMet, deliverables
* ``payments``: id, contract, project, date, amount, payer, payee, document, milestone

A row whose id exists already updates the fields its non-empty cells give.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from qala.hub.errors import BadRequestData, HubError
from qala.programme import fields as f
from qala.programme.money import InvalidMoney, money_text, parse_money, parse_value
from qala.programme.revisions import Compiler, Revision, compiler_for


@dataclass(frozen=True, slots=True)
class RowError:
    sheet: str
    row: int
    column: str | None
    reason: str


class ImportFailed(BadRequestData):
    """Nothing was imported; ``errors`` says where and why."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        lines = [
            f"{e.sheet} row {e.row}"
            + (f", column {e.column}" if e.column else "")
            + f": {e.reason}"
            for e in errors
        ]
        super().__init__(
            f"nothing was imported: {len(errors)} error(s)\n" + "\n".join(lines),
            errors=[_err(e) for e in errors],
        )
        self.errors = list(errors)


def _err(e: RowError) -> dict[str, Any]:
    return {"sheet": e.sheet, "row": e.row, "column": e.column, "reason": e.reason}


class _CellError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


# -- cells ------------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _c_text(value: Any) -> str:
    if isinstance(value, float):
        raise _CellError("must be text, not a floating-point number")
    return str(value).strip()


def _c_money(value: Any) -> str:
    try:
        return money_text(parse_money(value.strip() if isinstance(value, str) else value))
    except InvalidMoney as exc:
        raise _CellError(exc.detail) from None


def _c_date(value: Any) -> str:
    try:
        return f.parse_date(value, "date").isoformat()
    except f.InvalidField as exc:
        raise _CellError(exc.reason) from None


def _c_int(value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise _CellError("must be a whole number")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise _CellError(f"{value!r} is not a whole number")
    return int(text)


def _c_number(value: Any) -> str:
    if isinstance(value, float):
        raise _CellError("must be written as text or an integer, not a floating-point number")
    try:
        return str(f.number(value, "value"))
    except f.InvalidField as exc:
        raise _CellError(exc.reason) from None


def _c_list(value: Any) -> list[str]:
    return [part.strip() for part in str(value).split(";") if part.strip()]


@dataclass(frozen=True, slots=True)
class Col:
    name: str
    parse: Callable[[Any], Any] = _c_text
    required: bool = False


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    columns: tuple[Col, ...]
    #: revision field name -> column (for errors found when the revision is applied)
    field_columns: Mapping[str, str] = field(default_factory=dict)

    def column(self, name: str) -> Col | None:
        return next((c for c in self.columns if c.name == name), None)


SHEETS: dict[str, Sheet] = {
    s.name: s
    for s in (
        Sheet(
            "projects",
            (
                Col("id", required=True),
                Col("tenant", required=True),
                Col("title", required=True),
                Col("description"),
                Col("sector", _c_list),
                Col("status"),
                Col("startDate", _c_date),
                Col("endDate", _c_date),
                Col("budget", _c_money),
            ),
            {
                "period": "startDate",
                "period.startDate": "startDate",
                "period.endDate": "endDate",
                "budgetBreakdown": "budget",
            },
        ),
        Sheet(
            "budget",
            (
                Col("project", required=True),
                Col("id"),
                Col("year", _c_int, required=True),
                Col("source", required=True),
                Col("amount", _c_money, required=True),
            ),
            {"budgetBreakdown": "amount", "id": "project"},
        ),
        Sheet(
            "indicators",
            (
                Col("project", required=True),
                Col("id", required=True),
                Col("name", required=True),
                Col("unit"),
                Col("baseline", _c_number, required=True),
                Col("target", _c_number, required=True),
                Col("baselineDate", _c_date),
                Col("targetDate", _c_date),
            ),
            {"indicators": "id", "id": "project"},
        ),
        Sheet(
            "contracts",
            (
                Col("id", required=True),
                Col("project", required=True),
                Col("title", required=True),
                Col("contractor", required=True),
                Col("contractorId"),
                Col("value", _c_money, required=True),
                Col("startDate", _c_date),
                Col("endDate", _c_date),
                Col("scope"),
                Col("status"),
            ),
            {
                "period": "endDate",
                "period.startDate": "startDate",
                "period.endDate": "endDate",
                "contractor.name": "contractor",
            },
        ),
        Sheet(
            "deliverables",
            (
                Col("id", required=True),
                Col("project", required=True),
                Col("title", required=True),
                Col("type", required=True),
                Col("q"),
                Col("count", _c_int, required=True),
                Col("freshWithin", required=True),
                Col("areas", _c_list),
                Col("minShare"),
            ),
            {"coverage": "areas", "coverage.areas": "areas", "coverage.minShare": "minShare"},
        ),
        Sheet(
            "milestones",
            (
                Col("id", required=True),
                Col("contract", required=True),
                Col("title", required=True),
                Col("dueDate", _c_date),
                Col("status"),
                Col("dateMet", _c_date),
                Col("deliverables", _c_list),
            ),
        ),
        Sheet(
            "payments",
            (
                Col("id", required=True),
                Col("contract"),
                Col("project"),
                Col("date", _c_date, required=True),
                Col("amount", _c_money, required=True),
                Col("payer"),
                Col("payee"),
                Col("document"),
                Col("milestone"),
            ),
            {"payer.name": "payer", "payee.name": "payee"},
        ),
    )
}
#: The order sheets are applied in (a row may refer to rows of earlier sheets).
ORDER = ("projects", "budget", "indicators", "contracts", "deliverables", "milestones", "payments")


# -- readers ----------------------------------------------------------------------------------


Table = list[tuple[int, dict[str, Any]]]  # (spreadsheet row number, cells by column)


def read_csv(data: bytes | str) -> tuple[list[str], Table]:
    """A CSV file's header and rows (UTF-8, with or without BOM; ``,`` or ``;`` separated)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows = list(reader)
    if not rows:
        return [], []
    header = [h.strip() for h in rows[0]]
    table = [
        (n, dict(zip(header, cells, strict=False)))
        for n, cells in enumerate(rows[1:], start=2)
        if any(c.strip() for c in cells)
    ]
    return header, table


def read_xlsx(data: bytes) -> dict[str, tuple[list[str], Table]]:
    """Every sheet of an XLSX workbook: header and rows, cell values as openpyxl reads them."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ImportFailed(
            [RowError("(workbook)", 0, None, f"not an XLSX workbook: {exc}")]
        ) from None
    sheets = {}
    try:
        for ws in book.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            if not rows:
                sheets[ws.title] = ([], [])
                continue
            header = ["" if h is None else str(h).strip() for h in rows[0]]
            table = [
                (n, {h: v for h, v in zip(header, cells, strict=False) if h})
                for n, cells in enumerate(rows[1:], start=2)
                if any(not _blank(v) for v in cells)
            ]
            sheets[ws.title] = (header, table)
    finally:
        book.close()
    return sheets


# -- tables -> revisions ----------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    sheet: str
    row: int
    revision: Revision


def import_tables(
    programme: str,
    existing: Sequence[Revision],
    tables: Mapping[str, tuple[list[str], Table]],
    *,
    actor: str,
    reason: str,
    at: datetime,
    document: str | None = None,
) -> list[Revision]:
    """The revisions that import ``tables`` (sheet name -> header and rows), checked against
    the current state; raises :class:`ImportFailed` with every error found."""
    errors: list[RowError] = []
    for name in tables:
        if name not in SHEETS:
            errors.append(
                RowError(name, 1, None, f"unknown sheet; expected one of {', '.join(ORDER)}")
            )
    parsed: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for name in ORDER:
        if name not in tables:
            continue
        header, rows = tables[name]
        sheet = SHEETS[name]
        for col in sheet.columns:
            if col.required and col.name not in header:
                errors.append(RowError(name, 1, col.name, "required column is missing"))
        for h in header:
            if h and sheet.column(h) is None:
                errors.append(RowError(name, 1, h, "unknown column"))
        good = []
        seen: dict[str, int] = {}
        for number, cells in rows:
            values: dict[str, Any] = {}
            ok = True
            for col in sheet.columns:
                raw = cells.get(col.name)
                if _blank(raw):
                    if col.required and col.name in header:
                        errors.append(RowError(name, number, col.name, "required value is empty"))
                        ok = False
                    continue
                try:
                    values[col.name] = col.parse(raw)
                except _CellError as exc:
                    errors.append(RowError(name, number, col.name, exc.reason))
                    ok = False
            key = _row_key(name, values)
            if key is not None and key in seen:
                errors.append(
                    RowError(name, number, "id", f"the same id is on row {seen[key]} already")
                )
                ok = False
            elif key is not None:
                seen[key] = number
            if ok:
                good.append((number, values))
        parsed[name] = good
    if errors:
        raise ImportFailed(errors)

    compiler = compiler_for(programme, existing)
    pending = _to_revisions(compiler, parsed, actor, reason, at, document)
    for item in pending:
        try:
            compiler.apply(item.revision)
        except HubError as exc:
            errors.append(_locate(item, exc))
    if errors:
        raise ImportFailed(errors)
    return [item.revision for item in pending]


def _row_key(sheet: str, values: dict[str, Any]) -> str | None:
    if sheet == "budget":
        return None if "id" not in values else f"{values.get('project')}/{values['id']}"
    if sheet == "indicators":
        return f"{values.get('project')}/{values.get('id')}"
    return values.get("id")


def _locate(item: _Pending, exc: HubError) -> RowError:
    sheet = SHEETS[item.sheet]
    name = getattr(exc, "field", None) or exc.extra.get("field")
    column = None
    if name:
        column = sheet.field_columns.get(name) or sheet.field_columns.get(name.split(".")[0])
        if column is None:
            column = name if sheet.column(name) else None
    return RowError(item.sheet, item.row, column, exc.detail)


def _period(values: dict[str, Any]) -> dict[str, Any] | None:
    out = {k: values[k] for k in ("startDate", "endDate") if k in values}
    return out or None


def _to_revisions(
    compiler: Compiler,
    parsed: dict[str, list[tuple[int, dict[str, Any]]]],
    actor: str,
    reason: str,
    at: datetime,
    document: str | None,
) -> list[_Pending]:
    out: list[_Pending] = []
    raw = compiler.raw

    def add(sheet: str, row: int, kind: str, target: str, data: dict[str, Any]) -> None:
        current = raw[kind].get(target)
        if current is None:
            out.append(
                _Pending(
                    sheet, row, Revision("create", kind, target, data, actor, reason, at, document)
                )
            )
            return
        changed = {k: v for k, v in data.items() if current.get(k) != v}
        if changed:
            out.append(
                _Pending(
                    sheet,
                    row,
                    Revision("update", kind, target, changed, actor, reason, at, document),
                )
            )

    created_projects: dict[str, dict[str, Any]] = {}
    for row, v in parsed.get("projects", []):
        data = {
            k: v[k]
            for k in ("tenant", "title", "description", "sector", "status", "budget")
            if k in v
        }
        if _period(v):
            data["period"] = _period(v)
        add("projects", row, "project", v["id"], data)
        created_projects[v["id"]] = data
    lines: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for row, v in parsed.get("budget", []):
        lines.setdefault(v["project"], []).append((row, v))
    for project, items in lines.items():
        breakdown = [
            {
                "id": v.get("id", f"{v['year']}-{i + 1}"),
                "year": v["year"],
                "source": v["source"],
                "amount": v["amount"],
            }
            for i, (_, v) in enumerate(items)
        ]
        add("budget", items[0][0], "project", project, {"budgetBreakdown": breakdown})
    indicators: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for row, v in parsed.get("indicators", []):
        indicators.setdefault(v["project"], []).append((row, v))
    for project, items in indicators.items():
        listed = [{k: val for k, val in v.items() if k != "project"} for _, v in items]
        add("indicators", items[0][0], "project", project, {"indicators": listed})
    for row, v in parsed.get("contracts", []):
        data = {k: v[k] for k in ("project", "title", "value", "scope", "status") if k in v}
        data["contractor"] = {"name": v["contractor"]} | (
            {"id": v["contractorId"]} if "contractorId" in v else {}
        )
        if _period(v):
            data["period"] = _period(v)
        add("contracts", row, "contract", v["id"], data)
    for row, v in parsed.get("deliverables", []):
        data = {
            k: v[k] for k in ("project", "title", "type", "q", "count", "freshWithin") if k in v
        }
        if "areas" in v or "minShare" in v:
            data["coverage"] = {"areas": v.get("areas", []), "minShare": v.get("minShare")}
        add("deliverables", row, "deliverable", v["id"], data)
    for row, v in parsed.get("milestones", []):
        data = {
            k: v[k]
            for k in ("contract", "title", "dueDate", "status", "dateMet", "deliverables")
            if k in v
        }
        add("milestones", row, "milestone", v["id"], data)
    for row, v in parsed.get("payments", []):
        data = {
            k: v[k]
            for k in ("contract", "project", "date", "amount", "document", "milestone")
            if k in v
        }
        for party in ("payer", "payee"):
            if party in v:
                data[party] = {"name": v[party]}
        add("payments", row, "payment", v["id"], data)
    return out


def import_csv(
    programme: str,
    existing: Sequence[Revision],
    files: Mapping[str, bytes | str],
    **who: Any,
) -> list[Revision]:
    """Import CSV files, keyed by sheet name (``projects``, ``contracts``…)."""
    return import_tables(
        programme, existing, {name: read_csv(data) for name, data in files.items()}, **who
    )


def import_xlsx(
    programme: str, existing: Sequence[Revision], data: bytes, **who: Any
) -> list[Revision]:
    """Import an XLSX workbook whose sheets are named after the tables."""
    return import_tables(programme, existing, read_xlsx(data), **who)


# -- JSON packages ----------------------------------------------------------------------------


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
        raise _CellError(exc.detail) from None


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
            except _CellError as exc:
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
        except _CellError as exc:
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
