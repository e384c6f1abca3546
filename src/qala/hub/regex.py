"""Regular expressions from requests (``idPattern``, the query language's ``~=``).

They are evaluated with RE2, whose matching time is linear in the length of the text: a
pattern such as ``(a+)+$`` takes microseconds instead of holding a database connection for
ever, as it would with a backtracking engine (Python's ``re``, PCRE). RE2's syntax is that of
Python's ``re`` without backreferences and lookaround, which a client is told are not
supported rather than left waiting.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import re2

#: Longest pattern compiled; far beyond any id pattern or attribute value pattern.
MAX_LENGTH = 1024

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # an invalid pattern is the client's error, answered as such
_OPTIONS.max_mem = 8 << 20  # a pattern whose automaton needs more is refused


class PatternError(ValueError):
    """The text is not a regular expression this broker evaluates; ``msg`` says why."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class Matcher(Protocol):
    def search(self, text: str) -> object | None: ...


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Matcher:
    """The compiled ``pattern`` (cached), or PatternError."""
    if len(pattern) > MAX_LENGTH:
        raise PatternError(f"longer than {MAX_LENGTH} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise PatternError(_message(exc)) from None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text``.

    Patterns are checked when a request brings them; one stored earlier that RE2 refuses (a
    subscription's ``idPattern`` with lookaround) matches nothing, rather than failing every
    write the matcher sees.
    """
    try:
        return compile_pattern(pattern).search(text) is not None
    except PatternError:
        return False


def _message(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    text = str(detail) or "invalid regular expression"
    if "invalid escape sequence: \\1" in text or "invalid escape sequence: \\g" in text:
        return text + " (backreferences are not supported)"
    if "invalid perl operator: (?=" in text or "invalid perl operator: (?!" in text:
        return text + " (lookaround is not supported)"
    if "invalid perl operator: (?<" in text:
        return text + " (lookaround is not supported)"
    return text
