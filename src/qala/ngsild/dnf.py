"""Boolean expressions over names, read into disjunctive normal form.

NGSI-LD type expressions (``type=(A;B)|C``) and scope queries (``scopeQ=/Astana/#;/Esil``)
share one grammar: ``,`` or ``|`` for OR, ``;`` for AND (binding tighter), parentheses to
group. The result is a list of groups: the expression holds when all terms of any group hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qala.hub.errors import BadRequestData, TooComplexQuery

_TOKEN = re.compile(r"\s*([(),;|]|[^(),;|\s]+)")

#: The most parenthesised groups an expression may have (the parser recurses into each).
MAX_GROUPS = 32
#: The most groups the normal form may have (an AND of ORs multiplies them).
MAX_TERMS = 64


def parse_dnf(raw: str, what: str, term: Callable[[str | None], str]) -> list[list[str]]:
    """``raw`` in disjunctive normal form, each term given by ``term``.

    ``what`` names the expression in errors (``type expression``, ``scopeQ``). ``term``
    receives the token where a term must stand — ``None`` at the end of the text, or a
    delimiter — and returns the term or raises BadRequestData.
    """
    tokens = [m.group(1) for m in _TOKEN.finditer(raw)]
    if not tokens or "".join(tokens) != re.sub(r"\s+", "", raw):
        raise BadRequestData(f"invalid {what} {raw!r}")
    if tokens.count("(") > MAX_GROUPS:
        raise TooComplexQuery(f"{what} {raw[:80]!r} has more than {MAX_GROUPS} groups")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def disjunction() -> list[list[str]]:
        nonlocal pos
        groups = conjunction()
        while peek() in (",", "|"):
            pos += 1
            groups = groups + conjunction()
        return groups

    def conjunction() -> list[list[str]]:
        nonlocal pos
        groups = factor()
        while peek() == ";":
            pos += 1
            right = factor()
            groups = [a + b for a in groups for b in right]
        return groups

    def factor() -> list[list[str]]:
        nonlocal pos
        token = peek()
        if token == "(":
            pos += 1
            inner = disjunction()
            if peek() != ")":
                raise BadRequestData(f"invalid {what} {raw!r}: missing ')'")
            pos += 1
            return inner
        value = term(token)
        pos += 1
        return [[value]]

    groups = disjunction()
    if pos != len(tokens):
        raise BadRequestData(f"invalid {what} {raw!r}: unexpected {tokens[pos]!r}")
    if len(groups) > MAX_TERMS:
        raise BadRequestData(f"{what} {raw!r} is too complex")
    return groups
