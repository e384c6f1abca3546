"""The evaluator: the reference semantics of the NGSI-LD query language."""

from __future__ import annotations

from typing import Any

import pytest
from ngsild_query_support import CITY, DEFAULT, EXPECTATIONS, evaluate, expand

from qala.ngsild.query import compile_matcher, parse_query


@pytest.mark.parametrize(
    ("query", "expected", "rule"), EXPECTATIONS, ids=[q for q, _, _ in EXPECTATIONS]
)
def test_city_queries(query: str, expected: set[int], rule: str) -> None:
    assert evaluate(query, CITY) == expected, rule


def matches(query: str, data: dict[str, Any]) -> bool:
    return compile_matcher(query, expand)(data)


def prop(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


A = DEFAULT + "a"
B = DEFAULT + "b"


def test_names_are_expanded_once_at_compile_time() -> None:
    calls: list[str] = []

    def counting(name: str) -> str:
        calls.append(name)
        return DEFAULT + name

    matcher = compile_matcher(parse_query("a.b>1;a.b.observedAt;x[y.z]"), counting)
    assert sorted(calls) == ["a", "a", "b", "b", "x"]
    for _ in range(3):
        matcher({A: prop(0, **{B: prop(2, observedAt="2020-01-01T00:00:00Z")})})
    assert len(calls) == 5


def test_metadata_names_and_trailing_keys_are_not_expanded() -> None:
    data = {A: prop({"observedAt": 1}, observedAt="2020-01-01T00:00:00Z")}
    assert matches("a[observedAt]==1", data)
    assert matches("a.observedAt==2020-01-01T00:00:00Z", data)


def test_a_query_string_is_parsed() -> None:
    assert compile_matcher("a>1", expand)({A: prop(2)})


def test_arrays_are_searched_one_level_deep() -> None:
    assert matches("a==1", {A: prop([0, 1])})
    assert not matches("a==1", {A: prop([[1]])})
    assert matches("a!=1", {A: prop([[1]])})


def test_array_instances_that_are_not_objects_are_ignored() -> None:
    data = {A: [5, "x", prop(1, datasetId="urn:d:1")]}
    assert matches("a==1", data)
    assert not matches("a==5", data)
    assert matches("a", data)
    assert not matches("a", {A: [5]})
    assert not matches("a", {A: "junk"})


def test_unequal_needs_a_target_value() -> None:
    assert not matches("a!=1", {A: {"type": "Property"}})
    assert matches("a", {A: {"type": "Property"}})


def test_null_values_differ_from_everything() -> None:
    assert not matches("a==1", {A: prop(None)})
    assert matches("a!=1", {A: prop(None)})
    assert matches("a[x]", {A: prop({"x": None})})


def test_unequal_with_a_list_excludes_every_value() -> None:
    assert matches('a!="black","red"', {A: prop("blue")})
    assert not matches('a!="black","red"', {A: prop(["blue", "red"])})


def test_pattern_negation_needs_a_string() -> None:
    assert matches('a!~="x"', {A: prop(["a", 1])})
    assert not matches('a!~="x"', {A: prop([1, 2])})
    assert not matches('a!~="x"', {A: prop(["x", "y"])})


def test_datetime_values_are_compared_as_instants() -> None:
    data = {A: prop("2020-01-01T05:00:00+05:00")}
    assert matches("a==2020-01-01T00:00:00Z", data)
    assert matches("a==2020-01-01T00:00:00", data)
    assert matches("a>2019-12-31T23:59:59.999999Z", data)
    assert not matches('a=="2020-01-01T00:00:00Z"', data)


def test_fraction_digits_beyond_microseconds_are_ignored() -> None:
    data = {A: prop("2020-01-01T00:00:00.1234569Z")}
    assert matches("a==2020-01-01T00:00:00.123456Z", data)


@pytest.mark.parametrize(
    "value",
    [
        "2020-02-30T00:00:00Z",
        "2020-01-01T24:00:00Z",
        "2020-01-01T00:00:60Z",
        "2020-01-01T00:00:00+24:00",
        "2020-01-01T00:00:00.Z",
        "2020-01-01 00:00:00Z",
        "2020-1-01T00:00:00Z",
        "2020-01-01T00:00Z",
        "٢٠٢٠-01-01T00:00:00Z",
        {"@type": "Text", "@value": "2020-01-01T00:00:00Z"},
        {"@type": ["DateTime"], "@value": "2020-01-01T00:00:00Z"},
    ],
)
def test_malformed_datetimes_never_match_datetime_queries(value: Any) -> None:
    data = {A: prop(value)}
    assert not matches("a>1900-01-01T00:00:00Z", data)
    assert not matches("a<2100-01-01T00:00:00Z", data)


def test_leap_days() -> None:
    assert matches("a==2024-02-29", {A: prop("2024-02-29")})
    assert not matches("a>1900-01-01", {A: prop("1900-02-29")})
    assert matches("a>1900-01-01", {A: prop("2000-02-29")})


def test_typed_literals_of_every_temporal_type() -> None:
    for type_name in ("DateTime", "https://uri.etsi.org/ngsi-ld/DateTime", "xsd:dateTime"):
        data = {A: prop({"@type": type_name, "@value": "2020-01-01T00:00:00Z"})}
        assert matches("a==2020-01-01T00:00:00Z", data), type_name
    assert matches("a==2020-01-01", {A: prop({"@type": "Date", "@value": "2020-01-01"})})


def test_sub_attributes_of_every_instance() -> None:
    data = {
        A: [
            prop(1, datasetId="urn:d:1", **{B: prop(10)}),
            prop(2, **{B: [prop(20, datasetId="urn:d:2"), prop(30)]}),
        ]
    }
    for value in (10, 20, 30):
        assert matches(f"a.b=={value}", data)
    assert not matches("a.b==1", data)
    assert matches("a.b.datasetId==urn:d:2", data)


def test_language_map_must_be_an_object() -> None:
    data = {A: {"type": "LanguageProperty", "languageMap": "oops"}}
    assert not matches('a=="oops"', data)
    assert not matches('a!="x"', data)


def test_booleans_compare_only_for_equality_and_not_as_numbers() -> None:
    assert matches("a==true", {A: prop(True)})
    assert not matches("a==1", {A: prop(True)})
    assert not matches("a==true", {A: prop(1)})
