"""The demo's live data: plausible measures, demo devices, ``qala simulate`` and the in-process
simulation."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from iot_support import BASE, Listener, wait_for
from rich.console import Console

from qala.app import create_app
from qala.config import Settings
from qala.demo.seed import seed_tenant
from qala.iot.cli import broker_reachable
from qala.iot.simulate import SENSORS, DemoDevice, demo_device, measure, parse_tenants

CITY = "aktobe"
H = {"NGSILD-Tenant": CITY}
WHEN = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)  # 13:30 in Aktobe, a winter weekday


def _device(entity_type: str, number: int = 1) -> DemoDevice:
    return demo_device(CITY, entity_type, f"urn:ngsi-ld:{entity_type}:{CITY}:{number:06d}")


def test_demo_devices_are_named_after_their_entities() -> None:
    aq = _device("AirQualityObserved", 12)
    assert (aq.apikey, aq.device_id) == ("demo-aktobe-aq", "aq-000012")
    assert aq.topic == "/demo-aktobe-aq/aq-000012/attrs"
    assert parse_tenants(None) == parse_tenants("all") == parse_tenants([])
    assert parse_tenants(["astana,almaty", "astana"]) == ["astana", "almaty"]


def test_measures_are_plausible_for_every_sensor_type() -> None:
    for entity_type, kind in SENSORS.items():
        for number in range(1, 6):
            payload = measure(_device(entity_type, number), WHEN)
            assert payload["TimeInstant"] == "2026-01-15T08:30:00Z"
            assert set(payload) == {o for o, *_ in kind.objects} | {"TimeInstant"}, entity_type
    air = measure(_device("AirQualityObserved"), WHEN)
    assert 1 <= air["pm25"] <= 500 and air["pm10"] >= air["pm25"] * 0.5
    assert -45 <= air["t"] <= 10  # January in Aktobe
    assert 0.1 <= air["h"] <= 1
    traffic = measure(_device("TrafficFlowObserved"), WHEN)
    assert traffic["i"] >= 0 and 5 <= traffic["s"] <= 80 and 0 <= traffic["o"] <= 1
    assert 0 <= measure(_device("WasteContainer"), WHEN)["f"] <= 1
    assert measure(_device("ParkingSpot"), WHEN)["s"] in ("free", "occupied")
    parking = measure(_device("OffStreetParking"), WHEN)
    assert parking["a"] >= 0 and 0 <= parking["o"] <= 1
    assert measure(_device("PublicTransportStop"), WHEN)["p"] >= 0


def test_daily_rhythms_show_in_the_measures() -> None:
    """Traffic peaks in the rush hour; bins fill between collections and are emptied."""
    counter = _device("TrafficFlowObserved", 3)

    def flow(local_hour: int) -> float:
        at = datetime(2026, 1, 14, 12, tzinfo=UTC) + timedelta(hours=local_hour - 17)  # UTC+5
        return sum(measure(counter, at + timedelta(seconds=s))["i"] for s in range(20)) / 20

    assert flow(8) > 2 * flow(3)
    levels = [
        measure(_device("WasteContainer", 4), WHEN + timedelta(hours=h))["f"] for h in range(96)
    ]
    assert max(levels) > 0.1
    drops = [b < a for a, b in itertools.pairwise(levels)]
    assert any(drops), "a bin that is never emptied"


def _seed(settings: Settings) -> None:
    asyncio.run(
        seed_tenant(settings, CITY, scale=0.05, seed=2026, console=Console(file=io.StringIO()))
    )


@pytest.mark.mqtt
def test_qala_simulate_publishes_live_measures_that_the_server_ingests(
    settings: Settings, mqtt_broker: str, admin_headers: dict[str, str]
) -> None:
    settings = settings.model_copy(update={"mqtt_url": mqtt_broker})
    _seed(settings)
    listener = Listener("/+/+/attrs")
    started = datetime.now(UTC) - timedelta(seconds=1)
    try:
        with TestClient(create_app(settings), headers=admin_headers) as server:
            wait_for(
                lambda: server.get("/iot/about").json()["mqtt"]["subscribed"], what="subscribed"
            )
            env = {**os.environ, "QALA_DATABASE_URL": settings.database_url}
            run = subprocess.run(
                [sys.executable, "-m", "qala.cli", "simulate", "--tenant", CITY, "--rate", "40",
                 "--duration", "1.5", "--mqtt", mqtt_broker],
                env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr
            assert "published" in run.stderr
            devices = server.get("/iot/devices?limit=1000", headers=H).json()
            assert devices["count"] > 20
            time.sleep(0.3)
            messages = [m for m in listener.drain() if m[0].startswith(f"/demo-{CITY}-")]
            assert 45 <= len(messages) <= 75, len(messages)
            for topic, payload in messages:
                body = orjson.loads(payload)
                sent = datetime.fromisoformat(body["TimeInstant"].replace("Z", "+00:00"))
                assert started <= sent <= datetime.now(UTC), body
                assert topic.startswith(f"/demo-{CITY}-")
            # the server stored them: some entity now carries a fresh observation
            topic, payload = messages[-1]
            device_id = topic.split("/")[2]
            entity_id = next(
                d["entity_name"] for d in devices["devices"] if d["device_id"] == device_id
            )

            def fresh() -> bool:
                got = server.get(f"{BASE}/entities/{entity_id}", headers=H).json()
                stamps = [v.get("observedAt") for v in got.values() if isinstance(v, dict)]
                return orjson.loads(payload)["TimeInstant"] in stamps

            wait_for(fresh, what=f"{entity_id} updated")
            assert server.get("/iot/about").json()["ingestion"]["rejected"] == 0
    finally:
        listener.close()


def test_without_a_broker_the_server_simulates_in_process(
    settings: Settings, admin_headers: dict[str, str]
) -> None:
    _seed(settings)
    alone = settings.model_copy(
        update={"mqtt_url": "", "iot_simulate": CITY, "iot_simulate_rate": 50.0}
    )
    with TestClient(create_app(alone), headers=admin_headers) as server:
        about = wait_for(
            lambda: (a := server.get("/iot/about").json())["ingestion"]["accepted"] >= 20 and a,
            what="simulated measures",
        )
        assert about["mqtt"]["state"] == "disabled"
        assert about["ingestion"]["rejected"] == 0
        assert server.get("/iot/devices", headers=H).json()["count"] > 20


def test_broker_reachability() -> None:
    assert not broker_reachable("mqtt://127.0.0.1:9", timeout=0.5)
    assert not broker_reachable("not a url")
