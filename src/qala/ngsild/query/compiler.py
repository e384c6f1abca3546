"""Compilation of a parsed query into a SQL filter on the entity's ``data`` document.

The filter mirrors :mod:`.evaluate` (the reference semantics). This module is the same
for both databases: it walks the query and asks the :class:`~.json_sql.JsonSQL` of the
dialect (:mod:`.json_sql`) for every piece of SQL that reads the document (JSON text
on SQLite, ``jsonb`` on PostgreSQL).

Every value from the query is a bound parameter: ``param(value)`` registers one and
returns its placeholder, and is called in the order the placeholders appear in the
SQL text (so ``?`` placeholders work). JSON member names (expanded IRIs, trailing-path
keys) are written as quoted string literals after validation.

``SqlFilter.exact`` tells whether the SQL selects exactly the entities the evaluator
matches. It is ``False`` when some term could only be approximated by a superset:

* ``~=``/``!~=`` with a pattern that is not a plain literal (optionally anchored with
  ``^``): SQL regular expression dialects differ from Python's, so the filter only
  requires a string target value;
* on SQLite, integers beyond the 64-bit range (only the type is checked);
* on SQLite, terms whose SQL would nest deeper than SQLite's parser accepts (deep
  sub-attribute paths with date-time values inside many parentheses): the largest
  terms are then reduced to "the attribute exists" until the statement parses
  (the coarsening fallback, :func:`_coarsen`).

The caller re-checks the rows with the evaluator when ``exact`` is ``False``.

Notes for callers:

* PostgreSQL: run these filters with ``jit = off`` (for instance ``SET LOCAL jit = off``
  in the transaction, or the connection's ``server_settings``). The nested
  ``jsonb_array_elements`` sub-queries make the planner's cost estimate exceed
  ``jit_above_cost`` even on small tables, and compiling the large expressions then
  takes one to two seconds for a query that otherwise runs in milliseconds.
* The SQL holds the expanded IRIs as string literals (``'$."urn:x:y"'``). Pass it to
  the driver as is; a layer that looks for ``:name`` bind parameters inside the text
  (SQLAlchemy's ``text()``) would need its colons escaped.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

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
    iter_terms,
)
from .evaluate import ALL_MEMBERS, STRING_MEMBERS, VALUE_MEMBERS, applicable_members
from .json_sql import SQL_OPERATORS, Dialect, JsonSQL, Location, PostgresJsonSQL, SQLiteJsonSQL
from .parser import parse_query

__all__ = ["SqlFilter", "compile_sql"]

Expand = Callable[[str], str]
Param = Callable[[object], str]


@dataclass(frozen=True, slots=True)
class SqlFilter:
    """A boolean SQL expression and whether it is exact (see the module docstring)."""

    sql: str
    exact: bool


def compile_sql(
    query: Query | str,
    expand: Expand,
    dialect: Dialect,
    column: str,
    param: Param,
) -> SqlFilter:
    """Compile ``query`` into a SQL boolean expression over ``column``.

    ``column`` is the SQL expression of the entity's attribute document (TEXT holding
    JSON on SQLite, ``jsonb`` on PostgreSQL), ``expand`` maps compact attribute names
    to IRIs and ``param`` registers a bound parameter and returns its placeholder.
    """
    if isinstance(query, str):
        query = parse_query(query)
    if dialect == "sqlite":
        backend: JsonSQL = SQLiteJsonSQL()
    elif dialect == "postgresql":
        backend = PostgresJsonSQL()
    else:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    compiler = _Compiler(backend, column, expand)
    sql = compiler.query(query)
    if dialect == "sqlite" and not _sqlite_parses(sql):
        sql = _coarsen(compiler, query)
    values = compiler.values
    text = _MARKER.sub(lambda match: param(values[int(match.group(1))]), sql)
    return SqlFilter(text, compiler.exact)


_MARKER = re.compile("\x00([0-9]+)\x00")
_TOO_DEEP = ("parser stack overflow", "Expression tree is too large")


@functools.lru_cache(maxsize=1024)
def _sqlite_parses(sql: str) -> bool:
    """Whether SQLite's parser accepts the filter: its stack is small (100 entries),
    and nested sub-queries and pending operators fill it. Parsing happens before
    name resolution, so an empty in-memory database is enough to find out."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("SELECT 1 WHERE " + _MARKER.sub("?", sql))
    except sqlite3.OperationalError as exc:
        return not any(reason in str(exc) for reason in _TOO_DEEP)
    except sqlite3.Error:
        return True
    finally:
        probe.close()
    return True


def _coarsen(compiler: _Compiler, query: Query) -> str:
    """Replace the largest terms by a shallow superset until SQLite accepts the SQL."""
    sizes: dict[int, int] = {}
    for term in iter_terms(query):
        mark = len(compiler.values)
        sizes[id(term)] = len(compiler.query(term))
        del compiler.values[mark:]
    compiler.exact = False
    for term_id in sorted(sizes, key=sizes.__getitem__, reverse=True):
        compiler.coarse.add(term_id)
        compiler.values.clear()
        sql = compiler.query(query)
        if _sqlite_parses(sql):
            return sql
    raise AssertionError("a query of coarse terms is always shallow")


_Pred = Callable[[Location], str]


@dataclass(frozen=True, slots=True)
class _Heavy:
    """A predicate whose SQL is long: applied once to a row source yielding the
    elements of an array value or the value itself, rather than twice."""

    predicate: _Pred

    def __call__(self, loc: Location) -> str:
        return self.predicate(loc)


# -- the compiler ---------------------------------------------------------------------


class _Compiler:
    def __init__(self, backend: JsonSQL, column: str, expand: Expand) -> None:
        self.db = backend
        self.column = column
        self.expand = expand
        self.values: list[object] = []
        self.exact = True
        self.aliases = 0
        # Set when a predicate of the comparison being compiled is only a superset.
        self.approximate = False
        # ids of the terms to compile as a shallow superset (see _coarsen).
        self.coarse: set[int] = set()

    def approximated(self) -> None:
        self.exact = False
        self.approximate = True

    def bind(self, value: object) -> str:
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"

    def alias(self, prefix: str) -> str:
        self.aliases += 1
        return f"q{prefix}{self.aliases}"

    def negate(self, sql: str) -> str:
        return f"NOT COALESCE({sql}, FALSE)"

    # logical structure

    def query(self, node: Query) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.query(term) for term in node.terms) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.query(term) for term in node.terms) + ")"
        if id(node) in self.coarse:
            # Every term but a negated existence needs its top-level attribute.
            if isinstance(node, Exists) and node.negated:
                return self.db.true
            iri = self.expand(node.path.attribute)
            return self.db.exists(self.db.attribute(self.column, iri))
        if isinstance(node, Exists):
            return self.exists_term(node)
        return self.comparison(node)

    # target elements

    def over_instances(self, path: AttrPath, condition: Callable[[Location], str]) -> str:
        """``condition`` holds for some instance addressed by the path's names."""
        iris = [self.expand(name) for name in path.attributes]
        return self._over(self.db.attribute(self.column, iris[0]), iris[1:], condition)

    def _over(self, loc: Location, rest: list[str], condition: Callable[[Location], str]) -> str:
        def at_instance(instance: Location) -> str:
            if rest:
                return self._over(self.db.member(instance, rest[0]), rest[1:], condition)
            return condition(instance)

        single = at_instance(loc)
        alias = self.alias("i")
        source, element = self.db.instances(loc, alias)
        several = at_instance(element)
        # The outer type test is redundant with the row source's own guard, but lets
        # the database skip the sub-query for single instances (the usual case).
        return (
            f"({single} OR {self.db.is_array(loc)} AND EXISTS (SELECT 1 FROM {source}"
            f" WHERE {self.db.is_object(element)} AND {several}))"
        )

    def with_candidates(
        self, instance: Location, member: str, path: AttrPath, test: Callable[[Location], str]
    ) -> str:
        """``test`` holds for some target value of ``instance`` read from ``member``
        (ignored when the path ends with a metadata name)."""
        if path.metadata is not None:
            return test(self.db.member(instance, path.metadata))
        loc = self.db.member(instance, member)
        keys = path.trailing or ((ANY_KEY,) if member == "languageMap" else ())
        for key in keys:
            if key == ANY_KEY:
                alias = self.alias("m")
                source, element = self.db.members(loc, alias)
                return (
                    f"({self.db.is_object(loc)} AND EXISTS (SELECT 1 FROM {source}"
                    f" WHERE {test(element)}))"
                )
            loc = self.db.member(loc, key)
        return test(loc)

    def any_candidate(
        self,
        instance: Location,
        members: tuple[str, ...],
        path: AttrPath,
        test: Callable[[Location], str],
    ) -> str:
        if path.metadata is not None:
            members = members[:1]
        parts = [self.with_candidates(instance, member, path, test) for member in members]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def value_test(self, loc: Location, predicate: _Pred) -> str:
        """``predicate`` holds for the value, or for an element of the array value."""
        alias = self.alias("e")
        if isinstance(predicate, _Heavy):
            rows = self.db.elements_or_self(loc, alias)
            if rows is not None:
                source, element = rows
                return f"EXISTS (SELECT 1 FROM {source} WHERE {predicate(element)})"
        source, element = self.db.elements(loc, alias)
        return (
            f"({predicate(loc)} OR {self.db.is_array(loc)} AND EXISTS (SELECT 1 FROM {source}"
            f" WHERE {predicate(element)}))"
        )

    # terms

    def exists_term(self, term: Exists) -> str:
        path = term.path
        if path.metadata is None and not path.trailing:
            sql = self.over_instances(path, self.db.is_object)
        else:
            sql = self.over_instances(
                path,
                lambda instance: self.any_candidate(instance, ALL_MEMBERS, path, self.db.exists),
            )
        return self.negate(sql) if term.negated else sql

    def comparison(self, term: Comparison) -> str:
        path, op = term.path, term.op
        self.approximate = False
        groups: list[tuple[tuple[str, ...], _Pred | None]] = [
            (members, self.element_predicate(values, op))
            for members, values in applicable_members(term)
        ]
        if any(predicate is None for _, predicate in groups):
            self.approximated()
        # A superset predicate keeps a positive comparison a superset, but would make
        # its negation a subset: negations then fall back to their precondition.
        approximate = self.approximate

        def positive(instance: Location) -> str:
            parts = []
            for members, predicate in groups:
                if predicate is None:
                    continue
                parts.append(
                    self.any_candidate(
                        instance, members, path, lambda loc, p=predicate: self.value_test(loc, p)
                    )
                )
            return "(" + " OR ".join(parts) + ")" if parts else self.db.false

        def has_string(instance: Location) -> str:
            return self.any_candidate(
                instance,
                VALUE_MEMBERS + STRING_MEMBERS,
                path,
                lambda loc: self.value_test(loc, self.db.is_string),
            )

        if op is Op.NE:

            def condition(instance: Location) -> str:
                has_value = self.any_candidate(instance, ALL_MEMBERS, path, self.db.exists)
                if approximate:
                    return has_value
                return f"({has_value} AND {self.negate(positive(instance))})"

        elif op is Op.NOT_MATCH:

            def condition(instance: Location) -> str:
                if approximate:
                    return has_string(instance)
                return f"({has_string(instance)} AND {self.negate(positive(instance))})"

        elif approximate and op.is_pattern:
            condition = has_string
        else:
            condition = positive
        return self.over_instances(path, condition)

    # element predicates

    def element_predicate(self, values: list[Literal] | Pattern | Range, op: Op) -> _Pred | None:
        """SQL predicate on one scalar element for the positive form of ``op``; ``None``
        when it cannot be expressed exactly."""
        if isinstance(values, Pattern):
            return self.pattern_predicate(values)
        if isinstance(values, Range):
            if values.low.kind.temporal:
                low_key, high_key = values.low.temporal_key, values.high.temporal_key
                return self.temporal_predicate(
                    values.low.kind,
                    lambda key: (
                        f"{key} >= {self.db.key_param(self.bind(low_key))}"
                        f" AND {key} <= {self.db.key_param(self.bind(high_key))}"
                    ),
                )
            low = self.literal_predicate(values.low, Op.GE)
            high = self.literal_predicate(values.high, Op.LE)
            return lambda loc: f"({low(loc)} AND {high(loc)})"
        positive = Op.EQ if op is Op.NE else op
        if len(values) == 1:
            return self.literal_predicate(values[0], positive)
        return self.list_predicate(values)

    def literal_predicate(self, literal: Literal, op: Op) -> _Pred:
        kind = literal.kind
        if kind is Kind.NUMBER:
            number, exact = self.db.number_value(_number(literal))
            if not exact:
                self.approximated()
                return self.db.is_number
            return lambda loc: self.db.number(loc, op, self.bind(number))
        if kind.stringlike:
            return lambda loc: self.db.string(loc, op, self.bind(literal.value))
        if kind is Kind.BOOLEAN:
            flag = bool(literal.value)
            return lambda loc: self.db.boolean(loc, flag)
        symbol = SQL_OPERATORS[op]
        key = literal.temporal_key
        return self.temporal_predicate(
            kind, lambda expr: f"{expr} {symbol} {self.db.key_param(self.bind(key))}"
        )

    def list_predicate(self, items: list[Literal]) -> _Pred:
        numbers = [item for item in items if item.kind is Kind.NUMBER]
        strings = [item for item in items if item.kind.stringlike]
        others = [item for item in items if item.kind is Kind.BOOLEAN or item.kind.temporal]
        parts: list[_Pred] = []
        if numbers:
            converted = [self.db.number_value(_number(item)) for item in numbers]
            if all(exact for _, exact in converted):
                parts.append(
                    lambda loc: self.db.number_in(loc, [self.bind(v) for v, _ in converted])
                )
            else:
                self.approximated()
                parts.append(self.db.is_number)
        if strings:
            parts.append(
                lambda loc: self.db.string_in(loc, [self.bind(item.value) for item in strings])
            )
        temporal: dict[Kind, list[int]] = {}
        for item in others:
            if item.kind is Kind.BOOLEAN:
                parts.append(lambda loc, flag=bool(item.value): self.db.boolean(loc, flag))
            else:
                temporal.setdefault(item.kind, []).append(item.temporal_key)
        for kind, keys in temporal.items():
            parts.append(
                self.temporal_predicate(
                    kind,
                    lambda expr, keys=keys: (
                        f"{expr} IN ("
                        + ", ".join(self.db.key_param(self.bind(key)) for key in keys)
                        + ")"
                    ),
                )
            )
        if len(parts) == 1:
            return parts[0]

        def any_part(loc: Location) -> str:
            return "(" + " OR ".join(part(loc) for part in parts) + ")"

        return _Heavy(any_part) if temporal else any_part

    def pattern_predicate(self, pattern: Pattern) -> _Pred | None:
        literal = _literal_pattern(pattern.regex)
        if literal is None:
            return None
        anchored, text = literal
        if anchored:
            return lambda loc: self.db.text_test(
                loc, lambda expr: self.db.starts_with(expr, len(text), self.bind(text))
            )
        return lambda loc: self.db.text_test(
            loc, lambda expr: self.db.contains(expr, self.bind(text))
        )

    # temporal values

    def temporal_predicate(self, kind: Kind, test: Callable[[str], str]) -> _Pred:
        """Predicate: the element is a temporal value of ``kind`` whose key passes
        ``test(key_sql)``."""

        def predicate(loc: Location) -> str:
            return self.temporal_exists(self.db.temporal_text(loc), kind, test)

        return _Heavy(predicate)

    def temporal_exists(self, text_sql: str, kind: Kind, test: Callable[[str], str]) -> str:
        """EXISTS test on the temporal key of ``text_sql`` (see :mod:`.temporal`).

        The text is validated (format, then calendar) and the key computed with integer
        arithmetic only, identically on both databases. On PostgreSQL, casts must not
        see malformed text (they would raise), so every field is guarded by the format
        check and derived tables are fenced; SQLite's casts never fail, and its parser
        stack is small, so there the derived tables are fewer.
        """
        db = self.db
        guarded = isinstance(db, PostgresJsonSQL)
        a, b = self.alias("t"), self.alias("t")
        s = f"{a}.s"
        if kind is Kind.DATETIME:
            zone_of: Callable[[str], str] = db.datetime_zone_length
            valid_of: Callable[[str, str], str] = db.datetime_format
        elif kind is Kind.TIME:
            zone_of, valid_of = db.time_zone_length, db.time_format
        else:
            zone_of, valid_of = (lambda text: "0"), (lambda text, zone: db.date_format(text))
        if guarded:
            c = self.alias("t")
            raw = f"{c}.s"
            source = (
                f"(SELECT {raw} AS s, {valid_of(raw, zone_of(raw))} AS ok, {zone_of(raw)} AS z"
                f" FROM (SELECT {text_sql} AS s{db.fence()}) AS {c}{db.fence()}) AS {a}"
            )
            zone = f"{a}.z"

            def guard(expr: str) -> str:
                return f"CASE WHEN {a}.ok THEN {expr} END"

        else:
            source = f"(SELECT {text_sql} AS s) AS {a}"
            zone = zone_of(s)

            def guard(expr: str) -> str:
                return expr

        def number(start: int | str, length: int = 2) -> str:
            return f"CAST(substr({s}, {start}, {length}) AS BIGINT)"

        def fraction(start: int, fixed: int) -> str:
            size = db.greatest(f"length({s}) - {fixed} - {zone}", "0")
            return f"CAST(substr(substr({s}, {start}, {size}) || '000000', 1, 6) AS BIGINT)"

        fields: dict[str, str] = {}
        if not guarded:
            fields["ok"] = valid_of(s, zone)
        if kind is Kind.TIME:
            fields.update(h=number(1), mi=number(4), se=number(7), fr=fraction(10, 9))
        else:
            fields.update(
                y=number(1, 4),
                mo=number(6),
                d=number(9),
                y2=f"{number(1, 4)} + 400 - CASE WHEN {number(6)} <= 2 THEN 1 ELSE 0 END",
                mp=f"({number(6)} + 9) % 12",
            )
        if kind is Kind.DATETIME:
            offset = (
                f"CASE WHEN {zone} = 6 THEN (CASE WHEN substr({s}, length({s}) - 5, 1) = '-'"
                f" THEN -1 ELSE 1 END) * ({number(f'length({s}) - 4')} * 3600"
                f" + {number(f'length({s}) - 1')} * 60) ELSE 0 END"
            )
            fields.update(
                h=number(12),
                mi=number(15),
                se=number(18),
                fr=fraction(21, 20),
                zh=f"CASE WHEN {zone} = 6 THEN {number(f'length({s}) - 4')} ELSE 0 END",
                zm=f"CASE WHEN {zone} = 6 THEN {number(f'length({s}) - 1')} ELSE 0 END",
                off=offset,
            )
        columns = ", ".join(f"{guard(expr)} AS {name}" for name, expr in fields.items())
        checks = [
            f"{b}.ok" if not guarded else f"{b}.{'h' if kind is Kind.TIME else 'y'} IS NOT NULL"
        ]
        if kind is Kind.TIME:
            key = f"({b}.h * 3600 + {b}.mi * 60 + {b}.se) * 1000000 + {b}.fr"
        else:
            leap = (
                f"CASE WHEN ({b}.y % 4 = 0 AND {b}.y % 100 <> 0) OR {b}.y % 400 = 0"
                " THEN 1 ELSE 0 END"
            )
            month_days = (
                f"CASE WHEN {b}.mo = 2 THEN 28 + {leap} ELSE 30 + ({b}.mo + {b}.mo / 8) % 2 END"
            )
            checks.append(f"{b}.mo BETWEEN 1 AND 12 AND {b}.d BETWEEN 1 AND {month_days}")
            days = (
                f"({b}.y2 / 400 * 146097 + {b}.y2 % 400 * 365 + {b}.y2 % 400 / 4"
                f" - {b}.y2 % 400 / 100 + (153 * {b}.mp + 2) / 5 + {b}.d - 865566)"
            )
            if kind is Kind.DATE:
                key = days
            else:
                checks.append(f"{b}.zh <= 23 AND {b}.zm <= 59")
                key = (
                    f"({days} * 86400 + {b}.h * 3600 + {b}.mi * 60 + {b}.se - {b}.off)"
                    f" * 1000000 + {b}.fr"
                )
        if kind is not Kind.DATE:
            checks.append(f"{b}.h <= 23 AND {b}.mi <= 59 AND {b}.se <= 59")
        checks.append(test(f"({key})"))
        derived = f"(SELECT {columns} FROM {source}{db.fence()}) AS {b}"
        return f"EXISTS (SELECT 1 FROM {derived} WHERE {' AND '.join(checks)})"


def _number(literal: Literal) -> int | float:
    value = literal.value
    assert type(value) in (int, float)
    return value  # type: ignore[return-value]


_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")
_ESCAPABLE = frozenset("!\"#%&',-/:;<=>@_`~ ") | _REGEX_SPECIAL


def _literal_pattern(regex: str) -> tuple[bool, str] | None:
    """``(anchored, text)`` when ``regex`` only matches the literal ``text`` (at the
    start if anchored with ``^``), else ``None``."""
    anchored = regex.startswith("^")
    body = regex[1:] if anchored else regex
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            if index + 1 < len(body) and body[index + 1] in _ESCAPABLE:
                out.append(body[index + 1])
                index += 2
                continue
            return None
        if char in _REGEX_SPECIAL:
            return None
        out.append(char)
        index += 1
    return anchored, "".join(out)
