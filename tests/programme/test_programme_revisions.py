"""Revisions: the current state is compiled from them; history; the frozen baseline; money."""

from __future__ import annotations

from decimal import Decimal

import pytest
from programme_support import PROGRAMME, project_revisions, rev

from qala.programme.money import InvalidMoney, grouped, parse_money
from qala.programme.revisions import (
    BaselineFrozen,
    DuplicateObject,
    RevisionRefused,
    UnknownObject,
    check,
    compile_programme,
    history,
)


def test_money_is_exact_decimal_and_floats_are_refused() -> None:
    assert parse_money("1 500 000,50") == Decimal("1500000.50")
    assert parse_money(29_890_000_000) == Decimal("29890000000.00")
    assert parse_money("0.1") + parse_money("0.2") == Decimal("0.30")
    with pytest.raises(InvalidMoney, match="floating-point"):
        parse_money(0.1)
    with pytest.raises(InvalidMoney, match="two decimal places"):
        parse_money(Decimal("1.005"))
    with pytest.raises(InvalidMoney):
        parse_money("12e3")
    assert grouped(Decimal("29890000000")) == "29 890 000 000.00 KZT"


def test_payments_add_up_exactly_in_tiyn() -> None:
    revs = project_revisions() + [
        rev(
            "create", "payment", f"T{i}", {"contract": "C1", "date": "2020-01-01", "amount": "0.10"}
        )
        for i in range(3)
    ]
    state = compile_programme(PROGRAMME, revs)
    assert sum(p.amount for p in state.payments.values()) == Decimal("0.30")


def test_state_is_compiled_from_revisions_and_a_modification_keeps_old_and_new_values() -> None:
    revs = [
        *project_revisions(),
        rev(
            "modify",
            "contract",
            "C1",
            {"type": "value", "newValue": "900000000", "rationale": "more poles"},
            document="supplementary agreement 1",
        ),
    ]
    state = compile_programme(PROGRAMME, revs)
    contract = state.contracts["C1"]
    assert contract.value == Decimal("900000000.00")
    (mod,) = contract.modifications
    assert (mod.old_value, mod.new_value) == (Decimal("800000000.00"), Decimal("900000000.00"))
    assert mod.rationale == "more poles" and mod.document == "supplementary agreement 1"
    assert mod.revision == len(revs)


def test_history_lists_every_change_of_a_field_with_who_when_why_and_document() -> None:
    revs = [
        *project_revisions(),
        rev(
            "update",
            "milestone",
            "M1",
            {"dueDate": "2022-12-31"},
            actor="akimat",
            reason="controllers late",
            document="agreement 2",
        ),
        rev(
            "update",
            "milestone",
            "M1",
            {"dueDate": "2023-12-31"},
            actor="akimat",
            reason="moved again",
            document="agreement 3",
        ),
    ]
    changes = history(PROGRAMME, revs, kind="milestone", target="M1", field_name="dueDate")
    assert [(c.old, c.new) for c in changes] == [
        (None, "2020-12-31"),
        ("2020-12-31", "2022-12-31"),
        ("2022-12-31", "2023-12-31"),
    ]
    assert [c.document for c in changes[1:]] == ["agreement 2", "agreement 3"]
    assert changes[2].reason == "moved again" and changes[2].revision == len(revs)


def test_the_baseline_is_frozen_once_implementation_started() -> None:
    revs = project_revisions(status="implementation")
    with pytest.raises(BaselineFrozen, match="baseline budget is frozen"):
        check(PROGRAMME, revs, [rev("update", "project", "P1", {"budget": "2000000000"})])
    with pytest.raises(BaselineFrozen, match="period"):
        check(
            PROGRAMME,
            revs,
            [
                rev(
                    "update",
                    "project",
                    "P1",
                    {"period": {"startDate": "2019-01-01", "endDate": "2023-12-31"}},
                )
            ],
        )


def test_the_baseline_may_change_before_implementation() -> None:
    revs = [
        *project_revisions(status="preparation"),
        rev("update", "project", "P1", {"budget": "2000000000", "status": "implementation"}),
    ]
    state = compile_programme(PROGRAMME, revs)
    assert state.projects["P1"].budget == Decimal("2000000000.00")
    assert state.projects["P1"].implementation_started_by == len(revs)
    with pytest.raises(BaselineFrozen):
        check(PROGRAMME, revs, [rev("update", "project", "P1", {"budget": "3000000000"})])


def test_a_contract_value_changes_only_through_a_modification() -> None:
    with pytest.raises(RevisionRefused, match="modification"):
        check(
            PROGRAMME,
            project_revisions(),
            [rev("update", "contract", "C1", {"value": "900000000"})],
        )


def test_references_must_exist_and_ids_are_unique() -> None:
    revs = project_revisions()
    with pytest.raises(UnknownObject, match="contract 'C9'"):
        check(
            PROGRAMME,
            revs,
            [
                rev(
                    "create",
                    "payment",
                    "T1",
                    {"contract": "C9", "date": "2020-01-01", "amount": "1"},
                )
            ],
        )
    with pytest.raises(DuplicateObject):
        check(PROGRAMME, revs, [rev("create", "contract", "C1", {})])
    with pytest.raises(RevisionRefused, match="fixed"):
        check(PROGRAMME, revs, [rev("update", "project", "P1", {"tenant": "almaty"})])


def test_a_revision_says_who_and_why() -> None:
    with pytest.raises(RevisionRefused, match="why"):
        check(PROGRAMME, [], [rev("update", "programme", PROGRAMME, {"title": "x"}, reason=" ")])
