"""OAuth2 / OpenID Connect bearer tokens (JWT) checked against a configured JWKS.

The JWKS comes from a file or a URL (e.g. Keycloak's ``…/protocol/openid-connect/certs``); a URL
is fetched with a timeout, cached, and fetched again (at most once a minute) when a token names
a key id it does not hold. Tokens must be signed (RS*/ES*/PS*/EdDSA), unexpired, and carry the
configured issuer and audience.

Claims, compatible with Keycloak: the role is the strongest Qala role found among
``realm_access.roles``, ``resource_access.<client>.roles`` and ``roles``; the tenant is the
claim named by ``QALA_OIDC_TENANT_CLAIM`` (default ``tenant``; a list takes its first item);
the actor is ``preferred_username`` or ``sub``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson

from qala.hub import Actor
from qala.hub.access import ADMIN, AUDITOR, OPERATOR, PARTNER, PUBLIC, TENANT_BOUND
from qala.hub.errors import Unauthorized

ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
]
#: Strongest first: a token holding several Qala roles gets the first.
ROLE_ORDER = (ADMIN, AUDITOR, OPERATOR, PARTNER, PUBLIC)


class TokenVerifier:
    def __init__(
        self,
        jwks: str,
        *,
        issuer: str | None,
        audience: str | None,
        tenant_claim: str = "tenant",
        client_id: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.source = jwks
        self.issuer = issuer
        self.audience = audience
        self.tenant_claim = tenant_claim
        self.client_id = client_id
        self.timeout = timeout
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("http://", "https://"))

    async def load(self) -> None:
        if self.is_url:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(self.source)
                response.raise_for_status()
                document = response.json()
        else:
            document = orjson.loads(Path(self.source).read_bytes())
        keyset = jwt.PyJWKSet.from_dict(document)
        self._keys = {k.key_id or "": k for k in keyset.keys}
        self._fetched_at = time.monotonic()

    async def _key_for(self, kid: str | None) -> Any:
        key = self._keys.get(kid or "")
        if key is None and len(self._keys) == 1 and kid is None:
            key = next(iter(self._keys.values()))
        if key is None and self.is_url and time.monotonic() - self._fetched_at > 60:
            async with self._lock:
                if time.monotonic() - self._fetched_at > 60:
                    try:
                        await self.load()
                    except (httpx.HTTPError, ValueError, jwt.PyJWKError):
                        self._fetched_at = time.monotonic()
            key = self._keys.get(kid or "")
        if key is None:
            raise Unauthorized("the token is signed with a key this server does not know")
        return key

    async def verify(self, token: str, address: str | None = None) -> Actor:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the bearer token is not a valid JWT: {exc}") from None
        key = await self._key_for(header.get("kid"))
        options = {"require": ["exp"], "verify_aud": self.audience is not None}
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options=options,
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the bearer token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the bearer token was refused: {exc}") from None
        return self.actor_from(claims, address)

    def actor_from(self, claims: dict[str, Any], address: str | None) -> Actor:
        roles: set[str] = set()
        realm = claims.get("realm_access")
        if isinstance(realm, dict):
            roles.update(r for r in realm.get("roles", ()) if isinstance(r, str))
        resources = claims.get("resource_access")
        if isinstance(resources, dict):
            for client, access in resources.items():
                if (self.client_id is None or client == self.client_id) and isinstance(
                    access, dict
                ):
                    roles.update(r for r in access.get("roles", ()) if isinstance(r, str))
        direct = claims.get("roles")
        if isinstance(direct, list):
            roles.update(r for r in direct if isinstance(r, str))
        role = next((r for r in ROLE_ORDER if r in roles), None)
        if role is None:
            raise Unauthorized(f"the token grants none of the roles {', '.join(ROLE_ORDER)}")
        tenant = claims.get(self.tenant_claim)
        if isinstance(tenant, list):
            tenant = tenant[0] if tenant else None
        if tenant is not None and not isinstance(tenant, str):
            raise Unauthorized(f"the token's {self.tenant_claim!r} claim is not a tenant name")
        if role in TENANT_BOUND and not tenant:
            raise Unauthorized(
                f"a {role} token must name its tenant in the {self.tenant_claim!r} claim"
            )
        who = claims.get("preferred_username") or claims.get("sub") or "unknown"
        return Actor(id=str(who), role=role, address=address, tenant=tenant, via="jwt")
