"""Every audit flag, firing and not firing, with its evidence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from programme_support import PROGRAMME, lights, memory, project_revisions, rev

from qala.programme import demo
from qala.programme.audit import RULES, AuditInput, Explanation, Flag, Thresholds, audit
from qala.programme.inputs import MemoryInputs, Reading
from qala.programme.revisions import Revision, compiler_for
from qala.programme.verify import evaluate, indicator_series, milestone_data_status

NOW = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)


def run(
    revs: list[Revision],
    inputs: MemoryInputs | None = None,
    times: tuple[datetime, ...] = (NOW,),
    thresholds: Thresholds | None = None,
    explanations: tuple[Explanation, ...] = (),
) -> list[Flag]:
    compiler = compiler_for(PROGRAMME, revs)
    inputs = inputs or memory(lights(100, reporting=100, at=NOW))
    evaluations = []
    for t in times:
        evaluations += asyncio.run(evaluate(compiler.state, inputs, t))
    series = asyncio.run(indicator_series(compiler.state, inputs, times[-1]))
    return audit(
        AuditInput(compiler.state, compiler.changes, evaluations, series, explanations),
        times[-1],
        thresholds,
    )


def rules(flags: list[Flag]) -> set[str]:
    return {f.rule for f in flags}


def met(day: str = "2020-12-01") -> Revision:
    return rev("update", "milestone", "M1", {"status": "met", "dateMet": day})


def pay(ident: str, amount: str, day: str = "2021-01-10", **extra: str) -> Revision:
    return rev(
        "create", "payment", ident, {"contract": "C1", "date": day, "amount": amount} | extra
    )


def test_a_delivered_paid_and_met_project_raises_no_flag() -> None:
    assert run([*project_revisions(), met(), pay("T1", "800000000", milestone="M1")]) == []


def test_milestone_overdue_fires_after_the_due_date_and_not_once_met() -> None:
    flags = run(project_revisions())
    (flag,) = [f for f in flags if f.rule == "milestone-overdue"]
    assert flag.evidence["dueDate"] == "2020-12-31" and flag.evidence["daysOverdue"] > 1000
    assert flag.severity == "high"
    assert "milestone-overdue" not in rules(run([*project_revisions(), met()]))
    late = Thresholds(overdue_grace_days=5000)
    assert "milestone-overdue" not in rules(run(project_revisions(), thresholds=late))


def test_deadline_moved_lists_every_move_with_its_revision() -> None:
    revs = [
        *project_revisions(),
        met(),
        rev("update", "milestone", "M1", {"dueDate": "2022-12-31"}, reason="late"),
        rev("update", "milestone", "M1", {"dueDate": "2023-12-31"}, reason="later"),
    ]
    (flag,) = [f for f in run(revs) if f.rule == "deadline-moved"]
    assert flag.evidence["count"] == 2 and flag.severity == "high"
    assert [m["new"] for m in flag.evidence["moves"]] == ["2022-12-31", "2023-12-31"]
    assert [m["revision"] for m in flag.evidence["moves"]] == [len(revs) - 1, len(revs)]
    assert "deadline-moved" not in rules(run([*project_revisions(), met()]))


def test_contract_value_increase_fires_on_a_raising_modification_only() -> None:
    up = rev(
        "modify",
        "contract",
        "C1",
        {"type": "value", "newValue": "900000000", "rationale": "more"},
        document="SA-1",
    )
    (flag,) = [
        f for f in run([*project_revisions(), met(), up]) if f.rule == "contract-value-increased"
    ]
    assert flag.evidence["increase"] == "100000000.00"
    assert flag.evidence["modifications"][0]["document"] == "SA-1"
    down = rev(
        "modify", "contract", "C1", {"type": "value", "newValue": "700000000", "rationale": "fewer"}
    )
    assert "contract-value-increased" not in rules(run([*project_revisions(), met(), down]))


def test_contracted_over_budget() -> None:
    flags = run([*project_revisions(budget="700000000"), met()])
    (flag,) = [f for f in flags if f.rule == "contracted-over-budget"]
    assert flag.evidence["excess"] == "100000000.00"
    assert "contracted-over-budget" not in rules(run([*project_revisions(), met()]))
    tolerant = Thresholds(budget_tolerance=Decimal("0.2"))
    assert "contracted-over-budget" not in rules(
        run([*project_revisions(budget="700000000"), met()], thresholds=tolerant)
    )


def test_paid_over_contracted() -> None:
    revs = [*project_revisions(), met(), pay("T1", "500000000"), pay("T2", "300000000.01")]
    (flag,) = [f for f in run(revs) if f.rule == "paid-over-contracted"]
    assert flag.evidence["excess"] == "0.01"
    assert "paid-over-contracted" not in rules(run(revs[:-1]))


def test_payment_before_its_milestone_was_met() -> None:
    early = [
        *project_revisions(),
        pay("T1", "100", day="2020-06-01", milestone="M1"),
        met("2020-12-01"),
    ]
    (flag,) = [f for f in run(early) if f.rule == "payment-before-milestone"]
    assert flag.evidence["payment"] == "T1" and flag.evidence["dateMet"] == "2020-12-01"
    on_time = [
        *project_revisions(),
        met("2020-12-01"),
        pay("T1", "100", day="2020-12-01", milestone="M1"),
    ]
    assert "payment-before-milestone" not in rules(run(on_time))


def test_paid_but_not_delivered_uses_configurable_shares() -> None:
    revs = [*project_revisions(), pay("T1", "600000000")]
    silent = memory(lights(100, reporting=20, at=NOW))
    (flag,) = [f for f in run(revs, silent) if f.rule == "paid-not-delivered"]
    assert flag.evidence["financialProgress"] == "75.00 %"
    assert flag.evidence["physicalProgress"] == "20.00 %"
    assert "paid-not-delivered" not in rules(run(revs))  # delivered
    strict = Thresholds(paid_share_min=Decimal("0.8"))
    assert "paid-not-delivered" not in rules(run(revs, silent, thresholds=strict))


def test_delivered_but_silent_when_entities_exist_but_do_not_report() -> None:
    quiet = memory(lights(100, reporting=10, at=NOW))
    (flag,) = [f for f in run(project_revisions(), quiet) if f.rule == "delivered-but-silent"]
    assert flag.evidence["matching"] == 100 and flag.evidence["reporting"] == 10
    assert flag.evidence["silentSample"][0] == "urn:ngsi-ld:Streetlight:astana:000010"
    few = memory(lights(30, reporting=10, at=NOW))  # not delivered at all: not "silent"
    assert "delivered-but-silent" not in rules(run(project_revisions(), few))


def test_delivered_but_silent_when_a_met_deliverable_regressed() -> None:
    then = datetime(2021, 6, 1, tzinfo=UTC)
    inputs = memory(lights(100, reporting=100, at=then))  # reported in 2021, not since
    compiler = compiler_for(PROGRAMME, [*project_revisions(), met()])
    evs = asyncio.run(evaluate(compiler.state, inputs, then))
    evs += asyncio.run(evaluate(compiler.state, inputs, NOW))
    status, _ = milestone_data_status(compiler.state.milestones["M1"], evs)
    assert status == "regressed"
    flags = audit(AuditInput(compiler.state, compiler.changes, evs), NOW)
    (flag,) = [f for f in flags if f.rule == "delivered-but-silent"]
    assert flag.evidence["firstMet"] == then.isoformat()


def test_claimed_but_not_in_the_data() -> None:
    none = memory(lights(5, reporting=5, at=NOW))
    (flag,) = [
        f for f in run([*project_revisions(), met()], none) if f.rule == "claimed-not-in-data"
    ]
    assert flag.evidence["evaluations"][0]["reporting"] == 5
    assert "claimed-not-in-data" not in rules(run([*project_revisions(), met()]))
    assert "claimed-not-in-data" not in rules(run(project_revisions(), none))  # not claimed


def _completed(readings: list[str]) -> tuple[list[Revision], MemoryInputs]:
    revs = [
        *project_revisions(),
        met(),
        rev(
            "update",
            "project",
            "P1",
            {
                "status": "completion",
                "completion": {"endDate": "2021-12-31"},
                "indicators": [
                    {"id": "42", "name": "Energy use", "baseline": "100", "target": "60"}
                ],
            },
        ),
    ]
    inputs = memory(lights(100, reporting=100, at=NOW))
    inputs.add_readings(
        "astana",
        "42",
        [Reading(datetime(2022, 6, 1 + i, tzinfo=UTC), Decimal(v)) for i, v in enumerate(readings)],
    )
    return revs, inputs


def test_no_movement_of_target_indicators_after_completion() -> None:
    revs, inputs = _completed(["99", "98"])
    (flag,) = [f for f in run(revs, inputs) if f.rule == "indicators-flat-after-completion"]
    assert flag.evidence["indicator"] == "42" and flag.evidence["moved"] == "5.00 %"
    revs, inputs = _completed(["90", "75"])
    assert "indicators-flat-after-completion" not in rules(run(revs, inputs))
    revs, inputs = _completed([])
    (flag,) = [f for f in run(revs, inputs) if f.rule == "indicators-flat-after-completion"]
    assert flag.evidence["readings"] == 0


def test_budget_spent_with_no_contract() -> None:
    loose = rev(
        "create", "payment", "T9", {"project": "P1", "date": "2019-02-01", "amount": "5000000"}
    )
    early = pay("T8", "100", day="2019-02-01")  # before the contract started (2019-03-01)
    (flag,) = [
        f
        for f in run([*project_revisions(), met(), loose, early])
        if f.rule == "spent-without-contract"
    ]
    assert flag.evidence["total"] == "5000100.00"
    assert {p["payment"] for p in flag.evidence["payments"]} == {"T8", "T9"}
    assert "spent-without-contract" not in rules(run([*project_revisions(), met(), pay("T1", "1")]))


def test_every_flag_carries_rule_version_source_and_an_explanation_is_kept() -> None:
    flags = run(project_revisions())
    for f in flags:
        assert f.version == RULES[f.rule].version and f.source == RULES[f.rule].source
    target = flags[0]
    notes = (
        Explanation(target.key, target.rule, 1, "auditor", "first look", NOW),
        Explanation(target.key, target.rule, 1, "auditor", "force majeure, act 7", NOW),
    )
    explained = run(project_revisions(), explanations=notes)
    same = next(f for f in explained if f.key == target.key)
    assert same.explanation is not None and same.explanation.reason == "force majeure, act 7"


def test_the_demo_programme_raises_every_kind_of_flag_with_evidence() -> None:
    d = demo.build()
    compiler = compiler_for(d.programme, d.revisions)
    evs = []
    for t in d.evaluation_times:
        evs += asyncio.run(evaluate(compiler.state, d.inputs, t))
    series = asyncio.run(indicator_series(compiler.state, d.inputs, d.now))
    flags = audit(AuditInput(compiler.state, compiler.changes, evs, series), d.now)
    assert rules(flags) == set(RULES)
    assert all(f.evidence for f in flags)
    state = compiler.state
    assert sum(p.budget for p in state.projects.values()) == demo.TOTAL == state.budget
    moved = next(f for f in flags if f.rule == "deadline-moved" and "SHY-LIGHT-M1" in f.subject)
    assert moved.evidence["to"] == "2023-12-31"
