"""Export: OC4IDS 0.9 project packages, CSV tables, and the audit report (Markdown, HTML).

The OC4IDS package validates against the published OC4IDS 0.9.4 project package schema; amounts
are written as exact JSON numbers (``1500000.50``), never through floats, by :func:`dumps`.
Deliverables and evaluations have no place in OC4IDS: the project's ``metrics`` carry the
physical and financial progress (OC4IDS metric ids ``physicalProgress`` and
``financialProgress``) as observations.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from qala.programme import model as m
from qala.programme.audit import RULES, SOURCES, Flag
from qala.programme.money import CURRENCY, grouped, money_text
from qala.programme.progress import Progress, project_progress
from qala.programme.verify import Evaluation

OC4IDS_VERSION = "0.9"
_CITY_NAMES = {
    "astana": "Astana",
    "almaty": "Almaty",
    "shymkent": "Shymkent",
    "aktobe": "Aktobe",
    "karaganda": "Karaganda",
}


def _dt(day: date) -> str:
    return f"{day.isoformat()}T00:00:00+05:00"


def _value(amount: Decimal) -> dict[str, Any]:
    return {"amount": amount, "currency": CURRENCY}


def _period(p: m.Period) -> dict[str, Any] | None:
    out = {}
    if p.start:
        out["startDate"] = _dt(p.start)
    if p.end:
        out["endDate"] = _dt(p.end)
    if p.start and p.end:
        out["durationInDays"] = (p.end - p.start).days
    return out or None


def _org(o: m.Organization) -> dict[str, Any]:
    return {"name": o.name} | ({"id": o.id} if o.id else {})


def _party_id(o: m.Organization) -> str:
    return o.id or o.name


def oc4ids_project(
    p: m.Programme, project: m.Project, evaluations: Sequence[Evaluation], on: date
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": project.id, "title": project.title}
    if project.description:
        out["description"] = project.description
    out["status"] = project.status
    if project.sector:
        out["sector"] = list(project.sector)
    period = _period(project.period)
    if period:
        out["period"] = period
    city = _CITY_NAMES.get(project.tenant, project.tenant)
    out["locations"] = [
        {
            "id": "1",
            "description": city,
            "address": {"locality": project.tenant, "countryName": "Kazakhstan"},
        }
    ]
    budget: dict[str, Any] = {}
    if project.budget is not None:
        budget["amount"] = _value(project.budget)
    if project.budget_breakdown:
        budget["budgetBreakdowns"] = [
            {
                "id": "by-year-and-source",
                "description": "Budget by year and source",
                "budgetBreakdown": [
                    {
                        "id": line.id,
                        "description": f"{line.source}, {line.year}",
                        "amount": _value(line.amount),
                        "period": {
                            "startDate": _dt(date(line.year, 1, 1)),
                            "endDate": _dt(date(line.year, 12, 31)),
                        },
                        "sourceParty": {"name": line.source, "id": line.source},
                    }
                    for line in project.budget_breakdown
                ],
            }
        ]
    if budget:
        out["budget"] = budget
    parties: dict[str, dict[str, Any]] = {}
    processes = []
    for contract in sorted(p.contracts_of(project.id), key=lambda c: c.id):
        parties.setdefault(
            _party_id(contract.contractor),
            {
                "id": _party_id(contract.contractor),
                "name": contract.contractor.name,
                "roles": ["supplier"],
            },
        )
        summary: dict[str, Any] = {
            "title": contract.title,
            "status": contract.status,
            "suppliers": [{"id": _party_id(contract.contractor), "name": contract.contractor.name}],
            "contractValue": _value(contract.value),
        }
        if contract.scope:
            summary["description"] = contract.scope
        cperiod = _period(contract.period)
        if cperiod:
            summary["contractPeriod"] = cperiod
        if contract.final_value is not None:
            summary["finalValue"] = _value(contract.final_value)
        mods = []
        for mod in contract.modifications:
            entry: dict[str, Any] = {"id": mod.id, "type": mod.type, "rationale": mod.rationale}
            if mod.date:
                entry["date"] = _dt(mod.date)
            if mod.old_value is not None and mod.new_value is not None:
                entry["oldContractValue"] = _value(mod.old_value)
                entry["newContractValue"] = _value(mod.new_value)
            if mod.old_period is not None and mod.new_period is not None:
                old, new = _period(mod.old_period), _period(mod.new_period)
                if old:
                    entry["oldContractPeriod"] = old
                if new:
                    entry["newContractPeriod"] = new
            if mod.new_scope is not None:
                entry["description"] = mod.new_scope
            mods.append(entry)
        if mods:
            summary["modifications"] = mods
        milestones = []
        for ms in sorted(p.milestones_of(contract.id), key=lambda x: x.id):
            entry = {"id": ms.id, "title": ms.title, "status": ms.status}
            if ms.due_date:
                entry["dueDate"] = _dt(ms.due_date)
            if ms.date_met:
                entry["dateMet"] = _dt(ms.date_met)
            milestones.append(entry)
        if milestones:
            summary["milestones"] = milestones
        txs = []
        for pay in sorted(p.payments_of_contract(contract.id), key=lambda x: x.id):
            tx: dict[str, Any] = {"id": pay.id, "date": _dt(pay.date), "value": _value(pay.amount)}
            if pay.payer:
                tx["payer"] = _org(pay.payer)
            if pay.payee:
                tx["payee"] = _org(pay.payee)
            if pay.document:
                tx["uri"] = pay.document
            if pay.milestone:
                tx["relatedImplementationMilestone"] = {
                    "id": pay.milestone,
                    "title": p.milestones[pay.milestone].title,
                }
            txs.append(tx)
        if txs:
            summary["transactions"] = txs
        processes.append({"id": contract.id, "summary": summary})
    if processes:
        out["contractingProcesses"] = processes
    loose = [pay for pay in p.payments_of(project.id) if pay.contract is None]
    if loose:
        out["transactions"] = [
            {"id": pay.id, "date": _dt(pay.date), "value": _value(pay.amount)}
            | ({"uri": pay.document} if pay.document else {})
            for pay in sorted(loose, key=lambda x: x.id)
        ]
    if parties:
        out["parties"] = sorted(parties.values(), key=lambda x: x["id"])
    progress = project_progress(p, project.id, evaluations, on)
    metrics = []
    for mid, title, value in (
        ("physicalProgress", "Physical progress (verified by the hub's data)", progress.physical),
        ("financialProgress", "Financial progress (paid / contracted)", progress.financial),
    ):
        if value is not None:
            metrics.append(
                {
                    "id": mid,
                    "title": title,
                    "observations": [
                        {
                            "id": f"{mid}-{on.isoformat()}",
                            "period": {"startDate": _dt(on), "endDate": _dt(on)},
                            "measure": (value * 100).quantize(Decimal("0.01")),
                            "unit": {"name": "percent"},
                        }
                    ],
                }
            )
    if metrics:
        out["metrics"] = metrics
    if project.related_projects:
        out["relatedProjects"] = [
            {"id": rid, "scheme": "oc4ids", "identifier": rid} for rid in project.related_projects
        ]
    if project.completion is not None:
        comp: dict[str, Any] = {}
        c = project.completion
        if c.end_date:
            comp["endDate"] = _dt(c.end_date)
        if c.end_date_details:
            comp["endDateDetails"] = c.end_date_details
        if c.final_value is not None:
            comp["finalValue"] = _value(c.final_value)
        if c.final_value_details:
            comp["finalValueDetails"] = c.final_value_details
        if comp:
            out["completion"] = comp
    return out


def oc4ids_package(
    p: m.Programme,
    evaluations: Sequence[Evaluation] = (),
    *,
    published: datetime,
    uri: str,
    publisher: str = "Qala programme monitor",
    tenant: str | None = None,
) -> dict[str, Any]:
    """An OC4IDS project package of the programme's projects (or one city's)."""
    on = published.astimezone(UTC).date()
    projects = [
        oc4ids_project(p, project, evaluations, on)
        for project in sorted(p.projects.values(), key=lambda x: x.id)
        if tenant is None or project.tenant == tenant
    ]
    return {
        "uri": uri,
        "version": OC4IDS_VERSION,
        "publishedDate": published.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "publisher": {"name": publisher},
        "projects": projects,
    }


def dumps(value: Any, indent: int = 2) -> str:
    """JSON text with ``Decimal`` written as exact numbers."""

    def enc(v: Any, level: int) -> str:
        pad, inner = " " * (indent * level), " " * (indent * (level + 1))
        if isinstance(v, dict):
            if not v:
                return "{}"
            items = [f"{inner}{enc(str(k), 0)}: {enc(x, level + 1)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + f"\n{pad}}}"
        if isinstance(v, (list, tuple)):
            if not v:
                return "[]"
            return "[\n" + ",\n".join(f"{inner}{enc(x, level + 1)}" for x in v) + f"\n{pad}]"
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, float):
            raise TypeError("floats have no place in programme exports")
        return json.dumps(v, ensure_ascii=False)

    return enc(value, 0) + "\n"


# -- CSV --------------------------------------------------------------------------------------


def to_csv(p: m.Programme, sheet: str) -> str:
    """One table in the import format (so an export imports back)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def d(day: date | None) -> str:
        return day.isoformat() if day else ""

    if sheet == "projects":
        w.writerow(
            [
                "id",
                "tenant",
                "title",
                "description",
                "sector",
                "status",
                "startDate",
                "endDate",
                "budget",
            ]
        )
        for x in sorted(p.projects.values(), key=lambda x: x.id):
            w.writerow(
                [
                    x.id,
                    x.tenant,
                    x.title,
                    x.description,
                    ";".join(x.sector),
                    x.status,
                    d(x.period.start),
                    d(x.period.end),
                    money_text(x.budget) if x.budget is not None else "",
                ]
            )
    elif sheet == "contracts":
        w.writerow(
            [
                "id",
                "project",
                "title",
                "contractor",
                "contractorId",
                "value",
                "startDate",
                "endDate",
                "scope",
                "status",
            ]
        )
        for c in sorted(p.contracts.values(), key=lambda x: x.id):
            w.writerow(
                [
                    c.id,
                    c.project,
                    c.title,
                    c.contractor.name,
                    c.contractor.id or "",
                    money_text(c.value),
                    d(c.period.start),
                    d(c.period.end),
                    c.scope,
                    c.status,
                ]
            )
    elif sheet == "payments":
        w.writerow(
            [
                "id",
                "contract",
                "project",
                "date",
                "amount",
                "payer",
                "payee",
                "document",
                "milestone",
            ]
        )
        for x in sorted(p.payments.values(), key=lambda x: x.id):
            w.writerow(
                [
                    x.id,
                    x.contract or "",
                    x.project,
                    d(x.date),
                    money_text(x.amount),
                    x.payer.name if x.payer else "",
                    x.payee.name if x.payee else "",
                    x.document or "",
                    x.milestone or "",
                ]
            )
    elif sheet == "milestones":
        w.writerow(["id", "contract", "title", "dueDate", "status", "dateMet", "deliverables"])
        for ms in sorted(p.milestones.values(), key=lambda x: x.id):
            w.writerow(
                [
                    ms.id,
                    ms.contract,
                    ms.title,
                    d(ms.due_date),
                    ms.status,
                    d(ms.date_met),
                    ";".join(ms.deliverables),
                ]
            )
    else:
        raise ValueError(f"no CSV export for {sheet!r}: projects, contracts, payments, milestones")
    return buf.getvalue()


def flags_csv(flags: Sequence[Flag]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "severity",
            "rule",
            "version",
            "source",
            "tenant",
            "project",
            "subject",
            "message",
            "explained",
            "explanation",
        ]
    )
    for f in flags:
        w.writerow(
            [
                f.severity,
                f.rule,
                f.version,
                f.source,
                f.tenant,
                f.project,
                f.subject,
                f.message,
                "yes" if f.explained else "no",
                f.explanation.reason if f.explanation else "",
            ]
        )
    return buf.getvalue()


# -- the audit report -------------------------------------------------------------------------


def _pct(v: Decimal | None) -> str:
    return "—" if v is None else f"{(v * 100).quantize(Decimal('0.1'))} %"


def _idx(v: Decimal | None) -> str:
    return "—" if v is None else str(v.quantize(Decimal("0.01")))


def _progress_rows(rows: Sequence[Progress]) -> list[list[str]]:
    return [
        [
            r.scope,
            grouped(r.contracted),
            grouped(r.paid),
            _pct(r.financial),
            _pct(r.physical),
            _idx(r.cpi),
            _idx(r.spi),
        ]
        for r in rows
    ]


_PROGRESS_HEAD = ["", "contracted", "paid", "financial", "physical (verified)", "CPI", "SPI"]


def _evidence_lines(evidence: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in evidence.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{key}:")
            lines += ["  - " + ", ".join(f"{k}={v}" for k, v in item.items()) for item in value]
        elif isinstance(value, dict):
            lines.append(f"{key}: " + ", ".join(f"{k}={v}" for k, v in value.items()))
        elif isinstance(value, list):
            lines.append(f"{key}: {', '.join(map(str, value)) or '—'}")
        else:
            lines.append(f"{key}: {value}")
    return lines


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell or line (no markup, no raw HTML)."""
    out = html.escape(str(text), quote=False)
    for ch in "\\`*_[]|#<>":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")


def report_markdown(
    p: m.Programme,
    flags: Sequence[Flag],
    projects: Sequence[Progress],
    cities: Sequence[Progress],
    at: datetime,
    not_evaluated: Mapping[str, str] | None = None,
) -> str:
    lines = [f"# Audit report: {_md(p.title or p.id)}", ""]
    lines.append(
        f"As of {at.astimezone(UTC).isoformat()}. Budget {grouped(p.budget)}."
        if p.budget is not None
        else f"As of {at.astimezone(UTC).isoformat()}."
    )
    if p.note:
        lines += ["", f"_{_md(p.note)}_"]
    lines += ["", "## Progress by city", ""]
    lines += _md_table(_PROGRESS_HEAD, _progress_rows(cities))
    lines += ["", "## Progress by project", ""]
    lines += _md_table(_PROGRESS_HEAD, _progress_rows(projects))
    open_flags = [f for f in flags if not f.explained]
    lines += [
        "",
        f"## Flags ({len(open_flags)} open, {len(flags) - len(open_flags)} explained)",
        "",
    ]
    for f in flags:
        rule = RULES[f.rule]
        lines.append(f"### [{f.severity}] {_md(rule.title)} — {_md(f.subject)}")
        lines.append("")
        lines.append(_md(f.message))
        lines.append("")
        lines.append(
            f"Rule `{f.rule}` v{f.version}, source: {_md(SOURCES[f.source])}. "
            f"City {_md(f.tenant)}, project {_md(f.project)}."
        )
        if f.explanation:
            e = f.explanation
            lines.append(f"Explained by {_md(e.actor)} on {e.at.date()}: {_md(e.reason)}")
        lines.append("")
        lines += [f"    {line}" for line in _evidence_lines(f.evidence)]
        lines.append("")
    if not_evaluated:
        lines += ["## Rules not evaluated", ""]
        for rule_id, why in sorted(not_evaluated.items()):
            lines.append(f"- `{rule_id}` ({_md(RULES[rule_id].title)}): {_md(why)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return out


def report_html(
    p: m.Programme,
    flags: Sequence[Flag],
    projects: Sequence[Progress],
    cities: Sequence[Progress],
    at: datetime,
    not_evaluated: Mapping[str, str] | None = None,
) -> str:
    e = html.escape
    title = e(p.title or p.id)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Audit report: {title}</title></head><body>",
        f"<h1>Audit report: {title}</h1>",
        f"<p>As of {e(at.astimezone(UTC).isoformat())}."
        + (f" Budget {e(grouped(p.budget))}." if p.budget is not None else "")
        + "</p>",
    ]
    if p.note:
        parts.append(f"<p><em>{e(p.note)}</em></p>")
    for heading, rows in (("Progress by city", cities), ("Progress by project", projects)):
        parts.append(
            f"<h2>{heading}</h2><table><thead><tr>"
            + "".join(f"<th>{e(h)}</th>" for h in _PROGRESS_HEAD)
            + "</tr></thead><tbody>"
        )
        for row in _progress_rows(rows):
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        parts.append("</tbody></table>")
    parts.append(f"<h2>Flags ({len(flags)})</h2>")
    for f in flags:
        rule = RULES[f.rule]
        parts.append(f'<section class="flag {e(f.severity)}">')
        parts.append(f"<h3>[{e(f.severity)}] {e(rule.title)} — {e(f.subject)}</h3>")
        parts.append(f"<p>{e(f.message)}</p>")
        parts.append(
            f"<p>Rule <code>{e(f.rule)}</code> v{f.version}, source: "
            f"{e(SOURCES[f.source])}. City {e(f.tenant)}, project {e(f.project)}.</p>"
        )
        if f.explanation:
            x = f.explanation
            parts.append(
                f"<p>Explained by {e(x.actor)} on {e(str(x.at.date()))}: {e(x.reason)}</p>"
            )
        parts.append("<pre>" + e("\n".join(_evidence_lines(f.evidence))) + "</pre></section>")
    if not_evaluated:
        parts.append("<h2>Rules not evaluated</h2><ul>")
        for rule_id, why in sorted(not_evaluated.items()):
            parts.append(
                f"<li><code>{e(rule_id)}</code> ({e(RULES[rule_id].title)}): {e(why)}</li>"
            )
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
