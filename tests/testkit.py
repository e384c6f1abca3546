"""What tests share besides fixtures: the admin key, service checks, CI detection.

Import these from here (``from testkit import ADMIN_KEY``), not from ``conftest``: a folder's own
``conftest.py`` shadows the root one's module name.
"""

from __future__ import annotations

import os

import pytest

PG_ADMIN_URL = os.environ.get("QALA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"

#: The admin API key every test server knows; the ``client`` fixture sends it.
ADMIN_KEY = "qala_test-admin-key-0123456789abcdefghijklmnopqrstuv"


def require_service(reason: str | None) -> None:
    """Skip (on a developer's machine) or fail (in CI) when a service is missing."""
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: service-backed tests must run)")
    pytest.skip(reason)
