"""Errors raised while parsing an NGSI-LD query (the ``q`` parameter)."""

from __future__ import annotations

__all__ = ["QueryError", "QuerySyntaxError", "QueryTooComplex"]


class QueryError(ValueError):
    """Base class of every error about the text of a ``q`` query."""


def _locate(text: str, position: int) -> str:
    """A short excerpt of ``text`` with a marker at ``position``."""
    position = max(0, min(position, len(text)))
    before = text[max(0, position - 24) : position]
    after = text[position : position + 24]
    if position > 24:
        before = "…" + before
    if position + 24 < len(text):
        after = after + "…"
    return f"{before}⟨here⟩{after}"


class QuerySyntaxError(QueryError):
    """The query does not follow the NGSI-LD query language grammar.

    ``position`` is the 0-based index in the query text where parsing failed and
    ``detail`` the reason without the location; ``str(error)`` combines both into a
    message meant for the API client.
    """

    def __init__(self, detail: str, text: str = "", position: int = 0) -> None:
        self.detail = detail
        self.text = text
        self.position = position
        if text:
            message = f"{detail} (at character {position + 1}: {_locate(text, position)})"
        else:
            message = detail
        super().__init__(message)


class QueryTooComplex(QueryError):
    """The query exceeds one of the configured complexity limits."""

    def __init__(self, detail: str, limit: str, maximum: int) -> None:
        self.detail = detail
        self.limit = limit
        self.maximum = maximum
        super().__init__(detail)
