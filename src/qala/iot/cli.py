"""``qala simulate`` and the demo's live data (mounted on the ``qala`` command in qala.cli)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)


def broker_reachable(url: str, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to the MQTT broker at ``url`` succeeds."""
    from qala.iot.mqtt import BrokerAddress

    try:
        address = BrokerAddress.parse(url)
    except ValueError:
        return False
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return True
    except OSError:
        return False


async def provision_demo(database_url: str | None, tenants: list[str]) -> int:
    """Provision the demo devices of ``tenants`` in the store; how many there are."""
    from qala.app import builtin_contexts
    from qala.config import load_settings
    from qala.iot.registry import Registry
    from qala.iot.simulate import ensure_demo_devices
    from qala.jsonld.resolver import ContextResolver
    from qala.services import open_storage

    store = await open_storage(load_settings(database_url=database_url))
    try:
        contexts = ContextResolver(repository=store, builtin=builtin_contexts())
        registry = Registry(store, contexts)
        return len(await ensure_demo_devices(store, contexts, registry, tenants))
    finally:
        await store.close()


def simulate(
    tenant: Annotated[
        list[str] | None,
        typer.Option(
            "--tenant",
            help="Tenant (city) to simulate; repeat or comma-separate. "
            "Default: the five demo cities",
        ),
    ] = None,
    rate: Annotated[float, typer.Option(help="Messages per second, all devices together")] = 20.0,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (where the demo devices are provisioned). Also QALA_DATABASE_URL",
            show_default=False,
        ),
    ] = None,
    mqtt: Annotated[
        str | None,
        typer.Option("--mqtt", help="MQTT broker URL. Also QALA_MQTT_URL", show_default=False),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: never)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the order devices report in")] = 2026,
) -> None:
    """Publish live measures of the demo's sensors over MQTT, like real devices.

    Provisions one device per demo sensor entity first (idempotent), then sends their
    measures (IoT Agent JSON on /<apikey>/<device_id>/attrs, QoS 1) at --rate messages/s.
    """
    from qala.config import load_settings
    from qala.iot.simulate import parse_tenants

    settings = load_settings(database_url=db, mqtt_url=mqtt)
    tenants = parse_tenants(tenant)
    try:
        count = asyncio.run(
            _simulate(settings.database_url, settings.mqtt_url, tenants, rate, duration, seed)
        )
    except KeyboardInterrupt:
        return
    if count is None:
        raise typer.Exit(1)


async def _simulate(
    database_url: str,
    mqtt_url: str,
    tenants: list[str],
    rate: float,
    duration: float | None,
    seed: int,
) -> int | None:
    from qala.app import builtin_contexts
    from qala.config import load_settings
    from qala.iot.mqtt import MQTTClient
    from qala.iot.mqtt_packets import MQTTError
    from qala.iot.registry import Registry
    from qala.iot.simulate import DemoDevice, ensure_demo_devices, simulate
    from qala.jsonld.resolver import ContextResolver
    from qala.services import open_storage

    if not mqtt_url:
        console.print("[red]no MQTT broker: give --mqtt or QALA_MQTT_URL[/]")
        return None
    store = await open_storage(load_settings(database_url=database_url))
    try:
        contexts = ContextResolver(repository=store, builtin=builtin_contexts())
        devices = await ensure_demo_devices(store, contexts, Registry(store, contexts), tenants)
    finally:
        await store.close()
    if not devices:
        console.print(
            f"[red]no demo sensors in {', '.join(tenants)}: seed them first "
            "(qala demo --no-serve)[/]"
        )
        return None
    client = MQTTClient(mqtt_url)
    await client.start()
    if not await client.wait_ready(10):
        console.print(
            f"[yellow]MQTT broker {client.address.display()} is not reachable yet; "
            "measures wait for it[/]"
        )
    console.print(
        f"simulating {len(devices)} devices in {', '.join(tenants)} at {rate:g} messages/s "
        f"over {client.address.display()}"
    )

    async def send(device: DemoDevice, payload: bytes) -> bool:
        try:
            await client.publish(device.topic, payload, qos=1, timeout=10)
        except (MQTTError, TimeoutError):
            return False
        return True

    try:
        sent, failed = await simulate(devices, send, rate=rate, duration=duration, seed=seed)
    finally:
        await client.stop()
    console.print(f"published {sent} messages ({failed} not confirmed by the broker)")
    return sent


def start_demo_simulation(rate: float) -> subprocess.Popen[bytes] | None:
    """Make the demo alive (its devices are provisioned): run ``qala simulate`` beside the
    server when the MQTT broker is reachable (returns the process), else ask the server to
    simulate in-process (through its hub)."""
    from qala.config import load_settings

    settings = load_settings()
    if settings.mqtt_url and broker_reachable(settings.mqtt_url):
        console.print(
            f"live data: the demo devices publish over MQTT ({settings.mqtt_url}), "
            f"{rate:g} messages/s (qala simulate)"
        )
        return subprocess.Popen(
            [sys.executable, "-m", "qala.cli", "simulate", "--rate", str(rate)],
            env={**os.environ, "QALA_DATABASE_URL": settings.database_url},
        )
    os.environ["QALA_IOT_SIMULATE"] = "all"
    os.environ["QALA_IOT_SIMULATE_RATE"] = str(rate)
    console.print(
        f"live data: no MQTT broker at {settings.mqtt_url or '(none)'}; the server simulates "
        f"the demo devices in-process, {rate:g} messages/s"
    )
    return None
