"""Device ingestion (the FIWARE IoT Agent's role): provisioning API, MQTT and HTTP measures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from qala.capabilities import Capability, ErrorFormat
from qala.iot import errors, routes
from qala.iot.ingest import SUBSCRIPTIONS, Ingestor
from qala.iot.mqtt import MQTTClient
from qala.iot.registry import Registry
from qala.iot.runtime import IotServices, iot_services
from qala.services import Services

log = logging.getLogger("qala.iot")


def subscriptions(shared_group: str) -> list[tuple[str, int]]:
    """The IoT Agent topic filters, as shared subscriptions when a group is configured."""
    if not shared_group:
        return list(SUBSCRIPTIONS)
    return [(f"$share/{shared_group}/{topic}", qos) for topic, qos in SUBSCRIPTIONS]


async def start(svc: Services) -> None:
    settings = svc.settings
    registry = Registry(svc.store, svc.contexts)
    ingestor = Ingestor(
        svc.hub,
        registry,
        batch_max=settings.iot_batch_max,
        linger=settings.iot_batch_linger_ms / 1000,
    )
    iot = IotServices(registry, ingestor)
    ingestor.start()
    if settings.mqtt_url:
        try:
            client = MQTTClient(
                settings.mqtt_url,
                client_id=settings.mqtt_client_id,
                subscriptions=subscriptions(settings.mqtt_shared_group),
                on_messages=ingestor.on_mqtt,
                session_expiry=settings.mqtt_session_expiry,
                receive_maximum=settings.mqtt_receive_maximum,
                keepalive=settings.mqtt_keepalive,
                backoff_max=settings.mqtt_reconnect_max,
            )
        except ValueError as exc:
            iot.mqtt_error = str(exc)
            log.error("MQTT ingestion is off: %s", exc)
        else:
            iot.client = ingestor.client = client
            await client.start()
    svc.state.put(IotServices, iot)
    if settings.iot_simulate:
        from qala.iot.simulate import run_in_process

        iot.tasks.append(
            asyncio.create_task(
                run_in_process(svc, iot, settings.iot_simulate, settings.iot_simulate_rate),
                name="iot simulation",
            )
        )


async def stop(svc: Services) -> None:
    iot = svc.state.pop(IotServices)
    if iot is None:
        return
    for task in iot.tasks:
        task.cancel()
    for task in iot.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    # Write what was received, acknowledge it, then leave the broker.
    await iot.ingestor.stop()
    if iot.client is not None:
        await iot.client.stop()


async def mqtt_health(svc: Services) -> dict[str, Any]:
    iot = iot_services(svc)
    return iot.mqtt_status() if iot is not None else {"state": "stopped"}


def capability() -> Capability:
    return Capability(
        name="iot",
        routers=[(routes.router, "/iot")],
        start=start,
        stop=stop,
        error_format=ErrorFormat("/iot/", errors.error_response),
        health={"mqtt": mqtt_health},
    )
