"""Abstract syntax tree of an NGSI-LD query (the ``q`` parameter).

Every node is an immutable dataclass; ``str(node)`` gives back the query in canonical
q syntax, which :func:`qala.ngsild.query.parser.parse_query` turns into an equal tree.

Attribute paths keep the *compact* names as the client wrote them; the caller expands
them against the request's @context (see :class:`AttrPath`).
"""

from __future__ import annotations

import enum
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from qala.hub.regex import compile_pattern

from .temporal import date_key, datetime_key, time_key

__all__ = [
    "METADATA_MEMBERS",
    "And",
    "AttrPath",
    "Comparison",
    "Exists",
    "Kind",
    "Literal",
    "Op",
    "Or",
    "Pattern",
    "Query",
    "Range",
    "Term",
    "Value",
    "ValueList",
    "is_attr_name",
    "is_trailing_key",
    "iter_terms",
]

#: Names that, after a dot, address a member of the attribute instance itself rather
#: than a sub-attribute. They are never expanded.
METADATA_MEMBERS: frozenset[str] = frozenset(
    {"observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId"}
)

#: Trailing-path key meaning "any member" (e.g. any language of a LanguageProperty).
ANY_KEY = "*"


def _is_letter(char: str) -> bool:
    return unicodedata.category(char).startswith("L")


def _is_term_char(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LN"


def _is_simple_name(text: str) -> bool:
    return bool(text) and _is_letter(text[0]) and all(_is_term_char(c) for c in text[1:])


def is_attr_name(text: str) -> bool:
    """Whether ``text`` is an attribute name as the grammar allows it in a path.

    ``AttrName = unicodeLetter *(unicodeLetter / unicodeNumber / "_")``, optionally
    prefixed as a compact IRI (``prefix:name``).
    """
    prefix, colon, rest = text.partition(":")
    if colon:
        return _is_simple_name(prefix) and _is_simple_name(rest)
    return _is_simple_name(text)


def is_trailing_key_char(char: str) -> bool:
    """Characters allowed in a key of a trailing path (``attr[key.key]``)."""
    return char in "_-@:" or unicodedata.category(char)[0] in "LN"


def is_trailing_key(text: str) -> bool:
    """Whether ``text`` can be a key of a trailing path: JSON member names made of
    letters, digits, ``_``, ``-``, ``@`` and ``:``, or ``*`` for "any member"."""
    return text == ANY_KEY or (bool(text) and all(is_trailing_key_char(c) for c in text))


class Op(enum.Enum):
    """Comparison operators."""

    EQ = "=="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    MATCH = "~="
    NOT_MATCH = "!~="

    def __str__(self) -> str:
        return self.value

    @property
    def is_ordering(self) -> bool:
        return self in (Op.GT, Op.GE, Op.LT, Op.LE)

    @property
    def is_pattern(self) -> bool:
        return self in (Op.MATCH, Op.NOT_MATCH)


class Kind(enum.Enum):
    """Type of a literal query value."""

    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "dateTime"
    DATE = "date"
    TIME = "time"
    URI = "uri"

    @property
    def comparable(self) -> bool:
        """Kinds allowed with ordering operators and in ranges (``ComparableValue``)."""
        return self in (Kind.NUMBER, Kind.STRING, Kind.DATETIME, Kind.DATE, Kind.TIME)

    @property
    def stringlike(self) -> bool:
        """Kinds compared as strings (a URI is compared as the string it is)."""
        return self in (Kind.STRING, Kind.URI)

    @property
    def temporal(self) -> bool:
        return self in (Kind.DATETIME, Kind.DATE, Kind.TIME)


_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\"<>\\^`{}|;(),]+")


def is_bare_uri(text: str) -> bool:
    """Whether ``text`` can be written unquoted as a URI value in a query."""
    return _URI.fullmatch(text) is not None


_TEMPORAL_KEY = {Kind.DATETIME: datetime_key, Kind.DATE: date_key, Kind.TIME: time_key}


@dataclass(frozen=True, slots=True)
class Literal:
    """A single query value.

    ``value`` is an ``int`` or ``float`` for NUMBER, a ``bool`` for BOOLEAN and the
    text for every other kind (date-times keep the text as written, with a ``+`` zone
    sign restored if URL decoding had turned it into a space).
    """

    kind: Kind
    value: int | float | str | bool

    def __post_init__(self) -> None:
        kind, value = self.kind, self.value
        if kind is Kind.NUMBER:
            if (
                type(value) not in (int, float)
                or value != value
                or value
                in (
                    float("inf"),
                    float("-inf"),
                )
            ):
                raise ValueError(f"a NUMBER literal needs a finite int or float, not {value!r}")
        elif kind is Kind.BOOLEAN:
            if type(value) is not bool:
                raise ValueError(f"a BOOLEAN literal needs a bool, not {value!r}")
        elif type(value) is not str:
            raise ValueError(f"a {kind.name} literal needs a str, not {value!r}")
        elif kind.temporal:
            if _TEMPORAL_KEY[kind](value) is None:
                raise ValueError(f"{value!r} is not a valid {kind.value}")
        elif kind is Kind.URI and not is_bare_uri(value):
            raise ValueError(f"{value!r} cannot be written as an unquoted URI")

    @property
    def temporal_key(self) -> int:
        """The comparison key of a DATETIME, DATE or TIME literal."""
        key = _TEMPORAL_KEY[self.kind](str(self.value))
        assert key is not None
        return key

    def __str__(self) -> str:
        if self.kind is Kind.NUMBER:
            return repr(self.value) if type(self.value) is float else str(self.value)
        if self.kind is Kind.BOOLEAN:
            return "true" if self.value else "false"
        if self.kind is Kind.STRING:
            return json.dumps(self.value, ensure_ascii=False)
        return str(self.value)


@dataclass(frozen=True, slots=True)
class Range:
    """``low..high``, both bounds included; both of the same comparable kind."""

    low: Literal
    high: Literal

    def __post_init__(self) -> None:
        if not self.low.kind.comparable or self.low.kind is not self.high.kind:
            raise ValueError("range bounds must be comparable values of the same kind")

    def __str__(self) -> str:
        return f"{self.low}..{self.high}"


@dataclass(frozen=True, slots=True)
class ValueList:
    """``v1,v2,...``: matches if any of the values matches (at least two values)."""

    items: tuple[Literal, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("a value list has at least two values")

    def __str__(self) -> str:
        return ",".join(str(item) for item in self.items)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regular expression (RE2 syntax, see :mod:`qala.hub.regex`), for ``~=`` and ``!~=``."""

    regex: str

    def __post_init__(self) -> None:
        compile_pattern(self.regex)

    def __str__(self) -> str:
        out = ['"']
        chars = iter(self.regex)
        for char in chars:
            if char == "\\":
                out.append(char + next(chars, ""))
            elif char == '"':
                out.append('\\"')
            else:
                out.append(char)
        out.append('"')
        return "".join(out)


Value = Literal | Range | ValueList | Pattern


@dataclass(frozen=True, slots=True)
class AttrPath:
    """An attribute path: ``attr``, ``attr.sub.sub``, ``attr.observedAt``,
    ``attr[key.key]``.

    ``names[0]`` is the attribute, the following names are sub-attributes (sub-properties
    or sub-relationships), except a last name that is one of :data:`METADATA_MEMBERS`,
    which addresses that member of the instance. ``trailing`` is the path inside the
    value (the part in square brackets), empty when absent. Only the attribute and
    sub-attribute names are to be expanded against the @context.
    """

    names: tuple[str, ...]
    trailing: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("an attribute path has at least one name")
        for name in self.names:
            if not is_attr_name(name):
                raise ValueError(f"{name!r} is not a valid attribute name")
        for name in self.names[1:-1]:
            if name in METADATA_MEMBERS:
                raise ValueError(f"{name!r} can only end an attribute path")
        if self.trailing and self.metadata is not None:
            raise ValueError(f"{self.metadata!r} cannot be followed by a trailing path")
        for index, key in enumerate(self.trailing):
            if not is_trailing_key(key):
                raise ValueError(f"{key!r} is not a valid trailing path key")
            if key == ANY_KEY and index != len(self.trailing) - 1:
                raise ValueError("'*' can only end a trailing path")

    @property
    def attribute(self) -> str:
        """The (compact) top-level attribute name."""
        return self.names[0]

    @property
    def metadata(self) -> str | None:
        """The instance member addressed at the end of the path, if any."""
        if len(self.names) > 1 and self.names[-1] in METADATA_MEMBERS:
            return self.names[-1]
        return None

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attribute then sub-attribute names: the names to expand."""
        return self.names[:-1] if self.metadata is not None else self.names

    def __str__(self) -> str:
        text = ".".join(self.names)
        if self.trailing:
            text += "[" + ".".join(self.trailing) + "]"
        return text


@dataclass(frozen=True, slots=True)
class Exists:
    """``attr`` (the target element exists) or ``!attr`` (it does not)."""

    path: AttrPath
    negated: bool = False

    def __str__(self) -> str:
        return ("!" if self.negated else "") + str(self.path)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``path op value``."""

    path: AttrPath
    op: Op
    value: Value

    def __post_init__(self) -> None:
        op, value = self.op, self.value
        if op.is_pattern:
            if not isinstance(value, Pattern):
                raise ValueError(f"{op} needs a regular expression")
        elif isinstance(value, Pattern):
            raise ValueError(f"{op} cannot take a regular expression")
        elif op.is_ordering and not (isinstance(value, Literal) and value.kind.comparable):
            raise ValueError(f"{op} needs a number, a string, a date, a time or a date-time")

    def __str__(self) -> str:
        return f"{self.path}{self.op}{self.value}"


@dataclass(frozen=True, slots=True)
class And:
    """All of the terms match (``;``)."""

    terms: tuple[Query, ...]

    def __post_init__(self) -> None:
        if len(self.terms) < 2:
            raise ValueError("And needs at least two terms")

    def __str__(self) -> str:
        return ";".join(f"({term})" if isinstance(term, Or) else str(term) for term in self.terms)


@dataclass(frozen=True, slots=True)
class Or:
    """Any of the terms matches (``|``)."""

    terms: tuple[Query, ...]

    def __post_init__(self) -> None:
        if len(self.terms) < 2:
            raise ValueError("Or needs at least two terms")

    def __str__(self) -> str:
        return "|".join(str(term) for term in self.terms)


Term = Exists | Comparison
Query = And | Or | Exists | Comparison


def iter_terms(query: Query) -> Iterator[Term]:
    """The query terms (leaves) of ``query``, left to right."""
    if isinstance(query, And | Or):
        for term in query.terms:
            yield from iter_terms(term)
    else:
        yield query
