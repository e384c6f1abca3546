"""Fixtures for subscription tests: fast retry and poll settings, a notification receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from subscriptions_support import Receiver, start_receiver

from qala.config import Settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        allow_local_endpoints=True,
        notification_retry_base=0.2,
        notification_retry_max=1.0,
        notification_poll_interval=0.1,
        notification_timeout=2.0,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = start_receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
