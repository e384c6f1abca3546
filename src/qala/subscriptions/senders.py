"""Sending notifications: the Notification document, HTTP(S) POST and MQTT publish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from qala.jsonld.core import CORE_CONTEXT_URL
from qala.netguard import RefusedAddress, check_url
from qala.ngsild.http import JSONLD, TENANT_HEADER, link_header
from qala.subscriptions.model import CompiledSubscription, EndpointURL

log = logging.getLogger("qala.subscriptions")


@dataclass(slots=True)
class Outcome:
    ok: bool
    reason: str = ""


def notification_document(
    sub: CompiledSubscription, data: list[dict[str, Any]], notification_id: str, notified_at: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The Notification (ETSI GS CIM 009 clause 5.3.1) and the headers that go with it."""
    body: dict[str, Any] = {
        "id": notification_id,
        "type": "Notification",
        "subscriptionId": sub.id,
        "notifiedAt": notified_at,
        "data": data,
    }
    headers: dict[str, str] = {}
    if sub.accept == JSONLD:
        body["@context"] = (
            [sub.doc["jsonldContext"]]
            if "jsonldContext" in sub.doc
            else sub.notify_ctx.response_context()
        )
        headers["Content-Type"] = JSONLD
    else:
        headers["Content-Type"] = "application/json"
        url = sub.doc.get("jsonldContext") or sub.notify_ctx.link_url or CORE_CONTEXT_URL
        headers["Link"] = link_header(url)
    if sub.tenant_name:
        headers[TENANT_HEADER] = sub.tenant_name
    for key, value in sub.receiver_info:
        headers[key] = value
    return body, headers


def notification_id(sub_id: str, first_row: int, last_row: int) -> str:
    """Stable for one set of outbox rows: a retry of the same notification keeps its id."""
    name = f"{sub_id}#{first_row}-{last_row}"
    return f"urn:ngsi-ld:Notification:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


class Senders:
    """HTTP and MQTT delivery, with connection reuse and the outbound address guard."""

    def __init__(self, *, timeout: float, allow_local: bool, concurrency: int) -> None:
        self.timeout = timeout
        self.allow_local = allow_local
        self.http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=max(concurrency, 8), max_keepalive_connections=max(concurrency, 8)
            ),
            headers={"User-Agent": "qala-notifier"},
        )
        self._mqtt: dict[tuple[Any, ...], Any] = {}
        self._mqtt_locks: dict[tuple[Any, ...], asyncio.Lock] = {}
        self._checked: dict[str, tuple[float, str | None]] = {}

    async def close(self) -> None:
        await self.http.aclose()
        for client in list(self._mqtt.values()):
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
        self._mqtt.clear()

    async def _guard(self, sub: CompiledSubscription) -> str | None:
        """Why the endpoint may not be contacted (SSRF guard), or None; cached a minute."""
        if self.allow_local:
            return None
        endpoint = sub.endpoint
        assert endpoint is not None
        key = f"{endpoint.host}:{endpoint.port}"
        hit = self._checked.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            await check_url(sub.uri, allow_local=False, default_port=endpoint.port)
            reason = None
        except RefusedAddress as exc:
            reason = str(exc)
        self._checked[key] = (time.monotonic() + 60, reason)
        return reason

    async def send(
        self, sub: CompiledSubscription, body: dict[str, Any], headers: dict[str, str]
    ) -> Outcome:
        refused = await self._guard(sub)
        if refused is not None:
            return Outcome(False, f"endpoint refused: {refused}")
        endpoint = sub.endpoint
        assert endpoint is not None
        payload = orjson.dumps(body)
        if endpoint.is_mqtt:
            return await self._publish(sub, endpoint, body, headers)
        try:
            response = await self.http.post(sub.uri, content=payload, headers=headers)
        except httpx.TimeoutException:
            return Outcome(False, f"timed out after {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}".strip(": "))
        if 200 <= response.status_code < 300:
            return Outcome(True)
        return Outcome(False, f"HTTP {response.status_code} from the endpoint")

    # -- MQTT -------------------------------------------------------------------------------

    async def _publish(
        self,
        sub: CompiledSubscription,
        endpoint: EndpointURL,
        body: dict[str, Any],
        headers: dict[str, str],
    ) -> Outcome:
        import aiomqtt

        version = sub.notifier_info.get("MQTT-Version", "mqtt3.1.1")
        # QoS 1 by default: the broker acknowledges, so a notification counts as sent only
        # once the broker has it (at-least-once end to end).
        qos = int(sub.notifier_info.get("MQTT-QoS", "1"))
        key = (
            endpoint.scheme,
            endpoint.host,
            endpoint.port,
            endpoint.username,
            endpoint.password,
            version,
        )
        message = orjson.dumps({"metadata": headers, "body": body})
        try:
            client = await self._mqtt_client(key, endpoint, version)
            await client.publish(endpoint.topic, message, qos=qos, timeout=self.timeout)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            await self._drop_mqtt(key)
            return Outcome(False, f"MQTT: {exc}")
        return Outcome(True)

    async def _mqtt_client(self, key: tuple[Any, ...], endpoint: EndpointURL, version: str) -> Any:
        import aiomqtt

        client = self._mqtt.get(key)
        if client is not None:
            return client
        lock = self._mqtt_locks.setdefault(key, asyncio.Lock())
        async with lock:
            client = self._mqtt.get(key)
            if client is not None:
                return client
            protocol = (
                aiomqtt.ProtocolVersion.V5 if version == "mqtt5.0" else aiomqtt.ProtocolVersion.V311
            )
            client = aiomqtt.Client(
                endpoint.host,
                endpoint.port,
                username=endpoint.username,
                password=endpoint.password,
                identifier=f"qala-{uuid.uuid4().hex[:12]}",
                protocol=protocol,
                timeout=self.timeout,
                tls_context=ssl.create_default_context() if endpoint.scheme == "mqtts" else None,
            )
            await client.__aenter__()
            self._mqtt[key] = client
            return client

    async def _drop_mqtt(self, key: tuple[Any, ...]) -> None:
        client = self._mqtt.pop(key, None)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
