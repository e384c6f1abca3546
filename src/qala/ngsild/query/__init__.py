"""The NGSI-LD query language (the ``q`` parameter, ETSI GS CIM 009 clause 4.9).

* :func:`parse_query` turns the text into an AST (:mod:`.ast`), enforcing
  :class:`QueryLimits`;
* :func:`compile_matcher` compiles an AST into a fast predicate over an entity's
  ``data`` document: the reference semantics;
* :func:`compile_sql` compiles an AST into a SQL filter (SQLite or PostgreSQL) that
  selects the same entities (or a superset, flagged ``exact=False``): the compiler is
  :mod:`.compiler`, the JSON-reading SQL of each :data:`Dialect` is :mod:`.json_sql`.
"""

from .ast import (
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
    Term,
    Value,
    ValueList,
    iter_terms,
)
from .compiler import SqlFilter, compile_sql
from .errors import QueryError, QuerySyntaxError, QueryTooComplex
from .evaluate import Matcher, compile_matcher
from .json_sql import Dialect
from .parser import DEFAULT_LIMITS, QueryLimits, parse_query

__all__ = [
    "DEFAULT_LIMITS",
    "METADATA_MEMBERS",
    "And",
    "AttrPath",
    "Comparison",
    "Dialect",
    "Exists",
    "Kind",
    "Literal",
    "Matcher",
    "Op",
    "Or",
    "Pattern",
    "Query",
    "QueryError",
    "QueryLimits",
    "QuerySyntaxError",
    "QueryTooComplex",
    "Range",
    "SqlFilter",
    "Term",
    "Value",
    "ValueList",
    "compile_matcher",
    "compile_sql",
    "iter_terms",
    "parse_query",
]
