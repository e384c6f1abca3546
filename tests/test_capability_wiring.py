"""How a capability plugs into the server: the objects it keeps in ``services.state``, its own
error format on its paths, and its members of the ``/health`` body."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from starlette.responses import Response

from qala import app
from qala.capabilities import Capability, ErrorFormat, load_capabilities
from qala.config import Settings
from qala.services import CapabilityState, Services


class Engine:
    pass


class OtherEngine:
    pass


def test_state_keeps_one_object_per_type_and_reads_it_back_by_its_type() -> None:
    state = CapabilityState()
    engine = Engine()
    state.put(Engine, engine)
    assert state.get(Engine) is engine
    assert state.find(OtherEngine) is None
    with pytest.raises(LookupError, match="OtherEngine"):
        state.get(OtherEngine)
    with pytest.raises(ValueError, match="already"):
        state.put(Engine, Engine())
    with pytest.raises(TypeError):
        state.put(OtherEngine, engine)  # type: ignore[arg-type]
    assert state.pop(Engine) is engine
    assert state.find(Engine) is None and state.pop(Engine) is None


def plain_error(status: int, code: str, message: str) -> Response:
    return Response(orjson.dumps({"code": code, "says": message}), status_code=status)


async def lamp_health(svc: Services) -> dict[str, Any]:
    return {"lit": svc.state.get(Engine).__class__.__name__}


async def broken_health(svc: Services) -> dict[str, Any]:
    raise RuntimeError("the probe itself fails")


def lamps() -> Capability:
    router = APIRouter()

    @router.get("/status")
    async def status() -> dict[str, str]:
        return {"ok": "yes"}

    async def start(svc: Services) -> None:
        svc.state.put(Engine, Engine())

    return Capability(
        name="lamps",
        routers=[(router, "/lamps")],
        start=start,
        error_format=ErrorFormat("/lamps/", plain_error),
        health={"lamps": lamp_health, "broken": broken_health},
    )


@pytest.fixture
def client(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> TestClient:
    database = tmp_path / "qala.db"
    shutil.copy(sqlite_template, database)
    monkeypatch.setattr(app, "load_capabilities", lambda: [*load_capabilities(), lamps()])
    settings = Settings(database_url=f"sqlite:///{database}", mqtt_url="", auth_disabled=True)
    return TestClient(app.create_app(settings))


def test_errors_on_a_capabilitys_paths_take_its_declared_format(client: TestClient) -> None:
    with client:
        missing = client.get("/lamps/nowhere")
        wrong_method = client.put("/lamps/status")
        nul = client.get("/lamps/status?x=%00")
        elsewhere = client.get("/qala/v1/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"code": "NOT_FOUND", "says": "no resource at /lamps/nowhere"}
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "GET"
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"
    assert nul.status_code == 400 and nul.json()["code"] == "BAD_REQUEST"
    assert elsewhere.status_code == 404
    assert elsewhere.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


def test_health_reports_each_probe_of_the_started_capabilities(client: TestClient) -> None:
    with client:
        health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["lamps"] == {"lit": "Engine"}
    assert body["broken"] == {"error": "probe failed"}
    assert body["mqtt"]["state"] == "disabled"
