"""Subscription documents: validation of what users send, and the compiled form used to match
changes and render notifications.

A subscription is stored as its owner wrote it (validated, with defaults left implicit) plus the
``@context`` of the request that created it. Names in it (entity types, watched and notified
attributes, the geoproperty) are terms of that context; :class:`CompiledSubscription` expands
them once, when the subscription is loaded, so matching a change is a few set look-ups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from qala.hub.errors import BadRequestData
from qala.hub.model import Entity, iso_to_us, now_us
from qala.hub.query import GeoFilter, Selector
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.filters import QFilter, ScopeFilter, geo_filter_json, q_filter, scope_filter
from qala.ngsild.linked import Join, parse_join
from qala.ngsild.params import check_id_pattern, parse_type_expression
from qala.ngsild.parse import check_entity_id, check_name, is_uri
from qala.ngsild.render import Format, RenderOptions

SUBSCRIPTION_TYPE = "Subscription"
TRIGGERS = (
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
)
#: ETSI GS CIM 009 v1.8, clause 5.2.12: without notificationTrigger, attribute creations and
#: updates notify (entity creation creates attributes, so it notifies too).
DEFAULT_TRIGGERS = ("attributeCreated", "attributeUpdated")
FORMATS: dict[str, Format] = {
    "normalized": "normalized",
    "concise": "concise",
    "keyValues": "keyValues",
    "simplified": "keyValues",
}
ACCEPTS = ("application/json", "application/ld+json")
SCHEMES = ("http", "https", "mqtt", "mqtts")
MQTT_VERSIONS = ("mqtt3.1.1", "mqtt5.0")

_TOP_MEMBERS = frozenset(
    {
        "id",
        "type",
        "subscriptionName",
        "description",
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "timeInterval",
        "q",
        "geoQ",
        "scopeQ",
        "isActive",
        "notification",
        "expiresAt",
        "throttling",
        "lang",
        "jsonldContext",
        "datasetId",
    }
)
#: Members the broker reports; accepted in requests (a GET body sent back) and ignored.
_TOP_READ_ONLY = frozenset({"status", "createdAt", "modifiedAt", "@context"})
_NOTIFICATION_MEMBERS = frozenset(
    {"attributes", "format", "showChanges", "sysAttrs", "endpoint", "join", "joinLevel"}
)
_NOTIFICATION_READ_ONLY = frozenset(
    {
        "status",
        "timesSent",
        "timesFailed",
        "lastNotification",
        "lastSuccess",
        "lastFailure",
        "lastFailureReason",
    }
)
_ENDPOINT_MEMBERS = frozenset({"uri", "accept", "receiverInfo", "notifierInfo"})
_SELECTOR_MEMBERS = frozenset({"id", "idPattern", "type"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "link", "ngsild-tenant"})
NULL = "urn:ngsi-ld:null"


def _fail(message: str) -> BadRequestData:
    return BadRequestData(f"invalid subscription: {message}")


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _fail(f"{what} must be a non-empty array of attribute names")
    for item in value:
        check_name(item, f"attribute name in {what}")
    return list(dict.fromkeys(value))


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(f"{what} must be true or false, not {value!r}")
    return value


def _seconds(value: Any, what: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"{what} must be a number of seconds, not {value!r}")
    if value < 0 or (positive and value == 0):
        raise _fail(f"{what} must be {'greater than' if positive else 'at least'} 0")
    if value > 10 * 365 * 86400:
        raise _fail(f"{what} is too large (at most ten years)")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"{what} must be a non-empty string")
    return value


def _key_values(value: Any, what: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise _fail(f"{what} must be an array of {{key, value}} objects")
    out = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"key", "value"}:
            raise _fail(f"each entry of {what} must be an object with exactly key and value")
        key, val = item["key"], item["value"]
        if not isinstance(key, str) or not _HEADER_NAME.match(key):
            raise _fail(f"{what} key {key!r} is not a valid header name")
        if not isinstance(val, str) or "\n" in val or "\r" in val:
            raise _fail(f"{what} value for {key!r} must be a single-line string")
        out.append({"key": key, "value": val})
    return out


@dataclass(slots=True, frozen=True)
class EndpointURL:
    """A notification endpoint: HTTP(S), or MQTT(S) with broker, credentials and topic."""

    scheme: str
    host: str
    port: int
    topic: str = ""
    username: str | None = None
    password: str | None = None

    @property
    def is_mqtt(self) -> bool:
        return self.scheme in ("mqtt", "mqtts")


def parse_endpoint_uri(uri: Any) -> EndpointURL:
    if not isinstance(uri, str) or not is_uri(uri):
        raise _fail(f"notification.endpoint.uri {uri!r} is not a valid URI")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _fail(
            f"notification.endpoint.uri scheme {parts.scheme!r} is not supported; "
            "use http, https, mqtt or mqtts"
        )
    try:
        port = parts.port
    except ValueError:
        raise _fail(f"notification.endpoint.uri {uri!r} has an invalid port") from None
    if not parts.hostname:
        raise _fail(f"notification.endpoint.uri {uri!r} has no host")
    defaults = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}
    topic = ""
    if scheme in ("mqtt", "mqtts"):
        topic = unquote(parts.path.lstrip("/"))
        if not topic:
            raise _fail(f"MQTT endpoint {uri!r} names no topic (mqtt://host:port/topic)")
        if "+" in topic or "#" in topic:
            raise _fail(f"MQTT topic {topic!r} may not contain the wildcards + or #")
    return EndpointURL(
        scheme=scheme,
        host=parts.hostname,
        port=port or defaults[scheme],
        topic=topic,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _selectors(value: Any, ctx: CompiledContext) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise _fail("entities must be a non-empty array of {id, idPattern, type} objects")
    out = []
    for item in value:
        if not isinstance(item, dict) or not item:
            raise _fail("each entry of entities must be an object with id, idPattern or type")
        unknown = set(item) - _SELECTOR_MEMBERS
        if unknown:
            raise _fail(
                f"unknown member(s) {', '.join(sorted(unknown))} in entities; "
                "an entity selector has id, idPattern and type"
            )
        if "id" in item and "idPattern" in item:
            raise _fail("an entity selector has id or idPattern, not both")
        if "id" in item:
            check_entity_id(item["id"])
        if "idPattern" in item:
            check_id_pattern(_text(item["idPattern"], "idPattern"))
        if "type" in item:
            parse_type_expression(_text(item["type"], "entity type"), ctx)
        out.append(dict(item))
    return out


def _notification(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail("notification must be an object with at least an endpoint")
    unknown = set(value) - _NOTIFICATION_MEMBERS - _NOTIFICATION_READ_ONLY
    if unknown:
        raise _fail(
            f"unknown member(s) {', '.join(sorted(unknown))} in notification; it accepts "
            f"{', '.join(sorted(_NOTIFICATION_MEMBERS))}"
        )
    out: dict[str, Any] = {}
    if "attributes" in value:
        out["attributes"] = _names(value["attributes"], "notification.attributes")
    if "format" in value:
        if not isinstance(value["format"], str) or value["format"] not in FORMATS:
            raise _fail(
                f"unknown notification.format {value['format']!r}; "
                "use normalized, concise or keyValues"
            )
        out["format"] = value["format"]
    for flag in ("showChanges", "sysAttrs"):
        if flag in value:
            out[flag] = _bool(value[flag], f"notification.{flag}")
    if "join" in value or "joinLevel" in value:
        join, level = value.get("join"), value.get("joinLevel")
        if join is not None and not isinstance(join, str):
            raise _fail("notification.join must be flat, inline or @none")
        if level is not None and (isinstance(level, bool) or not isinstance(level, int)):
            raise _fail("notification.joinLevel must be a whole number")
        try:
            parse_join(join, level)
        except BadRequestData as exc:
            raise _fail(f"notification.{exc.detail}") from None
        out.update({k: value[k] for k in ("join", "joinLevel") if k in value})
    endpoint = value.get("endpoint")
    if not isinstance(endpoint, dict):
        raise _fail("notification.endpoint is required: an object with the uri to notify")
    unknown = set(endpoint) - _ENDPOINT_MEMBERS
    if unknown:
        raise _fail(
            f"unknown member(s) {', '.join(sorted(unknown))} in notification.endpoint; it "
            f"accepts {', '.join(sorted(_ENDPOINT_MEMBERS))}"
        )
    if "uri" not in endpoint:
        raise _fail("notification.endpoint.uri is required")
    url = parse_endpoint_uri(endpoint["uri"])
    clean: dict[str, Any] = {"uri": endpoint["uri"]}
    if "accept" in endpoint:
        if endpoint["accept"] not in ACCEPTS:
            raise _fail(
                f"notification.endpoint.accept {endpoint['accept']!r} is not supported; "
                "use application/json or application/ld+json"
            )
        clean["accept"] = endpoint["accept"]
    if "receiverInfo" in endpoint:
        info = _key_values(endpoint["receiverInfo"], "receiverInfo")
        for item in info:
            if item["key"].lower() in _RESERVED_HEADERS:
                raise _fail(f"receiverInfo may not set the {item['key']} header")
        clean["receiverInfo"] = info
    if "notifierInfo" in endpoint:
        info = _key_values(endpoint["notifierInfo"], "notifierInfo")
        for item in info:
            key, val = item["key"], item["value"]
            if key == "MQTT-Version" and val not in MQTT_VERSIONS:
                raise _fail(f"MQTT-Version must be one of {', '.join(MQTT_VERSIONS)}")
            if key == "MQTT-QoS" and val not in ("0", "1", "2"):
                raise _fail("MQTT-QoS must be 0, 1 or 2")
            if key in ("MQTT-Version", "MQTT-QoS") and not url.is_mqtt:
                raise _fail(f"notifierInfo {key} applies to mqtt:// endpoints only")
        clean["notifierInfo"] = info
    out["endpoint"] = clean
    return out


def validate(body: Any, ctx: CompiledContext, *, max_terms: int, creating: bool) -> dict[str, Any]:
    """A clean subscription document from a request body, or :class:`BadRequestData`.

    ``creating``: an ``expiresAt`` in the past is refused (a new or renewed subscription).
    """
    if not isinstance(body, dict):
        raise _fail("the subscription must be a JSON object")
    unknown = set(body) - _TOP_MEMBERS - _TOP_READ_ONLY
    if unknown:
        raise _fail(
            f"unknown member(s) {', '.join(sorted(unknown))}; a subscription has "
            f"{', '.join(sorted(_TOP_MEMBERS))}"
        )
    if body.get("type") != SUBSCRIPTION_TYPE:
        raise _fail(f"type must be {SUBSCRIPTION_TYPE!r}, not {body.get('type')!r}")
    doc: dict[str, Any] = {"type": SUBSCRIPTION_TYPE}
    if "id" in body:
        doc["id"] = check_entity_id(body["id"], "subscription id")
    for member in ("subscriptionName", "description"):
        if member in body:
            if not isinstance(body[member], str):
                raise _fail(f"{member} must be a string")
            doc[member] = body[member]
    if "entities" in body:
        doc["entities"] = _selectors(body["entities"], ctx)
    if "watchedAttributes" in body:
        doc["watchedAttributes"] = _names(body["watchedAttributes"], "watchedAttributes")
    if "entities" not in doc and "watchedAttributes" not in doc:
        raise _fail("give entities, watchedAttributes or both: what should be watched?")
    if "notificationTrigger" in body:
        triggers = body["notificationTrigger"]
        if not isinstance(triggers, list) or not triggers:
            raise _fail("notificationTrigger must be a non-empty array")
        for trigger in triggers:
            if trigger not in TRIGGERS:
                raise _fail(f"unknown notificationTrigger {trigger!r}; use {', '.join(TRIGGERS)}")
        doc["notificationTrigger"] = list(dict.fromkeys(triggers))
    if "timeInterval" in body:
        doc["timeInterval"] = _seconds(body["timeInterval"], "timeInterval", positive=True)
        for other in ("watchedAttributes", "notificationTrigger"):
            if other in doc:
                raise _fail(
                    f"timeInterval (periodic notifications) and {other} (notifications on "
                    "change) exclude each other"
                )
        if "entities" not in doc:
            raise _fail("a periodic subscription (timeInterval) needs entities")
    if "throttling" in body:
        doc["throttling"] = _seconds(body["throttling"], "throttling", positive=False)
        if "timeInterval" in doc and doc["throttling"]:
            raise _fail("throttling applies to notifications on change, not to timeInterval")
    if "q" in body:
        q_filter(_text(body["q"], "q"), ctx, max_terms)
        doc["q"] = body["q"]
    if "geoQ" in body:
        geo_filter_json(body["geoQ"], ctx)
        doc["geoQ"] = body["geoQ"]
    if "scopeQ" in body:
        scope_filter(_text(body["scopeQ"], "scopeQ"))
        doc["scopeQ"] = body["scopeQ"]
    if "isActive" in body:
        doc["isActive"] = _bool(body["isActive"], "isActive")
    if "expiresAt" in body:
        try:
            expires = iso_to_us(body["expiresAt"])
        except ValueError as exc:
            raise _fail(f"expiresAt: {exc}") from None
        if creating and expires <= now_us():
            raise _fail(f"expiresAt {body['expiresAt']!r} is in the past")
        doc["expiresAt"] = body["expiresAt"]
    if "lang" in body:
        doc["lang"] = _text(body["lang"], "lang")
    if "datasetId" in body:
        datasets = body["datasetId"]
        if isinstance(datasets, str):
            datasets = [datasets]
        if not isinstance(datasets, list) or not datasets:
            raise _fail("datasetId must be a non-empty array of datasetIds (or @none)")
        for dataset in datasets:
            if dataset != "@none":
                try:
                    check_entity_id(dataset, "datasetId")
                except BadRequestData as exc:
                    raise _fail(exc.detail) from None
        doc["datasetId"] = list(dict.fromkeys(datasets))
    if "jsonldContext" in body:
        value = body["jsonldContext"]
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise _fail("jsonldContext must be the http(s) URL of a JSON-LD @context")
        doc["jsonldContext"] = value
    if "notification" not in body:
        raise _fail("notification is required: it says where and how to notify")
    doc["notification"] = _notification(body["notification"])
    return doc


def merge(stored: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """PATCH: members of the fragment replace the stored ones (``notification`` member by
    member); ``null`` or ``"urn:ngsi-ld:null"`` removes a member."""
    out = dict(stored)
    for key, value in fragment.items():
        if key in _TOP_READ_ONLY:
            continue
        if value is None or value == NULL:
            out.pop(key, None)
        elif key == "notification" and isinstance(value, dict):
            notification = dict(out.get("notification") or {})
            for member, sub in value.items():
                if member in _NOTIFICATION_READ_ONLY:
                    continue
                if sub is None or sub == NULL:
                    notification.pop(member, None)
                else:
                    notification[member] = sub
            out["notification"] = notification
        else:
            out[key] = value
    return out


def translate_names(doc: dict[str, Any], src: CompiledContext, dst: CompiledContext) -> None:
    """Rewrite the names of ``doc`` from ``src``'s terms to ``dst``'s (in place)."""
    if src is dst or src.key == dst.key:
        return

    def name(term: str) -> str:
        return dst.compact(src.expand(term))

    for selector in doc.get("entities") or []:
        if isinstance(selector, dict) and isinstance(selector.get("type"), str):
            selector["type"] = re.sub(r"[^(),;|\s]+", lambda m: name(m.group(0)), selector["type"])
    if isinstance(doc.get("watchedAttributes"), list):
        doc["watchedAttributes"] = [
            name(n) if isinstance(n, str) else n for n in doc["watchedAttributes"]
        ]
    notification = doc.get("notification")
    if isinstance(notification, dict) and isinstance(notification.get("attributes"), list):
        notification["attributes"] = [
            name(n) if isinstance(n, str) else n for n in notification["attributes"]
        ]
    geo = doc.get("geoQ")
    if isinstance(geo, dict) and isinstance(geo.get("geoproperty"), str):
        geo["geoproperty"] = name(geo["geoproperty"])


# -- the compiled form ---------------------------------------------------------------------


@dataclass(slots=True)
class DeliveryState:
    """What the worker records about a subscription's notifications."""

    times_sent: int = 0
    times_failed: int = 0
    last_notification: int | None = None
    last_success: int | None = None
    last_failure: int | None = None
    last_failure_reason: str | None = None
    consecutive_failures: int = 0


@dataclass(slots=True)
class CompiledSubscription:
    """A subscription ready to match changes: names expanded, filters compiled."""

    tenant_id: int
    tenant_name: str
    id: str
    doc: dict[str, Any]
    #: The @context of the request that created the subscription (names, q).
    ctx: CompiledContext
    #: The @context notifications are compacted with (``jsonldContext``, else ``ctx``).
    notify_ctx: CompiledContext
    selectors: list[Selector]
    #: Expanded types under which the index files this subscription (first type of each
    #: type group), the ids it names, and whether it must be checked against every change.
    index_types: set[str] = field(default_factory=set)
    index_ids: set[str] = field(default_factory=set)
    index_any: bool = False
    watched: frozenset[str] | None = None
    triggers: frozenset[str] = frozenset(DEFAULT_TRIGGERS)
    q: QFilter | None = None
    geo: GeoFilter | None = None
    scope: ScopeFilter | None = None
    render: RenderOptions = field(default_factory=RenderOptions)
    #: ``notification.join``/``joinLevel``: the linked entities notified with each entity.
    join: Join | None = None
    show_changes: bool = False
    is_active: bool = True
    expires_at: int | None = None
    throttling_us: int = 0
    time_interval_us: int = 0
    endpoint: EndpointURL | None = None
    uri: str = ""
    accept: str = "application/json"
    receiver_info: list[tuple[str, str]] = field(default_factory=list)
    notifier_info: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, str]:
        return (self.tenant_id, self.id)

    @property
    def periodic(self) -> bool:
        return self.time_interval_us > 0

    def active_at(self, now: int) -> bool:
        return self.is_active and (self.expires_at is None or now < self.expires_at)

    def selects(self, entity: Entity) -> bool:
        """Whether ``entity`` is one this subscription watches (selectors, q, geoQ, scopeQ)."""
        if self.selectors and not any(s.matches(entity) for s in self.selectors):
            return False
        if self.q is not None and not self.q.matches(entity):
            return False
        if self.geo is not None and not self.geo.matches(entity):
            return False
        return self.scope is None or self.scope.matches(entity)


def compile_subscription(
    tenant_id: int,
    tenant_name: str,
    doc: dict[str, Any],
    ctx: CompiledContext,
    notify_ctx: CompiledContext,
    *,
    max_terms: int,
) -> CompiledSubscription:
    """The compiled form of a validated document (see :func:`validate`)."""
    sub = CompiledSubscription(
        tenant_id=tenant_id,
        tenant_name=tenant_name,
        id=doc["id"],
        doc=doc,
        ctx=ctx,
        notify_ctx=notify_ctx,
        selectors=[],
    )
    for item in doc.get("entities") or []:
        selector = Selector(ids=[item["id"]] if "id" in item else None)
        if "idPattern" in item:
            selector.id_pattern = item["idPattern"]
        if "type" in item:
            selector.type_groups = parse_type_expression(item["type"], ctx)
            sub.index_types.update(group[0] for group in selector.type_groups if group)
        elif "id" in item:
            sub.index_ids.add(item["id"])
        else:
            sub.index_any = True
        sub.selectors.append(selector)
    if not sub.selectors:
        sub.index_any = True
    if "watchedAttributes" in doc:
        sub.watched = frozenset(ctx.expand(n) for n in doc["watchedAttributes"])
    if "notificationTrigger" in doc:
        sub.triggers = frozenset(doc["notificationTrigger"])
    if "q" in doc:
        sub.q = q_filter(doc["q"], ctx, max_terms)
    if "geoQ" in doc:
        sub.geo = geo_filter_json(doc["geoQ"], ctx)
    if "scopeQ" in doc:
        sub.scope = scope_filter(doc["scopeQ"])
    notification = doc["notification"]
    attrs = notification.get("attributes")
    sub.render = RenderOptions(
        format=FORMATS[notification.get("format", "normalized")],
        sys_attrs=bool(notification.get("sysAttrs", False)),
        pick=frozenset(ctx.expand(n) for n in attrs) if attrs else None,
        lang=doc.get("lang"),
        datasets=frozenset(doc["datasetId"]) if "datasetId" in doc else None,
    )
    sub.join = parse_join(notification.get("join"), notification.get("joinLevel"))
    sub.show_changes = bool(notification.get("showChanges", False))
    sub.is_active = bool(doc.get("isActive", True))
    if "expiresAt" in doc:
        sub.expires_at = iso_to_us(doc["expiresAt"])
    sub.throttling_us = int(doc.get("throttling", 0) * 1_000_000)
    sub.time_interval_us = int(doc.get("timeInterval", 0) * 1_000_000)
    endpoint = notification["endpoint"]
    sub.uri = endpoint["uri"]
    sub.endpoint = parse_endpoint_uri(endpoint["uri"])
    sub.accept = endpoint.get("accept", "application/json")
    sub.receiver_info = [(i["key"], i["value"]) for i in endpoint.get("receiverInfo", [])]
    sub.notifier_info = {i["key"]: i["value"] for i in endpoint.get("notifierInfo", [])}
    return sub
