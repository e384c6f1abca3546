"""Fixtures for subscription tests: fast retry and poll settings, a notification receiver."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from subscriptions_support import MQTT_HOST, MQTT_PORT, Receiver, start_receiver

from qala.app import create_app
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


def _root_conftest(config: pytest.Config) -> Any:
    """The suite's root conftest module (this folder's conftest shadows the module name
    ``conftest``, so it is found through pytest's plugin registry)."""
    root = str(Path(__file__).resolve().parent.parent / "conftest.py")
    plugin = config.pluginmanager.get_plugin(root)
    assert plugin is not None, f"{root} is not loaded"
    return plugin


def _require_service(config: pytest.Config) -> Callable[[str | None], None]:
    helper: Callable[[str | None], None] = _root_conftest(config).require_service
    return helper


@pytest.fixture
def guarded_client(database_url: str, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A server with the default outbound guard: local notification endpoints refused."""
    settings = Settings(database_url=database_url, allow_local_endpoints=False)
    admin = {"Authorization": f"Bearer {_root_conftest(request.config).ADMIN_KEY}"}
    with TestClient(create_app(settings), headers=admin) as client:
        yield client


@pytest.fixture
def mqtt_broker(request: pytest.FixtureRequest) -> str:
    """The Mosquitto broker's address; skips without it (fails under CI=true)."""
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            pass
    except OSError as exc:
        _require_service(request.config)(
            f"the MQTT broker is not reachable at {MQTT_HOST}:{MQTT_PORT}: {exc}"
        )
    return f"{MQTT_HOST}:{MQTT_PORT}"
