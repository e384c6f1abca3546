"""Import (CSV, XLSX, OCDS, OC4IDS) with row-level errors, export validated against OC4IDS."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from openpyxl import Workbook
from programme_support import PROGRAMME, project_revisions, rev
from referencing import Registry, Resource

from qala.programme import demo
from qala.programme.audit import AuditInput, audit
from qala.programme.export import (
    dumps,
    flags_csv,
    oc4ids_package,
    report_html,
    report_markdown,
    to_csv,
)
from qala.programme.importing import ImportFailed, import_csv, import_xlsx
from qala.programme.packages import import_oc4ids, import_ocds, load_json
from qala.programme.progress import all_progress
from qala.programme.revisions import compile_programme, compiler_for
from qala.programme.verify import evaluate

DATA = Path(__file__).parent / "data"
WHO = {"actor": "auditor", "reason": "imported", "at": datetime(2024, 1, 1, tzinfo=UTC)}

PROJECTS = (
    "id,tenant,title,sector,status,startDate,endDate,budget\n"
    "P1,astana,Lights,energy,implementation,2019-01-01,2021-12-31,1000000000\n"
)
CONTRACTS = (
    "id,project,title,contractor,value,startDate,endDate\n"
    "C1,P1,Supply,Jaryq LLP,800000000.50,2019-03-01,2020-12-31\n"
)
PAYMENTS = "id,contract,date,amount,milestone\nT1,C1,2020-02-01,100000000,\n"


def errors(exc: pytest.ExceptionInfo[ImportFailed]) -> list[tuple[str, int, str | None]]:
    return [(e.sheet, e.row, e.column) for e in exc.value.errors]


def test_csv_import_creates_revisions_with_exact_amounts() -> None:
    revs = import_csv(
        PROGRAMME, [], {"projects": PROJECTS, "contracts": CONTRACTS, "payments": PAYMENTS}, **WHO
    )
    state = compile_programme(PROGRAMME, revs)
    assert state.contracts["C1"].value == Decimal("800000000.50")
    assert state.payments["T1"].project == "P1"
    assert [r.op for r in revs] == ["create"] * 3


def test_each_kind_of_row_error_is_reported_and_nothing_is_imported() -> None:
    bad_contracts = (
        "id,project,title,contractor,value,startDate,colour\n"  # unknown column
        "C1,P1,Supply,Jaryq,12.345,2019-03-01,red\n"  # money with three decimals
        "C2,P1,Supply,Jaryq,100,31/12/2020,\n"  # not a date
        "C2,P9,Supply,Jaryq,100,2019-03-01,\n"  # duplicate id
        "C3,P1,,Jaryq,100,2019-03-01,\n"  # empty required value
        "C4,P9,Supply,Jaryq,100,2019-03-01,\n"  # unknown reference
    )
    with pytest.raises(ImportFailed) as exc:
        import_csv(PROGRAMME, [], {"projects": PROJECTS, "contracts": bad_contracts}, **WHO)
    assert errors(exc) == [
        ("contracts", 1, "colour"),
        ("contracts", 2, "value"),
        ("contracts", 3, "startDate"),
        ("contracts", 4, "id"),
        ("contracts", 5, "title"),
    ]
    assert "three" not in exc.value.errors[1].reason  # says what to write instead
    assert "two decimal places" in exc.value.errors[1].reason


def test_missing_columns_unknown_sheets_and_references_are_row_errors() -> None:
    with pytest.raises(ImportFailed) as exc:
        import_csv(PROGRAMME, [], {"projects": "id,title\nP1,Lights\n", "budgets": "x\n1\n"}, **WHO)
    assert ("projects", 1, "tenant") in errors(exc) and ("budgets", 1, None) in errors(exc)
    with pytest.raises(ImportFailed) as exc:
        import_csv(
            PROGRAMME,
            [],
            {"projects": PROJECTS, "contracts": CONTRACTS.replace(",P1,", ",P9,")},
            **WHO,
        )
    assert errors(exc) == [("contracts", 2, "project")]
    assert "no project 'P9'" in exc.value.errors[0].reason


def test_an_import_that_breaks_a_rule_reports_the_row_and_column() -> None:
    existing = project_revisions()
    with pytest.raises(ImportFailed) as exc:
        import_csv(
            PROGRAMME,
            existing,
            {"projects": "id,tenant,title,budget\nP1,astana,Connected streetlights,5\n"},
            **WHO,
        )
    assert errors(exc) == [("projects", 2, "budget")]
    assert "frozen" in exc.value.errors[0].reason


def test_xlsx_import_reads_sheets_and_refuses_float_amounts() -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "projects"
    for row in (
        ["id", "tenant", "title", "budget", "startDate"],
        ["P1", "astana", "Lights", 1000000000, datetime(2019, 1, 1)],
    ):
        sheet.append(row)
    contracts = book.create_sheet("contracts")
    for row in (
        ["id", "project", "title", "contractor", "value", "startDate", "endDate"],
        ["C1", "P1", "Supply", "Jaryq", 0.1, "2019-03-01", datetime(2020, 12, 31)],
    ):
        contracts.append(row)
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(ImportFailed) as exc:
        import_xlsx(PROGRAMME, [], buf.getvalue(), **WHO)
    assert errors(exc) == [("contracts", 2, "value")]
    assert "floating-point" in exc.value.errors[0].reason
    contracts["E2"] = "800000000.50"
    buf = io.BytesIO()
    book.save(buf)
    state = compile_programme(PROGRAMME, import_xlsx(PROGRAMME, [], buf.getvalue(), **WHO))
    assert state.contracts["C1"].value == Decimal("800000000.50")
    assert str(state.projects["P1"].period.start) == "2019-01-01"


def test_ocds_release_package_import_turns_changed_values_into_modifications() -> None:
    existing = project_revisions()[:2]  # the programme and project P1
    package = load_json(
        json.dumps(
            {
                "releases": [
                    {
                        "id": "r1",
                        "date": "2019-03-01T00:00:00Z",
                        "planning": {"budget": {"projectID": "P1"}},
                        "awards": [
                            {"id": "A1", "suppliers": [{"id": "BIN1", "name": "Jaryq LLP"}]}
                        ],
                        "contracts": [
                            {
                                "id": "K1",
                                "awardID": "A1",
                                "title": "Lights",
                                "value": {"amount": 100.5, "currency": "KZT"},
                                "period": {
                                    "startDate": "2019-03-01T00:00:00+05:00",
                                    "endDate": "2020-12-31T00:00:00+05:00",
                                },
                            }
                        ],
                    },
                    {
                        "id": "r2",
                        "date": "2020-01-01T00:00:00Z",
                        "planning": {"budget": {"projectID": "P1"}},
                        "contracts": [
                            {
                                "id": "K1",
                                "value": {"amount": 150.25, "currency": "KZT"},
                                "amendments": [{"rationale": "more lights"}],
                                "implementation": {
                                    "milestones": [
                                        {
                                            "id": "KM1",
                                            "title": "Installed",
                                            "dueDate": "2020-06-30T00:00:00+05:00",
                                        }
                                    ],
                                    "transactions": [
                                        {
                                            "id": "KT1",
                                            "date": "2020-02-01T00:00:00Z",
                                            "value": {"amount": 50, "currency": "KZT"},
                                            "relatedImplementationMilestone": {"id": "KM1"},
                                        }
                                    ],
                                },
                            }
                        ],
                    },
                ]
            }
        )
    )
    revs = import_ocds(PROGRAMME, existing, package, **WHO)
    state = compile_programme(PROGRAMME, existing + revs)
    k1 = state.contracts["K1"]
    assert k1.value == Decimal("150.25") and k1.contractor.name == "Jaryq LLP"
    assert k1.modifications[0].old_value == Decimal("100.50")
    assert k1.modifications[0].rationale == "more lights"
    assert state.payments["KT1"].milestone == "KM1"


def test_ocds_import_refuses_other_currencies_and_float_amounts() -> None:
    existing = project_revisions()[:2]
    package = {
        "releases": [
            {
                "id": "r1",
                "date": "2019",
                "contracts": [{"id": "K1", "value": {"amount": "10", "currency": "USD"}}],
            }
        ]
    }
    with pytest.raises(ImportFailed, match="USD"):
        import_ocds(PROGRAMME, existing, package, project="P1", **WHO)
    package["releases"][0]["contracts"][0]["value"] = {"amount": 10.5, "currency": "KZT"}
    with pytest.raises(ImportFailed, match="floating-point"):
        import_ocds(PROGRAMME, existing, package, project="P1", **WHO)


def _validator() -> Draft4Validator:
    project = json.loads((DATA / "oc4ids-0.9.4-project-schema.json").read_text())
    package = json.loads((DATA / "oc4ids-0.9.4-project-package-schema.json").read_text())
    registry = Registry().with_resource(project["id"], Resource.from_contents(project))
    return Draft4Validator(package, registry=registry)


def _demo_package() -> tuple[dict, list]:
    d = demo.build()
    state = compile_programme(d.programme, d.revisions)
    evs = asyncio.run(evaluate(state, d.inputs, d.now))
    return oc4ids_package(state, evs, published=d.now, uri="https://example.kz/p.json"), evs


def test_the_oc4ids_export_of_the_demo_validates_against_the_published_schema() -> None:
    package, _ = _demo_package()
    parsed = json.loads(dumps(package), parse_float=Decimal)
    problems = sorted(_validator().iter_errors(parsed), key=lambda e: list(e.path))
    assert problems == []
    assert len(parsed["projects"]) == 10


def test_the_oc4ids_export_imports_back_with_the_same_money() -> None:
    package, _ = _demo_package()
    revs = import_oc4ids("copy", [], load_json(dumps(package)), **WHO)
    original = compile_programme(demo.PROGRAMME_ID, demo.revisions())
    copy = compile_programme("copy", revs)
    assert {c.id: c.value for c in copy.contracts.values()} == {
        c.id: c.value for c in original.contracts.values()
    }
    assert copy.contracts["ALM-TRAFFIC-C1"].modifications[0].old_value == Decimal("4500000000.00")
    assert sum(p.amount for p in copy.payments.values()) == sum(
        p.amount for p in original.payments.values()
    )
    assert copy.projects["AST-LIGHT"].tenant == "astana"


def test_csv_export_imports_back() -> None:
    state = compile_programme(
        PROGRAMME,
        [
            *project_revisions(),
            rev(
                "create",
                "payment",
                "T1",
                {"contract": "C1", "date": "2020-01-01", "amount": "0.01"},
            ),
        ],
    )
    files = {name: to_csv(state, name) for name in ("projects", "contracts", "payments")}
    again = compile_programme("copy", import_csv("copy", [], files, **WHO))
    assert again.payments["T1"].amount == Decimal("0.01")
    assert again.contracts["C1"].value == state.contracts["C1"].value


def test_the_audit_report_escapes_everything() -> None:
    hostile = "<script>alert(1)</script> | *x*"
    revs = [*project_revisions(), rev("update", "milestone", "M1", {"title": hostile})]
    compiler = compiler_for(PROGRAMME, revs)
    now = datetime(2024, 1, 1, tzinfo=UTC)
    flags = audit(AuditInput(compiler.state, compiler.changes), now)
    projects, cities = all_progress(compiler.state, [], now.date())
    page = report_html(compiler.state, flags, projects, cities, now)
    assert "<script>" not in page and "&lt;script&gt;" in page
    text = report_markdown(compiler.state, flags, projects, cities, now)
    assert "<script>" not in text and "\\|" in text
    assert "milestone-overdue" in flags_csv(flags)
