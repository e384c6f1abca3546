"""Fixtures for device-ingestion tests: fast ingestion settings, the MQTT broker, a publisher."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from iot_support import MQTT_HOST, MQTT_PORT, Publisher

from qala.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings (database, auth) with ingestion tuned for tests."""
    return settings.model_copy(update={"iot_batch_linger_ms": 1.0})


def require_service(config: pytest.Config) -> Callable[[str | None], None]:
    """``require_service`` of the suite's root conftest (this folder's conftest shadows the
    module name ``conftest``, so it is found through pytest's plugin registry)."""
    root = str(Path(__file__).resolve().parent.parent / "conftest.py")
    plugin = config.pluginmanager.get_plugin(root)
    assert plugin is not None, f"{root} is not loaded"
    helper: Callable[[str | None], None] = plugin.require_service
    return helper


@pytest.fixture
def mqtt_broker(request: pytest.FixtureRequest) -> str:
    """The Mosquitto broker's URL; skips without it (fails under CI=true)."""
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            pass
    except OSError as exc:
        require_service(request.config)(
            f"the MQTT broker is not reachable at {MQTT_HOST}:{MQTT_PORT}: {exc}"
        )
    return f"mqtt://{MQTT_HOST}:{MQTT_PORT}"


@pytest.fixture
def publisher(mqtt_broker: str) -> Iterator[Publisher]:
    publisher = Publisher()
    yield publisher
    publisher.close()


@pytest.fixture
def admin_headers(request: pytest.FixtureRequest) -> dict[str, str]:
    """The credentials the suite's ``client`` sends, for servers a test starts itself."""
    root = str(Path(__file__).resolve().parent.parent / "conftest.py")
    plugin = request.config.pluginmanager.get_plugin(root)
    key = getattr(plugin, "ADMIN_KEY", None)
    return {"Authorization": f"Bearer {key}"} if key else {}
