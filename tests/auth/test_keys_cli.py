"""`qala keys`: create prints the key alone on standard output; list; revoke."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ngsi import BASE
from qala.app import create_app
from qala.cli import app
from qala.config import Settings


def test_create_list_and_revoke_keys(settings: Settings, database_url: str) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--role",
            "city-operator",
            "--tenant",
            "astana",
            "--name",
            "akimat",
            "--db",
            database_url,
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("qala_") and "\n" not in secret

    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {secret}", "NGSILD-Tenant": "astana"}
        entity = {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight"}
        assert client.post(f"{BASE}/entities", json=entity, headers=auth).status_code == 201

    listed = runner.invoke(app, ["keys", "list", "--db", database_url])
    line = next(x for x in listed.stdout.splitlines() if "akimat" in x)
    key_id, role, tenant = line.split("\t")[:3]
    assert (role, tenant) == ("city-operator", "astana")
    assert secret not in listed.stdout

    assert runner.invoke(app, ["keys", "revoke", key_id, "--db", database_url]).exit_code == 0
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {secret}", "NGSILD-Tenant": "astana"}
        assert client.get(f"{BASE}/types", headers=auth).status_code == 401


def test_a_partner_key_needs_a_tenant(database_url: str) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--role", "partner", "--db", database_url])
    assert result.exit_code == 2
    assert result.stdout == ""
