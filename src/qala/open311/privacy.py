"""What public Open311 output may show about the people who file requests.

Public endpoints (``GET requests``, ``GET servicerequestupdates``…) render
:class:`~qala.open311.model.ServiceRequest`, which has no field for personal data: the name,
email, phone, device and account ids a client sends are kept apart
(:class:`~qala.open311.model.Personal`) for staff, under the access rules. Free text written by
residents (descriptions, notes) may still contain such data; :func:`mask` hides the kinds that
can be recognised:

* Kazakh individual identification numbers (IIN, and BIN for companies): 12 digits, also
  written as two groups of six;
* Kazakh phone numbers: ``+7 7xx …``, ``8 7xx …``, ``7xx …`` (mobile 7xx and landline 7xxx /
  6xx area codes), with or without spaces, dashes, dots and parentheses;
* email addresses.

Digits are replaced by ``*`` (separators kept, so the text still reads: ``+7 (***) ***-**-**``);
an email becomes ``***@***``. Masking is for public output only: the stored text is unchanged.
"""

from __future__ import annotations

import re

_IIN = re.compile(r"(?<![\d*])\d{6}[ -]?\d{6}(?![\d*])")
_PHONE = re.compile(
    r"(?<![\w+*])"
    r"(?:(?:\+\s?7|8)[\s.\-]*\(?\s*)?"  # +7 or 8, then maybe an opening parenthesis
    r"[67](?:[\s.\-()]{0,2}\d){9}"  # ten digits starting with 6 or 7 (area code / mobile)
    r"(?![\d*])"
)
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_DIGIT = re.compile(r"\d")


def _stars(match: re.Match[str]) -> str:
    return _DIGIT.sub("*", match.group(0))


def mask(text: str | None) -> str | None:
    """``text`` with IINs, phone numbers and email addresses hidden."""
    if not text:
        return text
    text = _EMAIL.sub("***@***", text)
    text = _IIN.sub(_stars, text)
    return _PHONE.sub(_stars, text)
