"""Parser of the NGSI-LD query language (ETSI GS CIM 009 v1.8, clause 4.9).

Grammar accepted (whitespace between tokens is ignored)::

    query      = or-expr
    or-expr    = and-expr *("|" and-expr)
    and-expr   = primary *(";" primary)
    primary    = "(" or-expr ")" / "!" path / path [operator value]
    path       = name *("." name) *("[" key *("." key) "]")
    operator   = "==" / "!=" / ">=" / ">" / "<=" / "<" / "~=" / "!~="

``;`` (AND) binds tighter than ``|`` (OR), as clause 4.9 mandates ("the logical AND
operator shall take precedence over the logical OR operator"); parentheses group.
The spec's own grammar only allows query terms inside one level of parentheses, its
examples nest them (``((speed>50|rpm>3000);brandName=="Mercedes")``): any nesting is
accepted, up to :attr:`QueryLimits.max_depth`.

Values:

* ``==`` and ``!=`` take a number, a quoted string, ``true``/``false``, a date-time, a
  date, a time, an unquoted URI, a range ``low..high`` of comparable values of one
  kind, or a comma-separated list of values;
* ``>``, ``>=``, ``<``, ``<=`` take a number, a quoted string, a date-time, a date or a
  time;
* ``~=`` and ``!~=`` take a regular expression, preferably quoted: ``"..."`` holds the
  pattern verbatim (a backslash and the character after it are kept as they are, so
  ``\\"`` puts a quote in the pattern). Unquoted, the pattern runs up to the first
  ``;``, ``|`` or unbalanced ``)``.

The query text is expected already URL-decoded. Because form decoding turns ``+``
into a space, a date-time or time zone written ``2018-08-07T12:00:00 02:00`` is read
as ``+02:00``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass

from qala.hub.regex import PatternError

from .ast import (
    ANY_KEY,
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
    Value,
    ValueList,
    _is_letter,
    _is_term_char,
    is_bare_uri,
    is_trailing_key_char,
)
from .errors import QuerySyntaxError, QueryTooComplex
from .temporal import date_key, datetime_key, time_key

__all__ = ["DEFAULT_LIMITS", "QueryLimits", "parse_query"]


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Complexity limits enforced while parsing (exceeding one raises
    :class:`~qala.ngsild.query.errors.QueryTooComplex`)."""

    #: Maximum length of the query text, in characters.
    max_length: int = 4096
    #: Maximum number of query terms (``attr``, ``!attr``, ``attr op value``).
    max_terms: int = 64
    #: Maximum nesting depth of parentheses.
    max_depth: int = 8
    #: Maximum number of values in one value list.
    max_values: int = 64
    #: Maximum length of one regular expression, in characters.
    max_pattern_length: int = 256


DEFAULT_LIMITS = QueryLimits()

_WHITESPACE = " \t\r\n"
# Characters that end an unquoted value.
_VALUE_END = frozenset(' \t\r\n;|),"')

_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+\- ][0-9]{2}:[0-9]{2})?"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z?")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_BOOLEAN = re.compile(r"true|false")

_OPERATORS: tuple[tuple[str, Op], ...] = (
    ("==", Op.EQ),
    ("!~=", Op.NOT_MATCH),
    ("!=", Op.NE),
    ("~=", Op.MATCH),
    (">=", Op.GE),
    ("<=", Op.LE),
    (">", Op.GT),
    ("<", Op.LT),
)


def parse_query(text: str, *, limits: QueryLimits = DEFAULT_LIMITS) -> Query:
    """Parse the (URL-decoded) text of a ``q`` parameter.

    Raises :class:`~qala.ngsild.query.errors.QuerySyntaxError` on malformed input and
    :class:`~qala.ngsild.query.errors.QueryTooComplex` when a limit is exceeded.
    """
    if not isinstance(text, str):
        raise TypeError("the query must be a str")
    if len(text) > limits.max_length:
        raise QueryTooComplex(
            f"the query is {len(text)} characters long; at most {limits.max_length} are allowed",
            "max_length",
            limits.max_length,
        )
    return _Parser(text, limits).parse()


class _Parser:
    def __init__(self, text: str, limits: QueryLimits) -> None:
        self.text = text
        self.pos = 0
        self.limits = limits
        self.terms = 0

    # -- helpers -------------------------------------------------------------------

    def error(self, detail: str, position: int | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(detail, self.text, self.pos if position is None else position)

    def skip_space(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        self.pos = pos

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def describe_here(self) -> str:
        if self.at_end():
            return "the end of the query"
        return repr(self.text[self.pos])

    # -- logical structure ---------------------------------------------------------

    def parse(self) -> Query:
        self.skip_space()
        if self.at_end():
            raise self.error("the query is empty")
        query = self.parse_or(0)
        self.skip_space()
        if not self.at_end():
            if self.peek() == ")":
                raise self.error("unbalanced ')': no '(' to close")
            raise self.error(
                f"unexpected {self.describe_here()}: expected ';', '|' or the end of the query"
            )
        return query

    def parse_or(self, depth: int) -> Query:
        terms = [self.parse_and(depth)]
        while True:
            self.skip_space()
            if self.peek() != "|":
                break
            self.pos += 1
            terms.append(self.parse_and(depth))
        return _combine(Or, terms)

    def parse_and(self, depth: int) -> Query:
        terms = [self.parse_primary(depth)]
        while True:
            self.skip_space()
            if self.peek() != ";":
                break
            self.pos += 1
            terms.append(self.parse_primary(depth))
        return _combine(And, terms)

    def parse_primary(self, depth: int) -> Query:
        self.skip_space()
        char = self.peek()
        if char == "(":
            if depth + 1 > self.limits.max_depth:
                raise QueryTooComplex(
                    f"parentheses are nested more than {self.limits.max_depth} levels deep",
                    "max_depth",
                    self.limits.max_depth,
                )
            opening = self.pos
            self.pos += 1
            inner = self.parse_or(depth + 1)
            self.skip_space()
            if self.peek() != ")":
                if self.at_end():
                    raise self.error("missing ')' to close the '(' opened here", opening)
                raise self.error(f"unexpected {self.describe_here()}: expected ';', '|' or ')'")
            self.pos += 1
            return inner
        if char == "!":
            self.pos += 1
            self.skip_space()
            if self.peek() == "(":
                raise self.error("'!' can only negate an attribute path, not a group")
            path = self.parse_path()
            self.count_term()
            self.skip_space()
            if self.peek() in ("=", "!", "~", "<", ">"):
                raise self.error(
                    "'!' tests that an attribute is absent and cannot be followed by an "
                    "operator: use '!=' or '!~=' to negate a comparison"
                )
            return Exists(path, negated=True)
        if char in ("", ";", "|", ")"):
            raise self.error(f"expected a query term, found {self.describe_here()}")
        path = self.parse_path()
        self.count_term()
        self.skip_space()
        op = self.parse_operator()
        if op is None:
            return Exists(path)
        self.skip_space()
        value = self.parse_value(op)
        return Comparison(path, op, value)

    def count_term(self) -> None:
        self.terms += 1
        if self.terms > self.limits.max_terms:
            raise QueryTooComplex(
                f"the query has more than {self.limits.max_terms} terms",
                "max_terms",
                self.limits.max_terms,
            )

    # -- attribute paths -----------------------------------------------------------

    def parse_name(self, what: str) -> str:
        text, start = self.text, self.pos
        if start >= len(text) or not _is_letter(text[start]):
            raise self.error(f"expected {what} (a name starting with a letter)")
        pos = start + 1
        while pos < len(text) and _is_term_char(text[pos]):
            pos += 1
        # A compact IRI: prefix:name.
        if pos + 1 < len(text) and text[pos] == ":" and _is_letter(text[pos + 1]):
            pos += 2
            while pos < len(text) and _is_term_char(text[pos]):
                pos += 1
        self.pos = pos
        return text[start:pos]

    def parse_path(self) -> AttrPath:
        start = self.pos
        names = [self.parse_name("an attribute name")]
        while self.peek() == ".":
            self.pos += 1
            if names[-1] in METADATA_MEMBERS and len(names) > 1:
                raise self.error(f"'{names[-1]}' can only end an attribute path", self.pos - 1)
            names.append(self.parse_name("a sub-attribute name after '.'"))
        trailing: list[str] = []
        while self.peek() == "[":
            if len(names) > 1 and names[-1] in METADATA_MEMBERS:
                raise self.error(f"'{names[-1]}' cannot be followed by a trailing path")
            self.pos += 1
            trailing.append(self.parse_key())
            while self.peek() == ".":
                self.pos += 1
                trailing.append(self.parse_key())
            if self.peek() != "]":
                raise self.error(
                    f"unexpected {self.describe_here()} in a trailing path: expected ']'"
                )
            self.pos += 1
        for index, key in enumerate(trailing[:-1]):
            if key == ANY_KEY:
                raise self.error(f"'*' can only end a trailing path (key {index + 1})", start)
        return AttrPath(tuple(names), tuple(trailing))

    def parse_key(self) -> str:
        text, start = self.text, self.pos
        if self.peek() == ANY_KEY:
            self.pos += 1
            return ANY_KEY
        pos = start
        while pos < len(text) and is_trailing_key_char(text[pos]):
            pos += 1
        if pos == start:
            raise self.error(
                f"expected a member name in the trailing path, found {self.describe_here()}"
            )
        self.pos = pos
        return text[start:pos]

    # -- operators and values ------------------------------------------------------

    def parse_operator(self) -> Op | None:
        text = self.text
        for symbol, op in _OPERATORS:
            if text.startswith(symbol, self.pos):
                self.pos += len(symbol)
                return op
        char = self.peek()
        if char in ("", ";", "|", ")"):
            return None
        if char == "=":
            raise self.error("unknown operator '=': use '==' to compare for equality")
        if char == "!":
            raise self.error("unknown operator after the attribute path: expected '!=' or '!~='")
        if char == "~":
            raise self.error("unknown operator '~': use '~=' to match a regular expression")
        if char == "{":
            raise self.error(
                "linked-entity paths (attr{...}, clause 4.5.23) are not supported in q"
            )
        raise self.error(
            f"unexpected {self.describe_here()} after the attribute path: expected an "
            "operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|' or ')'"
        )

    def parse_value(self, op: Op) -> Value:
        if op.is_pattern:
            return self.parse_pattern(op)
        start = self.pos
        first = self.parse_scalar(op)
        if op.is_ordering:
            if not first.kind.comparable:
                raise self.error(
                    f"'{op}' compares numbers, quoted strings, dates, times and date-times; "
                    f"{first} is a {first.kind.value}",
                    start,
                )
            return first
        self.skip_space()
        if self.text.startswith("..", self.pos):
            if not first.kind.comparable:
                raise self.error(
                    f"a range needs comparable bounds; {first} is a {first.kind.value}", start
                )
            self.pos += 2
            self.skip_space()
            second_start = self.pos
            second = self.parse_scalar(op)
            if second.kind is not first.kind:
                raise self.error(
                    f"both bounds of a range must be of one kind: {first} is a "
                    f"{first.kind.value}, {second} is a {second.kind.value}",
                    second_start,
                )
            return Range(first, second)
        if self.peek() == ",":
            items = [first]
            while self.peek() == ",":
                self.pos += 1
                self.skip_space()
                items.append(self.parse_scalar(op))
                if len(items) > self.limits.max_values:
                    raise QueryTooComplex(
                        f"a value list has more than {self.limits.max_values} values",
                        "max_values",
                        self.limits.max_values,
                    )
                self.skip_space()
            if self.text.startswith("..", self.pos):
                raise self.error("a value list cannot contain ranges")
            return ValueList(tuple(items))
        return first

    def parse_scalar(self, op: Op) -> Literal:
        text, pos = self.text, self.pos
        if pos >= len(text) or text[pos] in ";|)":
            raise self.error(f"expected a value after '{op}'")
        if text[pos] == '"':
            return self.parse_string()
        for regex, kind in (
            (_DATETIME, Kind.DATETIME),
            (_DATE, Kind.DATE),
            (_TIME, Kind.TIME),
            (_NUMBER, Kind.NUMBER),
            (_BOOLEAN, Kind.BOOLEAN),
        ):
            match = regex.match(text, pos)
            if match is None or not self.value_ends(match.end()):
                continue
            self.pos = match.end()
            return self.make_literal(kind, match, pos)
        end = pos
        while end < len(text) and text[end] not in _VALUE_END:
            end += 1
        word = text[pos:end]
        if word and is_bare_uri(word):
            self.pos = end
            return Literal(Kind.URI, word)
        if not word:
            raise self.error(f"expected a value after '{op}', found {self.describe_here()}")
        raise self.error(
            f"invalid value {word!r}: strings must be double-quoted; unquoted values are "
            "numbers, true, false, date-times, dates, times and URIs"
        )

    def value_ends(self, end: int) -> bool:
        text = self.text
        return end >= len(text) or text[end] in _VALUE_END or text.startswith("..", end)

    def make_literal(self, kind: Kind, match: re.Match[str], start: int) -> Literal:
        word = match.group(0)
        if kind is Kind.NUMBER:
            number: int | float
            if match.group(1) is None and match.group(2) is None:
                # beyond any float it compares with nothing (and the SQL cannot hold it)
                if len(word) > 310:
                    raise self.error(f"the number {word[:40]}… is out of range", start)
                number = int(word)
                if abs(number) > sys.float_info.max:
                    raise self.error(f"the number {word[:40]}… is out of range", start)
            else:
                number = float(word)
                if number in (float("inf"), float("-inf")):
                    raise self.error(f"the number {word} is out of range", start)
            return Literal(Kind.NUMBER, number)
        if kind is Kind.BOOLEAN:
            return Literal(Kind.BOOLEAN, word == "true")
        if kind is Kind.DATETIME:
            if len(word) >= 25 and word[-6] == " ":
                word = word[:-6] + "+" + word[-5:]
            valid = datetime_key(word) is not None
        elif kind is Kind.DATE:
            valid = date_key(word) is not None
        else:
            valid = time_key(word) is not None
        if not valid:
            raise self.error(f"{word!r} is not a valid {kind.value}", start)
        return Literal(kind, word)

    def parse_string(self) -> Literal:
        text, start = self.text, self.pos
        pos = start + 1
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                pos += 2
                continue
            if char == '"':
                break
            pos += 1
        else:
            raise self.error("unterminated string: missing closing '\"'", start)
        try:
            value = json.loads(text[start : pos + 1])
        except ValueError as exc:
            raise self.error(
                f"invalid string literal: {exc.args[0].split(':')[0]}", start
            ) from None
        if "\x00" in value:
            raise self.error("strings cannot contain the NUL character", start)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self.error("strings cannot contain unpaired surrogates", start) from None
        self.pos = pos + 1
        return Literal(Kind.STRING, value)

    def parse_pattern(self, op: Op) -> Pattern:
        text, start = self.text, self.pos
        if start >= len(text):
            raise self.error(f"expected a regular expression after '{op}'")
        if text[start] == '"':
            pos = start + 1
            chunks: list[str] = []
            while pos < len(text) and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < len(text):
                    chunks.append(text[pos : pos + 2])
                    pos += 2
                else:
                    chunks.append(text[pos])
                    pos += 1
            if pos >= len(text):
                raise self.error("unterminated regular expression: missing closing '\"'", start)
            regex = "".join(chunks)
            end = pos + 1
        else:
            pos, depth = start, 0
            while pos < len(text):
                char = text[pos]
                if char == "\\":
                    pos += 2
                    continue
                if char == "(":
                    depth += 1
                elif char == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif char in ";|" and depth == 0:
                    break
                pos += 1
            pos = min(pos, len(text))
            regex = text[start:pos].rstrip(_WHITESPACE)
            end = pos
            if not regex:
                raise self.error(f"expected a regular expression after '{op}'")
        if len(regex) > self.limits.max_pattern_length:
            raise QueryTooComplex(
                "the regular expression is longer than "
                f"{self.limits.max_pattern_length} characters",
                "max_pattern_length",
                self.limits.max_pattern_length,
            )
        try:
            pattern = Pattern(regex)
        except PatternError as exc:
            raise self.error(f"invalid regular expression {regex!r}: {exc.msg}", start) from None
        self.pos = end
        return pattern


def _combine(node: type[And] | type[Or], terms: list[Query]) -> Query:
    """Build an n-ary And/Or, flattening nested nodes of the same kind."""
    if len(terms) == 1:
        return terms[0]
    flat: list[Query] = []
    for term in terms:
        if isinstance(term, node):
            flat.extend(term.terms)
        else:
            flat.append(term)
    return node(tuple(flat))
