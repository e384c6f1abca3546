"""API keys: random secrets shown once, stored only as SHA-256 hashes.

A key is ``qala_`` followed by 43 URL-safe characters (256 random bits). High-entropy secrets
need no slow password hash: SHA-256 is enough to make a stolen table useless, and it keeps
checking a key cheap on every request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from qala.hub import RowBatch, Storage
from qala.hub.access import ROLES, TENANT_BOUND
from qala.hub.errors import BadRequestData
from qala.hub.model import now_us

PREFIX = "qala_"
_COLUMNS = "id, name, role, tenant, key_hash, created_at, revoked_at"


@dataclass(slots=True, frozen=True)
class ApiKey:
    id: str
    name: str
    role: str
    tenant: str | None
    key_hash: str
    created_at: int
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def check_grant(role: str, tenant: str | None) -> None:
    if role not in ROLES:
        raise BadRequestData(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role in TENANT_BOUND and not tenant:
        raise BadRequestData(f"a {role} key must be bound to a tenant (--tenant)")


async def create_key(
    store: Storage, role: str, tenant: str | None = None, name: str = ""
) -> tuple[str, ApiKey]:
    """Create a key; returns the secret (shown once) and its stored record."""
    check_grant(role, tenant)
    secret = new_secret()
    key = ApiKey(
        id=uuid.uuid4().hex[:12],
        name=name or f"{role} key",
        role=role,
        tenant=tenant or None,
        key_hash=hash_key(secret),
        created_at=now_us(),
    )
    await store.insert_rows(
        [
            RowBatch(
                "api_keys",
                ("id", "name", "role", "tenant", "key_hash", "created_at"),
                [(key.id, key.name, key.role, key.tenant, key.key_hash, key.created_at)],
            )
        ]
    )
    return secret, key


def _row(row: tuple[object, ...]) -> ApiKey:
    return ApiKey(*row)  # type: ignore[arg-type]


async def list_keys(store: Storage) -> list[ApiKey]:
    rows = await store.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at")
    return [_row(r) for r in rows]


async def find_key(store: Storage, secret: str) -> ApiKey | None:
    rows = await store.fetch(
        f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1", hash_key(secret)
    )
    return _row(rows[0]) if rows else None


async def revoke_key(store: Storage, key_id: str) -> bool:
    counts = await store.execute(
        [
            (
                "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                [now_us(), key_id],
            )
        ]
    )
    return counts[0] > 0


class KeyCache:
    """Recently checked keys, so that most requests cost no database round trip.

    Revocations made through this process take effect at once; those made by another process
    within ``ttl`` seconds.
    """

    def __init__(self, store: Storage, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._entries: dict[str, tuple[float, ApiKey | None]] = {}

    async def lookup(self, secret: str) -> ApiKey | None:
        digest = hash_key(secret)
        hit = self._entries.get(digest)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        rows = await self.store.fetch(
            f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1", digest
        )
        key = _row(rows[0]) if rows else None
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (now, key)
        return key

    def forget(self) -> None:
        self._entries.clear()
