"""Property-based tests: canonical text round-trips, and SQL agrees with the evaluator
on random queries over random entities, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ngsild_query_support import PostgresRunner, SQLiteRunner, assert_agrees, evaluate, expand

from qala.ngsild.query import (
    METADATA_MEMBERS,
    And,
    AttrPath,
    Comparison,
    Exists,
    Kind,
    Literal,
    Op,
    Or,
    Pattern,
    Query,
    Range,
    ValueList,
    parse_query,
)

# -- vocabulary shared by queries and entities -----------------------------------------

ATTRIBUTES = ["a", "b", "quote"]
SUB_ATTRIBUTES = ["s", "t"]
KEYS = ["x", "y", "en"]

NUMBERS: list[int | float] = [-2, -1, 0, 1, 2, 3, 0.5, -1.5, 2.25, 0.1, 1e16, 2**53 + 1]
DATETIMES = [
    "2020-01-01T00:00:00Z",
    "2020-01-01T01:00:00+01:00",
    "2019-12-31T23:00:00-01:00",
    "2020-01-01T00:00:00.5Z",
    "2020-01-01T00:00:00.500000999Z",
    "2020-01-01T00:00:00",
]
DATES = ["2020-01-01", "2019-12-31", "2024-02-29"]
TIMES = ["12:00:00Z", "11:59:59.5", "12:00:00"]
URIS = ["urn:x:1", "urn:x:2"]
STRINGS = ["", "a", "b", "ab", "B", "é", "日本", "x'y", 'q"t', "o\nk", "%_"]
JUNK_TEMPORAL = [
    "2020-02-30T00:00:00Z",
    "2020-01-01T00:00Z",
    "2020-01-01T00:00:00.Z",
    "2020-01-01T24:00:00Z",
    "2020-01-01 00:00:00Z",
    "24:00:00",
    "2019-13-01",
    "2020-01-01T00:00:00+1:00",
]
PATTERNS = ["a", "^a", "b$", "a|b", "", "é", "^2020", "'", r"\.", r"x\(", "(?i)A", "^$", "%"]

# -- entities ------------------------------------------------------------------------

scalars = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(NUMBERS),
    st.sampled_from(STRINGS + URIS),
    st.sampled_from(DATETIMES + DATES + TIMES + JUNK_TEMPORAL),
    st.booleans(),
    st.none(),
    st.builds(
        lambda kind, value: {"@type": kind, "@value": value},
        st.sampled_from(
            ["DateTime", "Date", "Time", "Text", "https://uri.etsi.org/ngsi-ld/DateTime"]
        ),
        st.sampled_from(DATETIMES + DATES + TIMES + JUNK_TEMPORAL[:2]),
    ),
)

json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    ),
    max_leaves=6,
)

strings_or_lists = st.one_of(
    st.sampled_from(STRINGS + URIS),
    st.lists(st.sampled_from(STRINGS + URIS), max_size=3),
    st.sampled_from(NUMBERS),
)


@st.composite
def instances(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    members = ["object", "objectList", "languageMap", "vocab", "json", "valueList", None]
    member = draw(st.sampled_from(["value"] * 6 + members))
    instance: dict[str, Any] = {"type": "Property"}
    if member == "value":
        instance[member] = draw(st.one_of(scalars, scalars, json_values))
    elif member in ("json", "valueList"):
        instance[member] = draw(json_values)
    elif member in ("object", "vocab"):
        instance[member] = draw(strings_or_lists)
    elif member == "objectList":
        instance[member] = draw(st.lists(st.sampled_from(URIS), max_size=2))
    elif member == "languageMap":
        instance[member] = draw(
            st.one_of(
                st.dictionaries(st.sampled_from(["en", "fr"]), strings_or_lists, max_size=2),
                st.just("x"),
            )
        )
    for name in draw(st.lists(st.sampled_from(sorted(METADATA_MEMBERS)), max_size=2, unique=True)):
        instance[name] = draw(st.sampled_from(DATETIMES + JUNK_TEMPORAL[:2] + ["GQ", "urn:d:1", 5]))
    if depth == 0:
        for name in draw(st.lists(st.sampled_from(SUB_ATTRIBUTES), max_size=2, unique=True)):
            instance[expand(name)] = draw(attribute_values(depth + 1))
    return instance


def attribute_values(depth: int = 0) -> st.SearchStrategy[Any]:
    return st.one_of(
        instances(depth),
        instances(depth),
        st.lists(st.one_of(instances(depth), st.sampled_from([5, "junk"])), max_size=3),
    )


@st.composite
def entities(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(ATTRIBUTES), min_size=1, max_size=3, unique=True))
    return {expand(name): draw(attribute_values()) for name in names}


corpora = st.lists(entities(), min_size=2, max_size=8).map(lambda items: dict(enumerate(items)))


# -- a larger seeded random city, loaded once ---------------------------------------------

TEMPORAL_TYPES = ["DateTime", "Date", "Time", "Text", "https://uri.etsi.org/ngsi-ld/DateTime"]


def _random_scalar(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.35:
        return rng.choice(NUMBERS)
    if pick < 0.55:
        return rng.choice(STRINGS + URIS)
    if pick < 0.8:
        return rng.choice(DATETIMES + DATES + TIMES + JUNK_TEMPORAL)
    if pick < 0.88:
        return rng.choice([True, False])
    if pick < 0.92:
        return None
    return {
        "@type": rng.choice(TEMPORAL_TYPES),
        "@value": rng.choice(DATETIMES + DATES + TIMES + JUNK_TEMPORAL[:2]),
    }


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth >= 2 or pick < 0.6:
        return _random_scalar(rng)
    if pick < 0.8:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {key: _random_json(rng, depth + 1) for key in rng.sample(KEYS, rng.randint(1, 3))}


def _random_instance(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    instance: dict[str, Any] = {"type": "Property"}
    member = rng.choice(["value"] * 6 + ["object", "languageMap", "vocab", "json", "valueList"])
    if member == "object":
        instance[member] = rng.choice([rng.choice(URIS), URIS])
    elif member == "languageMap":
        instance[member] = {
            lang: rng.choice([*STRINGS, STRINGS[:3]]) for lang in rng.sample(["en", "fr"], 2)
        }
    elif member == "vocab":
        instance[member] = rng.choice(URIS + STRINGS)
    else:
        instance[member] = _random_json(rng)
    for name in rng.sample(sorted(METADATA_MEMBERS), rng.randint(0, 2)):
        instance[name] = rng.choice(DATETIMES + JUNK_TEMPORAL[:2] + ["GQ", "urn:d:1", 5])
    if depth == 0:
        for name in rng.sample(SUB_ATTRIBUTES, rng.randint(0, 2)):
            instance[expand(name)] = _random_attribute(rng, depth + 1)
    return instance


def _random_attribute(rng: random.Random, depth: int = 0) -> Any:
    if rng.random() < 0.75:
        return _random_instance(rng, depth)
    return [_random_instance(rng, depth) for _ in range(rng.randint(1, 3))]


def random_city(size: int, seed: int) -> dict[int, dict[str, Any]]:
    rng = random.Random(seed)
    return {
        key: {
            expand(name): _random_attribute(rng)
            for name in rng.sample(ATTRIBUTES, rng.randint(0, len(ATTRIBUTES)))
        }
        for key in range(size)
    }


RANDOM_CITY = random_city(300, seed=2026)

# -- queries -------------------------------------------------------------------------


@st.composite
def paths(draw: st.DrawFn) -> AttrPath:
    names = [draw(st.sampled_from(ATTRIBUTES))]
    if draw(st.integers(0, 3)) == 0:
        names.append(draw(st.sampled_from(SUB_ATTRIBUTES)))
    if draw(st.integers(0, 4)) == 0:
        names.append(draw(st.sampled_from(sorted(METADATA_MEMBERS))))
        return AttrPath(tuple(names))
    trailing: list[str] = []
    if draw(st.integers(0, 2)) == 0:
        trailing = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=2))
    if draw(st.integers(0, 5)) == 0:
        trailing.append("*")
    return AttrPath(tuple(names), tuple(trailing))


comparable_literals = st.one_of(
    st.builds(Literal, st.just(Kind.NUMBER), st.sampled_from([*NUMBERS, 2**70])),
    st.builds(Literal, st.just(Kind.NUMBER), st.sampled_from(NUMBERS)),
    st.builds(Literal, st.just(Kind.STRING), st.sampled_from(STRINGS + URIS + DATETIMES[:1])),
    st.builds(Literal, st.just(Kind.DATETIME), st.sampled_from(DATETIMES)),
    st.builds(Literal, st.just(Kind.DATE), st.sampled_from(DATES)),
    st.builds(Literal, st.just(Kind.TIME), st.sampled_from(TIMES)),
)
literals = st.one_of(
    comparable_literals,
    st.builds(Literal, st.just(Kind.BOOLEAN), st.booleans()),
    st.builds(Literal, st.just(Kind.URI), st.sampled_from(URIS)),
)


@st.composite
def ranges(draw: st.DrawFn) -> Range:
    low = draw(comparable_literals)
    same_kind = comparable_literals.filter(lambda literal: literal.kind is low.kind)
    return Range(low, draw(same_kind))


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    path = draw(paths())
    op = draw(st.sampled_from(list(Op)))
    if op.is_pattern:
        value: Literal | Range | ValueList | Pattern = Pattern(draw(st.sampled_from(PATTERNS)))
    elif op.is_ordering:
        value = draw(comparable_literals)
    else:
        value = draw(
            st.one_of(
                literals,
                literals,
                ranges(),
                st.lists(literals, min_size=2, max_size=3).map(
                    lambda items: ValueList(tuple(items))
                ),
            )
        )
    return Comparison(path, op, value)


terms = st.one_of(st.builds(Exists, paths(), st.booleans()), comparisons(), comparisons())


def _combine(node: type[And] | type[Or], children: list[Query]) -> Query:
    return children[0] if len(children) == 1 else node(tuple(children))


@st.composite
def queries(draw: st.DrawFn, depth: int = 2, under: type[And] | type[Or] | None = None) -> Query:
    """Normalised trees: an And never directly holds an And, nor an Or an Or."""
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return draw(terms)
    node = draw(st.sampled_from([n for n in (And, Or) if n is not under]))
    children = draw(st.lists(queries(depth - 1, node), min_size=2, max_size=3))
    return node(tuple(children))


# -- text renderings with optional whitespace and redundant parentheses -------------------


@st.composite
def renderings(draw: st.DrawFn, query: Query) -> str:
    space = st.sampled_from(["", "", " ", "  "])

    def render(node: Query, parent: type[And] | type[Or] | None) -> str:
        if isinstance(node, And | Or):
            separator = draw(space) + (";" if isinstance(node, And) else "|") + draw(space)
            text = separator.join(render(term, type(node)) for term in node.terms)
            needs = isinstance(node, Or) and parent is And
            if needs or draw(st.integers(0, 4)) == 0:
                text = "(" + draw(space) + text + draw(space) + ")"
            return text
        text = str(node)
        if isinstance(node, Comparison):
            text = str(node.path) + draw(space) + str(node.op) + draw(space) + str(node.value)
            if node.path.trailing and draw(st.booleans()):
                keys = "][".join(node.path.trailing)
                text = text.replace("[" + ".".join(node.path.trailing) + "]", "[" + keys + "]", 1)
        if draw(st.integers(0, 5)) == 0:
            text = "(" + text + ")"
        return text

    return draw(space) + render(query, None) + draw(space)


# -- properties ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(queries())
def test_canonical_text_round_trips(query: Query) -> None:
    text = str(query)
    parsed = parse_query(text)
    assert parsed == query
    assert str(parsed) == text


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_rendering_parses_to_the_same_tree(data: st.DataObject) -> None:
    query = data.draw(queries())
    text = data.draw(renderings(query))
    assert parse_query(text) == query


def _agree(runner: SQLiteRunner | PostgresRunner, query: Query, corpus: dict[int, Any]) -> None:
    runner.load(corpus)
    assert_agrees(runner, query, evaluate(query, corpus))


FIXTURE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def random_sqlite(sqlite_runner: SQLiteRunner) -> SQLiteRunner:
    sqlite_runner.load(RANDOM_CITY)
    return sqlite_runner


@pytest.fixture(scope="module")
def random_postgres(postgres_runner: PostgresRunner) -> PostgresRunner:
    postgres_runner.load(RANDOM_CITY)
    return postgres_runner


def test_the_random_city_is_varied() -> None:
    """Guards the usefulness of the tests below: queries do match some entities."""
    matched = [evaluate(query, RANDOM_CITY) for query in ("a>0", "a.s", "b[x]", 'a~="a"')]
    assert all(5 < len(ids) < 295 for ids in matched), [len(ids) for ids in matched]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=queries())
def test_sqlite_agrees_on_a_random_city(random_sqlite: SQLiteRunner, query: Query) -> None:
    assert_agrees(random_sqlite, query, evaluate(query, RANDOM_CITY))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=queries())
def test_postgresql_agrees_on_a_random_city(random_postgres: PostgresRunner, query: Query) -> None:
    assert_agrees(random_postgres, query, evaluate(query, RANDOM_CITY))


@FIXTURE_SETTINGS
@given(query=queries(), corpus=corpora)
def test_sqlite_agrees_with_the_evaluator(
    sqlite_runner: SQLiteRunner, query: Query, corpus: dict[int, Any]
) -> None:
    _agree(sqlite_runner, query, corpus)


@FIXTURE_SETTINGS
@given(query=queries(), corpus=corpora)
def test_postgresql_agrees_with_the_evaluator(
    postgres_runner: PostgresRunner, query: Query, corpus: dict[int, Any]
) -> None:
    _agree(postgres_runner, query, corpus)
