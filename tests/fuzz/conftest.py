"""Fixtures of the fuzz tests: a fresh server per test, holding what the document's examples
name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from fuzz_support import seed

from qala.app import create_app
from qala.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings without the rate limit: fuzzing is faster than any client."""
    return settings.model_copy(update={"rate_limit": 0.0})


@pytest.fixture
def server(settings: Settings) -> Iterator[TestClient]:
    """A fresh, seeded server. It sends no credentials by itself: each request carries its
    own (some on purpose none). A failure is answered, as a server would, not raised."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        seed(client)
        yield client
