"""Evaluation of a parsed query against Qala's internal entity representation.

This module is the reference semantics: the SQL compiler (:mod:`.sql`) produces
filters that select exactly (or, where it says so, a superset of) the entities this
evaluator matches.

The entity is the ``data`` document: a JSON object whose keys are expanded attribute
IRIs and whose values are an attribute instance (a JSON object) or an array of
instances (one per ``datasetId``). Instances use the core member names unexpanded
(``type``, ``value``, ``object``, ``observedAt``...) and hold their sub-attributes
under expanded IRIs, with the same shape.

Semantics (ETSI GS CIM 009 clause 4.9, with the choices documented in
``docs/query-language.md``):

* **Target elements.** The path's attribute, then each sub-attribute name, selects
  instances; an attribute with several instances (datasetIds) offers all of them. A
  term matches if it matches for *any* target element. A trailing metadata name
  (``observedAt``, ``createdAt``, ``modifiedAt``, ``unitCode``, ``datasetId``) makes
  that member of each instance the target value.
* **Target values** of an instance are taken from the member it has: ``value``
  (Property, GeoProperty), ``object`` (Relationship), ``objectList``
  (ListRelationship), ``languageMap`` (LanguageProperty: the value of any language,
  or of the language given as trailing path), ``vocab`` (VocabProperty), ``json``
  (JsonProperty) and ``valueList`` (ListProperty). A trailing path ``[a.b]`` reads
  JSON members inside the value (``*`` reads any member); a missing member means no
  target value.
* **Arrays.** When a target value is an array, a term matches if any element matches
  (one level: an element that is itself an array never equals a scalar).
* **Types.** Numbers compare with numbers, strings (and URIs) with strings in code
  point order, booleans only for equality; date-times, dates and times compare as
  instants with values that parse as such (see :mod:`.temporal`). A type mismatch is
  no match. Relationship objects only take part in ``==`` and ``!=`` with string or
  URI values; ``vocab`` and ``languageMap`` values only compare with strings, URIs and
  regular expressions.
* **Negations.** ``a!=v`` matches a target element that has a target value and for
  which ``a==v`` does not match (so different types are unequal, as the spec says).
  ``a!~=r`` matches a target element whose target value holds a string and for which
  ``a~=r`` does not match. ``!a`` matches when no target element exists. A missing
  attribute never matches a comparison.
* **Regular expressions** are RE2 searches (:mod:`qala.hub.regex`): the pattern may match
  anywhere in the string; anchor it with ``^`` and ``$`` for a whole-string match.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from qala.hub.regex import compile_pattern

from .ast import (
    ANY_KEY,
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
)
from .parser import parse_query
from .temporal import date_key, datetime_key, temporal_text, time_key

__all__ = [
    "ALL_MEMBERS",
    "OBJECT_MEMBERS",
    "STRING_MEMBERS",
    "VALUE_MEMBERS",
    "Matcher",
    "applicable_members",
    "compile_matcher",
]

Matcher = Callable[[Mapping[str, Any]], bool]
Expand = Callable[[str], str]
_Predicate = Callable[[Any], bool]

#: Members holding a target value compared with any kind of query value.
VALUE_MEMBERS: tuple[str, ...] = ("value", "json", "valueList")
#: Members whose values are strings: compared with strings, URIs and patterns only.
STRING_MEMBERS: tuple[str, ...] = ("vocab", "languageMap")
#: Relationship members: only ``==``/``!=`` with strings and URIs.
OBJECT_MEMBERS: tuple[str, ...] = ("object", "objectList")
ALL_MEMBERS: tuple[str, ...] = VALUE_MEMBERS + STRING_MEMBERS + OBJECT_MEMBERS

_NUMBER_TYPES = (int, float)

_ORDERING: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
}

_TEMPORAL_KEY: dict[Kind, Callable[[str], int | None]] = {
    Kind.DATETIME: datetime_key,
    Kind.DATE: date_key,
    Kind.TIME: time_key,
}


def compile_matcher(query: Query | str, expand: Expand) -> Matcher:
    """Compile ``query`` into a predicate over an entity's ``data`` document.

    ``expand`` maps a compact attribute or sub-attribute name to its expanded IRI; it
    is called once per name, at compile time. Metadata member names and trailing-path
    keys are not expanded. The returned function does no parsing or expansion.
    """
    if isinstance(query, str):
        query = parse_query(query)
    return _compile(query, expand)


def _compile(query: Query, expand: Expand) -> Matcher:
    if isinstance(query, And):
        parts = tuple(_compile(term, expand) for term in query.terms)

        def match_all(data: Mapping[str, Any]) -> bool:
            return all(part(data) for part in parts)

        return match_all
    if isinstance(query, Or):
        parts = tuple(_compile(term, expand) for term in query.terms)

        def match_any(data: Mapping[str, Any]) -> bool:
            return any(part(data) for part in parts)

        return match_any
    if isinstance(query, Exists):
        return _compile_exists(query, expand)
    return _compile_comparison(query, expand)


# -- target elements ------------------------------------------------------------------


def _instances(node: Any) -> Iterable[dict[str, Any]]:
    """The instances an attribute key holds: one object, or the objects of an array."""
    if type(node) is dict:
        return (node,)
    if type(node) is list:
        return [item for item in node if type(item) is dict]
    return ()


def _resolver(
    path: AttrPath, expand: Expand
) -> Callable[[Mapping[str, Any]], list[dict[str, Any]]]:
    """Function returning the instances addressed by the path's attribute names."""
    iris = tuple(expand(name) for name in path.attributes)
    first, rest = iris[0], iris[1:]

    def resolve(data: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = list(_instances(data.get(first)))
        for iri in rest:
            if not found:
                break
            found = [sub for instance in found for sub in _instances(instance.get(iri))]
        return found

    return resolve


def _navigate(value: Any, keys: tuple[str, ...]) -> list[Any]:
    """Values reached from ``value`` by a trailing path (object members only)."""
    found = [value]
    for key in keys:
        step: list[Any] = []
        for item in found:
            if type(item) is dict:
                if key == ANY_KEY:
                    step.extend(item.values())
                elif key in item:
                    step.append(item[key])
        found = step
        if not found:
            break
    return found


def _candidates(instance: dict[str, Any], members: tuple[str, ...], path: AttrPath) -> list[Any]:
    """Target values of one target element, from the given members."""
    metadata = path.metadata
    if metadata is not None:
        return [instance[metadata]] if metadata in instance else []
    found: list[Any] = []
    for member in members:
        if member in instance:
            keys = path.trailing or ((ANY_KEY,) if member == "languageMap" else ())
            if keys:
                found.extend(_navigate(instance[member], keys))
            else:
                found.append(instance[member])
    return found


# -- existence ------------------------------------------------------------------------


def _compile_exists(term: Exists, expand: Expand) -> Matcher:
    path = term.path
    if path.metadata is None and not path.trailing:

        def present(instance: dict[str, Any]) -> bool:
            return True

    else:

        def present(instance: dict[str, Any]) -> bool:
            return bool(_candidates(instance, ALL_MEMBERS, path))

    exists = _match_any_instance(path, expand, present)
    if not term.negated:
        return exists

    def absent(data: Mapping[str, Any]) -> bool:
        return not exists(data)

    return absent


# -- comparisons ----------------------------------------------------------------------


def applicable_members(
    comparison: Comparison,
) -> list[tuple[tuple[str, ...], list[Literal] | Pattern | Range]]:
    """Which members take part in the positive form of a comparison, and with which
    values.

    Returns ``(members, values)`` groups: for a pattern the values are the pattern; for
    a range, the range (if its kind applies to the members); otherwise the literals
    that apply to those members. Used by both the evaluator and the SQL compiler so
    that they agree on the rules.
    """
    value = comparison.value
    op = comparison.op
    if isinstance(value, Pattern):
        return [(VALUE_MEMBERS + STRING_MEMBERS, value)]
    if comparison.path.metadata is not None:
        members_all: tuple[str, ...] = ("",)
        if isinstance(value, Range):
            return [(members_all, value)]
        items = list(value.items) if isinstance(value, ValueList) else [value]
        return [(members_all, items)]
    groups: list[tuple[tuple[str, ...], list[Literal] | Pattern | Range]] = []
    equality = op in (Op.EQ, Op.NE)
    if isinstance(value, Range):
        groups.append((VALUE_MEMBERS, value))
        if value.low.kind.stringlike:
            groups.append((STRING_MEMBERS, value))
            if equality:
                groups.append((OBJECT_MEMBERS, value))
        return groups
    items = list(value.items) if isinstance(value, ValueList) else [value]
    groups.append((VALUE_MEMBERS, items))
    strings = [item for item in items if item.kind.stringlike]
    if strings:
        groups.append((STRING_MEMBERS, strings))
        if equality:
            groups.append((OBJECT_MEMBERS, strings))
    return groups


def _literal_predicate(literal: Literal, op: Op) -> _Predicate:
    """Predicate on one scalar target element: ``element op literal``."""
    compare = _ORDERING[op]
    kind = literal.kind
    if kind is Kind.NUMBER:
        number = literal.value

        def number_match(element: Any) -> bool:
            return type(element) in _NUMBER_TYPES and compare(element, number)

        return number_match
    if kind.stringlike:
        text = literal.value

        def string_match(element: Any) -> bool:
            return type(element) is str and compare(element, text)

        return string_match
    if kind is Kind.BOOLEAN:
        flag = literal.value

        def boolean_match(element: Any) -> bool:
            return type(element) is bool and element is flag

        return boolean_match
    key_of = _TEMPORAL_KEY[kind]
    wanted = literal.temporal_key

    def temporal_match(element: Any) -> bool:
        text = temporal_text(element)
        if text is None:
            return False
        key = key_of(text)
        return key is not None and compare(key, wanted)

    return temporal_match


def _element_predicate(values: list[Literal] | Pattern | Range, op: Op) -> _Predicate:
    """Predicate on one scalar element for the *positive* form of the operator."""
    if isinstance(values, Pattern):
        search = compile_pattern(values.regex).search

        def pattern_match(element: Any) -> bool:
            return type(element) is str and search(element) is not None

        return pattern_match
    if isinstance(values, Range):
        low = _literal_predicate(values.low, Op.GE)
        high = _literal_predicate(values.high, Op.LE)

        def in_range(element: Any) -> bool:
            return low(element) and high(element)

        return in_range
    positive = Op.EQ if op is Op.NE else op
    predicates = tuple(_literal_predicate(item, positive) for item in values)
    if len(predicates) == 1:
        return predicates[0]

    def any_of(element: Any) -> bool:
        return any(predicate(element) for predicate in predicates)

    return any_of


def _value_predicate(element_predicate: _Predicate) -> _Predicate:
    """Predicate on a target value: the value itself, or any element of an array."""

    def value_match(value: Any) -> bool:
        if type(value) is list:
            return any(element_predicate(element) for element in value)
        return element_predicate(value)

    return value_match


def _is_string(element: Any) -> bool:
    return type(element) is str


_has_string = _value_predicate(_is_string)


_MISSING = object()


def _compile_comparison(term: Comparison, expand: Expand) -> Matcher:
    path = term.path
    op = term.op
    groups = [
        (members, _value_predicate(_element_predicate(values, op)))
        for members, values in applicable_members(term)
    ]

    if path.metadata is None and not path.trailing:
        # The common case, without intermediate lists: the members hold the target
        # values directly, except languageMap whose values are the target values.
        direct = tuple(
            (member, predicate)
            for members, predicate in groups
            for member in members
            if member != "languageMap"
        )
        by_language = tuple(predicate for members, predicate in groups if "languageMap" in members)

        def positive(instance: dict[str, Any]) -> bool:
            for member, predicate in direct:
                value = instance.get(member, _MISSING)
                if value is not _MISSING and predicate(value):
                    return True
            if by_language:
                strings = instance.get("languageMap")
                if type(strings) is dict:
                    for value in strings.values():
                        for predicate in by_language:
                            if predicate(value):
                                return True
            return False

    else:

        def positive(instance: dict[str, Any]) -> bool:
            for members, predicate in groups:
                for value in _candidates(instance, members, path):
                    if predicate(value):
                        return True
            return False

    if op is Op.NE:

        def instance_match(instance: dict[str, Any]) -> bool:
            return bool(_candidates(instance, ALL_MEMBERS, path)) and not positive(instance)

    elif op is Op.NOT_MATCH:
        pattern_members = VALUE_MEMBERS + STRING_MEMBERS

        def instance_match(instance: dict[str, Any]) -> bool:
            has_string = any(
                _has_string(value) for value in _candidates(instance, pattern_members, path)
            )
            return has_string and not positive(instance)

    else:
        instance_match = positive
    return _match_any_instance(path, expand, instance_match)


def _match_any_instance(
    path: AttrPath, expand: Expand, instance_match: Callable[[dict[str, Any]], bool]
) -> Matcher:
    """Matcher: ``instance_match`` holds for some instance addressed by the path."""
    if len(path.attributes) == 1:
        iri = expand(path.attributes[0])

        def match_attribute(data: Mapping[str, Any]) -> bool:
            node = data.get(iri)
            if type(node) is dict:
                return instance_match(node)
            if type(node) is list:
                for item in node:
                    if type(item) is dict and instance_match(item):
                        return True
            return False

        return match_attribute
    resolve = _resolver(path, expand)

    def match(data: Mapping[str, Any]) -> bool:
        return any(instance_match(instance) for instance in resolve(data))

    return match
