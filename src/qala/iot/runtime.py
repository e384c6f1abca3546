"""The IoT capability's running objects: its registry, ingestor and MQTT client.

Kept in the server's typed state (``svc.state``) while the capability runs; every reader goes
through :func:`iot_services`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from qala.iot.ingest import Ingestor
from qala.iot.mqtt import MQTTClient
from qala.iot.registry import Registry
from qala.services import Services


@dataclass(slots=True)
class IotServices:
    registry: Registry
    ingestor: Ingestor
    client: MQTTClient | None = None
    mqtt_error: str | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def mqtt_status(self) -> dict[str, Any]:
        if self.client is None:
            return {"state": "disabled", "reason": self.mqtt_error or "QALA_MQTT_URL is empty"}
        return self.client.status()


def iot_services(svc: Services) -> IotServices | None:
    """The running IoT capability's registry, ingestor and MQTT client (None before it
    starts): every reader of them goes through here."""
    return svc.state.find(IotServices)
