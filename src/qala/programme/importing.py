"""Import of CSV and XLSX tables (OCDS and OC4IDS packages: :mod:`qala.programme.packages`).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qala.hub.errors import BadRequestData, HubError
from qala.programme import fields as f
from qala.programme.money import InvalidMoney, money_text, parse_money
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


class CellError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


# -- cells ------------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _c_text(value: Any) -> str:
    if isinstance(value, float):
        raise CellError("must be text, not a floating-point number")
    return str(value).strip()


def _c_money(value: Any) -> str:
    try:
        return money_text(parse_money(value.strip() if isinstance(value, str) else value))
    except InvalidMoney as exc:
        raise CellError(exc.detail) from None


def _c_date(value: Any) -> str:
    try:
        return f.parse_date(value, "date").isoformat()
    except f.InvalidField as exc:
        raise CellError(exc.reason) from None


def _c_int(value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise CellError("must be a whole number")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise CellError(f"{value!r} is not a whole number")
    return int(text)


def _c_number(value: Any) -> str:
    if isinstance(value, float):
        raise CellError("must be written as text or an integer, not a floating-point number")
    try:
        return str(f.number(value, "value"))
    except f.InvalidField as exc:
        raise CellError(exc.reason) from None


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
                except CellError as exc:
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
