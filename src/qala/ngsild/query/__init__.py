"""The NGSI-LD query language (the ``q`` parameter, ETSI GS CIM 009 clause 4.9).

* :func:`parse_query` turns the text into an AST (:mod:`.ast`), enforcing
  :class:`QueryLimits`;
* :func:`compile_matcher` compiles an AST into a fast predicate over an entity's
  ``data`` document: the reference semantics;
* :func:`compile_sql` compiles an AST into a SQL filter (SQLite or PostgreSQL) that
  selects the same entities (or a superset, flagged ``exact=False``).
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
from .errors import QueryError, QuerySyntaxError, QueryTooComplex
from .evaluate import Matcher, compile_matcher
from .parser import DEFAULT_LIMITS, QueryLimits, parse_query
from .sql import Dialect, SqlFilter, compile_sql

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
