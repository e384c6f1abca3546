"""The SQL compiler: on SQLite and on PostgreSQL, the filter selects the entities the
evaluator matches (exactly, or a superset when it says it is inexact)."""

from __future__ import annotations

import re

import pytest
from ngsild_query_support import (
    CITY,
    EXPECTATIONS,
    PostgresRunner,
    SQLiteRunner,
    assert_agrees,
    evaluate,
    expand,
)

from qala.ngsild.query import compile_sql, parse_query

Runner = SQLiteRunner | PostgresRunner

INEXACT = {'status~="o.$"'}


@pytest.fixture
def city(runner: Runner) -> Runner:
    runner.load(CITY)
    return runner


@pytest.mark.parametrize(
    ("query", "expected", "rule"), EXPECTATIONS, ids=[q for q, _, _ in EXPECTATIONS]
)
def test_city_queries(city: Runner, query: str, expected: set[int], rule: str) -> None:
    assert evaluate(query, CITY) == expected, rule
    exact = assert_agrees(city, query, expected)
    assert exact == (query not in INEXACT)


def test_inexact_patterns_select_a_superset(city: Runner) -> None:
    selected, exact = city.select('status~="o.$"')
    assert not exact
    assert selected == {1, 2, 3, 4}  # every entity with a string status


@pytest.mark.parametrize(
    "query",
    ['status~="^warn"', 'status~="rr"', 'status!~="o"', 'name~="Центр"', r'status~="o\.k|x\(y"'],
)
def test_literal_patterns_are_exact(runner: Runner, query: str) -> None:
    runner.load(CITY)
    expected = evaluate(query, CITY)
    assert assert_agrees(runner, query, expected) is (query != r'status~="o\.k|x\(y"')


def test_sqlite_fast_path_for_single_instance_values() -> None:
    params: list[object] = []
    sql = compile_sql("pm25>50", expand, "sqlite", "e.data", lambda v: params.append(v) or "?").sql
    path = '\'$."https://smartdatamodels.org/dataModel.Environment/pm25"."value"\''
    fast = (
        f"(json_type(e.data, {path}) IN ('integer', 'real') AND json_extract(e.data, {path}) > ?)"
    )
    # The first thing tested is the plain comparison; arrays come after.
    assert sql.lstrip("(").startswith(fast.lstrip("("))
    assert params[0] == 50


def test_postgresql_fast_path_for_single_instance_values() -> None:
    sql = compile_sql("pm25>50", expand, "postgresql", "e.data", lambda v: "$1").sql
    member = "((e.data -> 'https://smartdatamodels.org/dataModel.Environment/pm25') -> 'value')"
    assert sql.lstrip("(").startswith(f"CASE WHEN jsonb_typeof({member}) = 'number' THEN")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_values_are_bound_never_written_into_the_sql(dialect: str) -> None:
    query = 'name=="Robert\'); DROP TABLE entity;--"|name~="x\'y"|t>2020-01-01T00:00:00Z'
    params: list[object] = []

    def param(value: object) -> str:
        params.append(value)
        return "?" if dialect == "sqlite" else f"${len(params)}"

    sql = compile_sql(query, expand, dialect, "e.data", param).sql  # type: ignore[arg-type]
    assert "DROP" not in sql
    assert "x'y" not in sql and "x''y" not in sql
    assert "Robert'); DROP TABLE entity;--" in params
    if dialect == "sqlite":
        assert sql.count("?") == len(params)
    else:
        assert re.findall(r"\$(\d+)", sql) == [str(i) for i in range(1, len(params) + 1)]


def test_placeholders_are_requested_in_text_order() -> None:
    order: list[object] = []

    def param(value: object) -> str:
        order.append(value)
        return f"<{len(order)}>"

    sql = compile_sql('a==1;b=="two";c==3..4;d==5,6', expand, "sqlite", "d", param).sql
    numbers = [int(n) for n in re.findall(r"<(\d+)>", sql)]
    assert numbers == sorted(numbers)
    assert order[0] == 1 and "two" in order and order[-1] == 6


def test_iris_with_quotes_are_escaped(runner: Runner) -> None:
    runner.load(CITY)
    assert runner.select('quote=="it\'s"') == ({5}, True)


def test_unsafe_member_names_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot address"):
        compile_sql("a==1", lambda name: 'https://x.org/"a', "sqlite", "d", lambda v: "?")


def test_unknown_dialect() -> None:
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        compile_sql("a==1", expand, "oracle", "d", lambda v: "?")  # type: ignore[arg-type]


def test_integers_beyond_64_bits(runner: Runner) -> None:
    big = 2**70
    entities = {1: {expand("a"): {"type": "Property", "value": big}}, 2: {}}
    runner.load(entities)
    for query in (f"a=={big}", f"a>{big - 1}", f"a!={big}", f"a=={big},1"):
        exact = assert_agrees(runner, query, evaluate(query, entities))
        assert exact is (runner.dialect == "postgresql")


def test_accepts_a_parsed_query(sqlite_runner: SQLiteRunner) -> None:
    sqlite_runner.load(CITY)
    assert sqlite_runner.select(parse_query("pm25>50")) == ({2}, True)


def test_deep_paths_and_combinations(runner: Runner) -> None:
    """Several levels of multi-instance sub-attributes, with metadata at the end."""
    a, b, c = expand("a"), expand("b"), expand("c")
    when = "2021-06-01T12:00:00Z"
    entities = {
        1: {
            a: [
                {
                    "type": "Property",
                    "value": 1,
                    "datasetId": "urn:d:1",
                    b: {
                        "type": "Property",
                        "value": 2,
                        c: [
                            {
                                "type": "Property",
                                "value": 3,
                                "observedAt": when,
                                "datasetId": "urn:d:3",
                            }
                        ],
                    },
                }
            ]
        },
        2: {a: {"type": "Property", "value": 1, b: [{"type": "Property", "value": 5}]}},
        3: {a: {"type": "Property", "value": {"x": [1, {"y": 2}]}}},
    }
    runner.load(entities)
    for query in (
        "a.b.c==3",
        "a.b.c.observedAt==2021-06-01T14:00:00+02:00",
        "a.b.c.datasetId==urn:d:3",
        "a.b==5|a.b.c",
        "!a.b.c;a",
        "a.b!=2",
        "a[x]==1",
        "a[x.y]==2",
        "a[x][y]",
        "a[*]==1",
    ):
        assert_agrees(runner, query, evaluate(query, entities))


def test_terms_too_deep_for_sqlite_become_a_superset(runner: Runner) -> None:
    """SQLite's parser has a small stack: the deepest terms the limits allow are
    reduced to a superset there (exact=False); PostgreSQL stays exact."""
    a, s, t, u = (expand(name) for name in "astu")
    leaf = {"type": "Property", "value": "2020-01-01T00:00:00Z"}
    entities = {
        1: {
            a: {
                "type": "Property",
                "value": 1,
                s: {"type": "Property", "value": 2, t: {"type": "Property", "value": 3, u: leaf}},
            }
        },
        2: {a: {"type": "Property", "value": 1}},
        3: {expand("b"): {"type": "Property", "value": 1}},
    }
    runner.load(entities)
    deep = "a.s.t.u==2020-01-01T00:00:00Z,2021-01-01,12:00:00"
    for query in (
        f"(b;(c|(b|c;(b;(c|(b|c;{deep}))))))",
        f"{deep};!a.s.t.u.v",
        f"!{deep.split('==')[0]}|{deep}",
    ):
        exact = assert_agrees(runner, query, evaluate(query, entities))
        assert exact is (runner.dialect == "postgresql"), query
