"""Sending notifications: the Notification document, HTTP(S) POST and MQTT publish.

Endpoints are chosen by API users, so both go through :mod:`qala.outbound`: the connection goes
to a checked address, redirects are not followed, and an answer is read within the notification
timeout and :data:`MAX_ANSWER_BYTES`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from qala.jsonld.core import CORE_CONTEXT_URL
from qala.ngsild.http import JSONLD, TENANT_HEADER, link_header
from qala.outbound import Outbound, OutboundError, Refused, TooSlow
from qala.subscriptions.model import CompiledSubscription, EndpointURL

log = logging.getLogger("qala.subscriptions")

#: The largest answer read from an HTTP endpoint (its body is not used; a larger one is cut and
#: the attempt counts as failed).
MAX_ANSWER_BYTES = 64 * 1024


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
        context = (
            [sub.doc["jsonldContext"]]
            if "jsonldContext" in sub.doc
            else sub.notify_ctx.response_context()
        )
        body["@context"] = context
        # each entity of data too, as a JSON-LD entity is sent (ETSI 046_14_01, 046_19)
        body["data"] = [{**item, "@context": context} for item in data]
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

    def __init__(
        self,
        *,
        timeout: float,
        allow_local: bool,
        concurrency: int,
        outbound: Outbound | None = None,
    ) -> None:
        self.timeout = timeout
        self.allow_local = allow_local
        #: The guard every notification connection goes through.
        self.outbound = outbound or Outbound(allow_local=allow_local)
        self.http = self.outbound.client(
            timeout=timeout,
            max_connections=max(concurrency, 8),
            headers={"User-Agent": "qala-notifier"},
        )
        self._mqtt: dict[tuple[Any, ...], Any] = {}
        self._mqtt_locks: dict[tuple[Any, ...], asyncio.Lock] = {}

    async def close(self) -> None:
        await self.http.aclose()
        for client in list(self._mqtt.values()):
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
        self._mqtt.clear()

    async def send(
        self, sub: CompiledSubscription, body: dict[str, Any], headers: dict[str, str]
    ) -> Outcome:
        endpoint = sub.endpoint
        assert endpoint is not None
        if endpoint.is_mqtt:
            return await self._publish(sub, endpoint, body, headers)
        try:
            answer = await self.outbound.request(
                "POST",
                sub.uri,
                schemes=("http", "https"),
                max_redirects=0,
                max_bytes=MAX_ANSWER_BYTES,
                timeout=self.timeout,
                headers=headers,
                content=orjson.dumps(body),
                client=self.http,
            )
        except Refused as exc:
            return Outcome(False, f"endpoint refused: {exc}")
        except TooSlow:
            return Outcome(False, f"timed out after {self.timeout:g} s")
        except OutboundError as exc:
            return Outcome(False, str(exc))
        if 200 <= answer.status < 300:
            return Outcome(True)
        if 300 <= answer.status < 400:
            return Outcome(
                False, f"HTTP {answer.status} from the endpoint: redirects are not followed"
            )
        return Outcome(False, f"HTTP {answer.status} from the endpoint")

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
        except Refused as exc:
            return Outcome(False, f"endpoint refused: {exc}")
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
            client = await self.outbound.mqtt_connect(
                scheme=endpoint.scheme,
                host=endpoint.host,
                port=endpoint.port,
                username=endpoint.username,
                password=endpoint.password,
                identifier=f"qala-{uuid.uuid4().hex[:12]}",
                protocol=protocol,
                timeout=self.timeout,
            )
            self._mqtt[key] = client
            return client

    async def _drop_mqtt(self, key: tuple[Any, ...]) -> None:
        client = self._mqtt.pop(key, None)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
