"""OpenID Connect bearer tokens (as Keycloak issues them), checked against a JWKS file."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from ngsi import BASE, headers, streetlight
from qala.app import create_app
from qala.config import Settings

ISSUER = "https://sso.astana.example/realms/city"
AUDIENCE = "qala"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def oidc_client(
    settings: Settings, signing_key: rsa.RSAPrivateKey, tmp_path: Path
) -> Iterator[TestClient]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    settings.oidc_jwks = str(jwks)
    settings.oidc_issuer = ISSUER
    settings.oidc_audience = AUDIENCE
    with TestClient(create_app(settings)) as client:
        yield client


def token(key: rsa.RSAPrivateKey, kid: str = "key-1", **claims: Any) -> dict[str, str]:
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "5d1c0ffe",
        "preferred_username": "aigerim",
        "exp": int(time.time()) + 300,
        "realm_access": {"roles": ["offline_access", "city-operator"]},
        "tenant": "astana",
        **claims,
    }
    encoded = jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})
    return {"Authorization": f"Bearer {encoded}"}


def test_a_valid_token_acts_with_its_role_and_tenant(
    oidc_client: TestClient, signing_key: rsa.RSAPrivateKey
) -> None:
    auth = {**token(signing_key), **headers(tenant="astana")}
    assert (
        oidc_client.post(f"{BASE}/entities", json=streetlight(1), headers=auth).status_code == 201
    )
    other = {**token(signing_key), **headers(tenant="almaty")}
    assert (
        oidc_client.post(f"{BASE}/entities", json=streetlight(2), headers=other).status_code == 403
    )


def test_client_roles_count_too(oidc_client: TestClient, signing_key: rsa.RSAPrivateKey) -> None:
    auth = token(
        signing_key, realm_access={"roles": []}, resource_access={"qala": {"roles": ["auditor"]}}
    )
    response = oidc_client.post(
        f"{BASE}/entities", json=streetlight(1), headers={**auth, **headers(tenant="astana")}
    )
    assert response.status_code == 403  # an auditor reads only


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 3600},
        {"aud": "another-service"},
        {"iss": "https://evil.example/realms/city"},
        {"realm_access": {"roles": ["offline_access"]}},
        {"tenant": None},
    ],
    ids=["expired", "wrong audience", "wrong issuer", "no Qala role", "operator without tenant"],
)
def test_tokens_that_must_be_refused(
    oidc_client: TestClient, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any]
) -> None:
    response = oidc_client.get(f"{BASE}/types", headers=token(signing_key, **claims))
    assert response.status_code == 401, response.text
    assert response.json()["detail"]


def test_tokens_signed_by_an_unknown_key_are_refused(oidc_client: TestClient) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert oidc_client.get(f"{BASE}/types", headers=token(stranger)).status_code == 401
    assert oidc_client.get(f"{BASE}/types", headers=token(stranger, kid="other")).status_code == 401


def test_without_a_jwks_tokens_are_not_accepted(
    client: TestClient, signing_key: rsa.RSAPrivateKey
) -> None:
    response = client.get(f"{BASE}/types", headers=token(signing_key))
    assert response.status_code == 401
    assert "JWKS" in response.json()["detail"]
