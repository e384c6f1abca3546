"""The JSON-reading SQL of each database, for the ``q`` compiler (:mod:`.compiler`).

A :data:`Dialect` names the database. The compiler addresses values of the entity's
``data`` document through a :data:`Location` and asks the dialect's :class:`JsonSQL`
for each piece of SQL: where a value is, its JSON type, a comparison of it with a bound
parameter, the rows of an array or object, and the text checks of temporal values.

* :class:`SQLiteJsonSQL`: the document is JSON text, read with ``json_type``,
  ``json_extract`` and ``json_each``; locations are JSON paths or ``json_each`` rows.
* :class:`PostgresJsonSQL`: the document is ``jsonb``, read with ``->``,
  ``jsonb_typeof`` and ``jsonb_array_elements``; locations are ``jsonb`` expressions.

JSON member names (expanded IRIs, trailing-path keys) are written as quoted string
literals after validation; every value from the query is a bound parameter, passed in
as its placeholder (``marker``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal as TypingLiteral

from .ast import Op
from .temporal import TEMPORAL_TYPES

__all__ = [
    "SQL_OPERATORS",
    "Dialect",
    "JsonSQL",
    "Location",
    "PostgresJsonSQL",
    "SQLiteJsonSQL",
]

Dialect = TypingLiteral["sqlite", "postgresql"]

SQL_OPERATORS = {Op.EQ: "=", Op.GT: ">", Op.GE: ">=", Op.LT: "<", Op.LE: "<="}
_INT64 = range(-(2**63), 2**63)


def _quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _check_key(key: str) -> str:
    """Refuse JSON member names that cannot be written safely into a JSON path."""
    if not key or any(char in '"\\' or ord(char) < 0x20 for char in key):
        raise ValueError(f"cannot address the JSON member {key!r} in SQL")
    return key


# -- locations in the JSON document ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Path:
    """SQLite: the value at ``path`` (a SQL string expression) in the JSON text ``doc``.

    ``literal`` is the path as Python text when it has no dynamic part.
    """

    doc: str
    path: str
    literal: str | None


@dataclass(frozen=True, slots=True)
class _Row:
    """SQLite: one row of ``json_each`` (columns ``type``, ``atom``, ``value``)."""

    alias: str


@dataclass(frozen=True, slots=True)
class _Json:
    """PostgreSQL: a ``jsonb`` expression (SQL NULL when absent)."""

    expr: str


Location = _Path | _Row | _Json


class JsonSQL:
    """The dialect-specific pieces of SQL that read the document, for one database."""

    true = "TRUE"
    false = "FALSE"

    def attribute(self, column: str, iri: str) -> Location:
        raise NotImplementedError

    def member(self, loc: Location, key: str) -> Location:
        raise NotImplementedError

    def is_object(self, loc: Location) -> str:
        raise NotImplementedError

    def is_array(self, loc: Location) -> str:
        raise NotImplementedError

    def exists(self, loc: Location) -> str:
        raise NotImplementedError

    def instances(self, loc: Location, alias: str) -> tuple[str, Location]:
        """FROM item iterating the elements of an array of instances, and the element."""
        raise NotImplementedError

    def elements(self, loc: Location, alias: str) -> tuple[str, Location]:
        """FROM item iterating the elements of an array value (none if not an array)."""
        raise NotImplementedError

    def members(self, loc: Location, alias: str) -> tuple[str, Location]:
        """FROM item iterating the member values of an object (none if not an object)."""
        raise NotImplementedError

    def elements_or_self(self, loc: Location, alias: str) -> tuple[str, Location] | None:
        """FROM item yielding the elements of an array value, or the value itself (a
        JSON null when absent); ``None`` if unsupported for this location."""
        raise NotImplementedError

    def number(self, loc: Location, op: Op, marker: str) -> str:
        raise NotImplementedError

    def number_in(self, loc: Location, markers: list[str]) -> str:
        raise NotImplementedError

    def is_number(self, loc: Location) -> str:
        raise NotImplementedError

    def string(self, loc: Location, op: Op, marker: str) -> str:
        raise NotImplementedError

    def string_in(self, loc: Location, markers: list[str]) -> str:
        raise NotImplementedError

    def is_string(self, loc: Location) -> str:
        raise NotImplementedError

    def boolean(self, loc: Location, flag: bool) -> str:
        raise NotImplementedError

    def text_test(self, loc: Location, test: Callable[[str], str]) -> str:
        """``test(text)`` applied to the value when it is a string, else false."""
        raise NotImplementedError

    def contains(self, text: str, marker: str) -> str:
        raise NotImplementedError

    def starts_with(self, text: str, length: int, marker: str) -> str:
        raise NotImplementedError

    def temporal_text(self, loc: Location) -> str:
        """SQL text of a string value, or of the ``@value`` of a temporal typed literal."""
        raise NotImplementedError

    def number_value(self, value: int | float) -> tuple[object, bool]:
        """The parameter value for a number, and whether comparisons stay exact."""
        raise NotImplementedError

    def key_param(self, marker: str) -> str:
        return marker

    def fence(self) -> str:
        """Keeps the planner from inlining a derived table (evaluation order)."""
        return ""

    def greatest(self, left: str, right: str) -> str:
        raise NotImplementedError

    def datetime_format(self, text: str, zone: str) -> str:
        raise NotImplementedError

    def datetime_zone_length(self, text: str) -> str:
        raise NotImplementedError

    def date_format(self, text: str) -> str:
        raise NotImplementedError

    def time_format(self, text: str, zone: str) -> str:
        raise NotImplementedError

    def time_zone_length(self, text: str) -> str:
        return f"CASE WHEN substr({text}, length({text}), 1) = 'Z' THEN 1 ELSE 0 END"


_TEMPORAL_TYPE_LIST = ", ".join(_quote(name) for name in sorted(TEMPORAL_TYPES))


class SQLiteJsonSQL(JsonSQL):
    def attribute(self, column: str, iri: str) -> Location:
        literal = '$."' + _check_key(iri) + '"'
        return _Path(column, _quote(literal), literal)

    def member(self, loc: Location, key: str) -> Location:
        assert isinstance(loc, _Path)
        step = '."' + _check_key(key) + '"'
        if loc.literal is not None:
            literal = loc.literal + step
            return _Path(loc.doc, _quote(literal), literal)
        return _Path(loc.doc, f"({loc.path} || {_quote(step)})", None)

    def _type(self, loc: Location) -> str:
        if isinstance(loc, _Row):
            return f"{loc.alias}.type"
        assert isinstance(loc, _Path)
        return f"json_type({loc.doc}, {loc.path})"

    def _atom(self, loc: Location) -> str:
        if isinstance(loc, _Row):
            return f"{loc.alias}.atom"
        assert isinstance(loc, _Path)
        return f"json_extract({loc.doc}, {loc.path})"

    def is_object(self, loc: Location) -> str:
        return f"{self._type(loc)} = 'object'"

    def is_array(self, loc: Location) -> str:
        return f"{self._type(loc)} = 'array'"

    def exists(self, loc: Location) -> str:
        if isinstance(loc, _Row):
            return self.true
        return f"{self._type(loc)} IS NOT NULL"

    def instances(self, loc: Location, alias: str) -> tuple[str, Location]:
        assert isinstance(loc, _Path)
        # ``fullkey`` is the element's path from the document root.
        return f"json_each({self._only(loc, 'array')}) AS {alias}", _Path(
            loc.doc, f"{alias}.fullkey", None
        )

    def _only(self, loc: _Path, json_type: str) -> str:
        """json_each arguments iterating ``loc`` only when it is of ``json_type``."""
        return f"{loc.doc}, CASE WHEN {self._type(loc)} = '{json_type}' THEN {loc.path} END"

    def elements(self, loc: Location, alias: str) -> tuple[str, Location]:
        if isinstance(loc, _Row):
            source = f"CASE WHEN {loc.alias}.type = 'array' THEN {loc.alias}.value ELSE '[]' END"
            return f"json_each({source}) AS {alias}", _Row(alias)
        assert isinstance(loc, _Path)
        return f"json_each({self._only(loc, 'array')}) AS {alias}", _Row(alias)

    def members(self, loc: Location, alias: str) -> tuple[str, Location]:
        assert isinstance(loc, _Path)
        return f"json_each({self._only(loc, 'object')}) AS {alias}", _Row(alias)

    def elements_or_self(self, loc: Location, alias: str) -> tuple[str, Location] | None:
        if not isinstance(loc, _Path):
            return None
        source = (
            f"CASE WHEN {self.is_array(loc)} THEN json_extract({loc.doc}, {loc.path})"
            f" ELSE json_array({loc.doc} -> {loc.path}) END"
        )
        return f"json_each({source}) AS {alias}", _Row(alias)

    def is_number(self, loc: Location) -> str:
        return f"{self._type(loc)} IN ('integer', 'real')"

    def number(self, loc: Location, op: Op, marker: str) -> str:
        return f"({self.is_number(loc)} AND {self._atom(loc)} {SQL_OPERATORS[op]} {marker})"

    def number_in(self, loc: Location, markers: list[str]) -> str:
        return f"({self.is_number(loc)} AND {self._atom(loc)} IN ({', '.join(markers)}))"

    def is_string(self, loc: Location) -> str:
        return f"{self._type(loc)} = 'text'"

    def string(self, loc: Location, op: Op, marker: str) -> str:
        return f"({self.is_string(loc)} AND {self._atom(loc)} {SQL_OPERATORS[op]} {marker})"

    def string_in(self, loc: Location, markers: list[str]) -> str:
        return f"({self.is_string(loc)} AND {self._atom(loc)} IN ({', '.join(markers)}))"

    def boolean(self, loc: Location, flag: bool) -> str:
        return f"{self._type(loc)} = {_quote('true' if flag else 'false')}"

    def text_test(self, loc: Location, test: Callable[[str], str]) -> str:
        return f"({self.is_string(loc)} AND {test(self._atom(loc))})"

    def contains(self, text: str, marker: str) -> str:
        return f"instr({text}, {marker}) > 0"

    def starts_with(self, text: str, length: int, marker: str) -> str:
        return f"substr({text}, 1, {int(length)}) = {marker}"

    def temporal_text(self, loc: Location) -> str:
        if isinstance(loc, _Row):
            row = loc.alias
            typed = (
                f"CASE WHEN json_extract({row}.value, '$.\"@type\"') IN ({_TEMPORAL_TYPE_LIST})"
                f" AND json_type({row}.value, '$.\"@value\"') = 'text'"
                f" THEN json_extract({row}.value, '$.\"@value\"') END"
            )
            return f"CASE {row}.type WHEN 'text' THEN {row}.atom WHEN 'object' THEN {typed} END"
        assert isinstance(loc, _Path)
        at_type = self.member(loc, "@type")
        at_value = self.member(loc, "@value")
        assert isinstance(at_type, _Path) and isinstance(at_value, _Path)
        return (
            f"CASE {self._type(loc)} WHEN 'text' THEN {self._atom(loc)}"
            f" WHEN 'object' THEN CASE WHEN {self._atom(at_type)} IN ({_TEMPORAL_TYPE_LIST})"
            f" AND {self._type(at_value)} = 'text' THEN {self._atom(at_value)} END END"
        )

    def number_value(self, value: int | float) -> tuple[object, bool]:
        if type(value) is int and value not in _INT64:
            return float(value), False
        return value, True

    def greatest(self, left: str, right: str) -> str:
        return f"max({left}, {right})"

    def datetime_zone_length(self, text: str) -> str:
        return (
            f"CASE WHEN {text} GLOB '*Z' THEN 1"
            f" WHEN {text} GLOB '*[+-][0-9][0-9]:[0-9][0-9]' THEN 6 ELSE 0 END"
        )

    def datetime_format(self, text: str, zone: str) -> str:
        digits2 = "[0-9][0-9]"
        prefix = f"{digits2}{digits2}-{digits2}-{digits2}T{digits2}:{digits2}:{digits2}*"
        return (
            f"({text} GLOB '{prefix}' AND length({text}) >= 19 + {zone}"
            f" AND (length({text}) = 19 + {zone} OR (substr({text}, 20, 1) = '.'"
            f" AND length({text}) > 20 + {zone}"
            f" AND substr({text}, 21, length({text}) - 20 - {zone}) NOT GLOB '*[^0-9]*')))"
        )

    def date_format(self, text: str) -> str:
        return f"{text} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"

    def time_format(self, text: str, zone: str) -> str:
        return (
            f"({text} GLOB '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'"
            f" AND (length({text}) = 8 + {zone} OR (substr({text}, 9, 1) = '.'"
            f" AND length({text}) > 9 + {zone}"
            f" AND substr({text}, 10, length({text}) - 9 - {zone}) NOT GLOB '*[^0-9]*')))"
        )

    def time_zone_length(self, text: str) -> str:
        return f"CASE WHEN {text} GLOB '*Z' THEN 1 ELSE 0 END"


_PG_DIGIT = "[0123456789]"


class PostgresJsonSQL(JsonSQL):
    def attribute(self, column: str, iri: str) -> Location:
        return _Json(f"({column} -> {_quote(_check_key(iri))})")

    def member(self, loc: Location, key: str) -> Location:
        assert isinstance(loc, _Json)
        return _Json(f"({loc.expr} -> {_quote(_check_key(key))})")

    @staticmethod
    def _expr(loc: Location) -> str:
        assert isinstance(loc, _Json)
        return loc.expr

    def is_object(self, loc: Location) -> str:
        return f"jsonb_typeof({self._expr(loc)}) = 'object'"

    def is_array(self, loc: Location) -> str:
        return f"jsonb_typeof({self._expr(loc)}) = 'array'"

    def exists(self, loc: Location) -> str:
        return f"{self._expr(loc)} IS NOT NULL"

    def _array_source(self, loc: Location) -> str:
        expr = self._expr(loc)
        return f"CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr} ELSE '[]'::jsonb END"

    def instances(self, loc: Location, alias: str) -> tuple[str, Location]:
        return f"jsonb_array_elements({self._array_source(loc)}) AS {alias}(v)", _Json(f"{alias}.v")

    def elements(self, loc: Location, alias: str) -> tuple[str, Location]:
        return self.instances(loc, alias)

    def elements_or_self(self, loc: Location, alias: str) -> tuple[str, Location] | None:
        expr = self._expr(loc)
        source = (
            f"CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr}"
            f" ELSE jsonb_build_array({expr}) END"
        )
        return f"jsonb_array_elements({source}) AS {alias}(v)", _Json(f"{alias}.v")

    def members(self, loc: Location, alias: str) -> tuple[str, Location]:
        expr = self._expr(loc)
        source = f"CASE WHEN jsonb_typeof({expr}) = 'object' THEN {expr} ELSE '{{}}'::jsonb END"
        return f"jsonb_each({source}) AS {alias}(k, v)", _Json(f"{alias}.v")

    def is_number(self, loc: Location) -> str:
        return f"jsonb_typeof({self._expr(loc)}) = 'number'"

    def number(self, loc: Location, op: Op, marker: str) -> str:
        expr = self._expr(loc)
        if op is Op.EQ:
            return f"{expr} = to_jsonb(CAST({marker} AS numeric))"
        return (
            f"CASE WHEN jsonb_typeof({expr}) = 'number' THEN"
            f" CAST({expr} AS numeric) {SQL_OPERATORS[op]} CAST({marker} AS numeric)"
            " ELSE FALSE END"
        )

    def number_in(self, loc: Location, markers: list[str]) -> str:
        items = ", ".join(f"to_jsonb(CAST({marker} AS numeric))" for marker in markers)
        return f"{self._expr(loc)} IN ({items})"

    def is_string(self, loc: Location) -> str:
        return f"jsonb_typeof({self._expr(loc)}) = 'string'"

    def string(self, loc: Location, op: Op, marker: str) -> str:
        expr = self._expr(loc)
        if op is Op.EQ:
            return f"{expr} = to_jsonb(CAST({marker} AS text))"
        return self.text_test(
            loc, lambda text: f'{text} COLLATE "C" {SQL_OPERATORS[op]} CAST({marker} AS text)'
        )

    def string_in(self, loc: Location, markers: list[str]) -> str:
        items = ", ".join(f"to_jsonb(CAST({marker} AS text))" for marker in markers)
        return f"{self._expr(loc)} IN ({items})"

    def boolean(self, loc: Location, flag: bool) -> str:
        return f"{self._expr(loc)} = {_quote('true' if flag else 'false')}::jsonb"

    def text_test(self, loc: Location, test: Callable[[str], str]) -> str:
        expr = self._expr(loc)
        text = f"({expr} #>> '{{}}')"
        return f"CASE WHEN jsonb_typeof({expr}) = 'string' THEN {test(text)} ELSE FALSE END"

    def contains(self, text: str, marker: str) -> str:
        return f"strpos({text}, CAST({marker} AS text)) > 0"

    def starts_with(self, text: str, length: int, marker: str) -> str:
        return f"left({text}, {int(length)}) = CAST({marker} AS text)"

    def temporal_text(self, loc: Location) -> str:
        expr = self._expr(loc)
        return (
            f"CASE jsonb_typeof({expr}) WHEN 'string' THEN {expr} #>> '{{}}'"
            f" WHEN 'object' THEN CASE WHEN ({expr} ->> '@type') IN ({_TEMPORAL_TYPE_LIST})"
            f" AND jsonb_typeof({expr} -> '@value') = 'string' THEN {expr} ->> '@value' END END"
        )

    def number_value(self, value: int | float) -> tuple[object, bool]:
        return Decimal(repr(value) if type(value) is float else value), True

    def key_param(self, marker: str) -> str:
        return f"CAST({marker} AS bigint)"

    def fence(self) -> str:
        return " OFFSET 0"

    def greatest(self, left: str, right: str) -> str:
        return f"GREATEST({left}, {right})"

    def datetime_zone_length(self, text: str) -> str:
        return (
            f"CASE WHEN substr({text}, length({text}), 1) = 'Z' THEN 1"
            f" WHEN substr({text}, length({text}) - 5, 1) IN ('+', '-') THEN 6 ELSE 0 END"
        )

    def datetime_format(self, text: str, zone: str) -> str:
        d = _PG_DIGIT
        regex = (
            f"^{d}{{4}}-{d}{{2}}-{d}{{2}}T{d}{{2}}:{d}{{2}}:{d}{{2}}(\\.{d}+)?"
            f"(Z|[-+]{d}{{2}}:{d}{{2}})?$"
        )
        return f"({text} ~ {_quote(regex)})"

    def date_format(self, text: str) -> str:
        d = _PG_DIGIT
        return f"({text} ~ {_quote(f'^{d}{{4}}-{d}{{2}}-{d}{{2}}$')})"

    def time_format(self, text: str, zone: str) -> str:
        d = _PG_DIGIT
        regex = f"^{d}{{2}}:{d}{{2}}:{d}{{2}}(\\.{d}+)?Z?$"
        return f"({text} ~ {_quote(regex)})"
