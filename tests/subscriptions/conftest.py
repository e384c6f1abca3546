"""Fixtures for subscription tests: fast retry and poll settings, a notification receiver.

This file shadows the module name ``conftest`` for test modules collected after it, so it
re-exports what test modules import from the suite's root conftest (``ADMIN_KEY``,
``require_service``), loaded under a private name.
"""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from subscriptions_support import MQTT_HOST, MQTT_PORT, Receiver, start_receiver

from qala.app import create_app
from qala.config import Settings

_ROOT = Path(__file__).resolve().parent.parent / "conftest.py"
_spec = importlib.util.spec_from_file_location("qala_tests_root_conftest", _ROOT)
assert _spec is not None and _spec.loader is not None
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)

ADMIN_KEY: str = _root.ADMIN_KEY
require_service = _root.require_service


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


@pytest.fixture
def guarded_client(database_url: str) -> Iterator[TestClient]:
    """A server with the default outbound guard: local notification endpoints refused."""
    settings = Settings(database_url=database_url, allow_local_endpoints=False)
    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        yield client


@pytest.fixture
def slow_retry_client(database_url: str) -> Iterator[TestClient]:
    """A server that waits 5 s before retrying a failed notification."""
    settings = Settings(
        database_url=database_url,
        allow_local_endpoints=True,
        notification_retry_base=5.0,
        notification_poll_interval=0.1,
    )
    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        yield client


@pytest.fixture
def mqtt_broker() -> str:
    """The Mosquitto broker's address; skips without it (fails under CI=true)."""
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            pass
    except OSError as exc:
        require_service(f"the MQTT broker is not reachable at {MQTT_HOST}:{MQTT_PORT}: {exc}")
    return f"{MQTT_HOST}:{MQTT_PORT}"
