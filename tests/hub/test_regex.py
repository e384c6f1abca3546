"""Regular expressions from requests: RE2 syntax, linear time, clear refusals."""

from __future__ import annotations

import pytest

from qala.hub import regex


def test_patterns_match_anywhere_with_python_like_syntax() -> None:
    assert regex.search(r"Streetlight:\d+$", "urn:ngsi-ld:Streetlight:42")
    assert not regex.search(r"^Streetlight", "urn:ngsi-ld:Streetlight:42")
    assert regex.search("(?i)ESIL", "urn:ngsi-ld:District:esil")
    assert regex.search("(?P<city>astana|almaty)", "urn:ngsi-ld:Bin:almaty:7")
    assert regex.search("қала", "urn:ngsi-ld:Place:қала")


def test_catastrophic_patterns_take_linear_time() -> None:
    # A backtracking engine needs about 2^40 steps for each of these.
    assert not regex.search("(a+)+$", "a" * 40 + "!")
    assert not regex.search("^(a|aa)+$", "a" * 40 + "!")
    assert regex.search("(" * 500 + "a" + ")" * 500, "a")


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        (r"(a)\1", "backreferences are not supported"),
        ("(?=a)", "lookaround is not supported"),
        ("(?<!a)b", "lookaround is not supported"),
        ("(unclosed", "missing )"),
        ("a" * 2000, "longer than 1024 characters"),
    ],
)
def test_what_re2_cannot_evaluate_is_refused_with_the_reason(pattern: str, says: str) -> None:
    with pytest.raises(regex.PatternError) as refused:
        regex.compile_pattern(pattern)
    assert says in refused.value.msg


def test_a_stored_pattern_re2_refuses_matches_nothing_instead_of_failing() -> None:
    assert regex.search("(?=a)a", "a") is False
