"""Device messages -> attribute instances (the IoT Agent JSON conventions).

A message is a JSON object of measures keyed by object id (``{"t": 21.5, "h": 0.4}``), or an
array of such objects (several readings in one message), or — on a single-attribute topic
``…/attrs/<object_id>`` — one bare value. Each measure becomes an attribute instance with
``observedAt``: the message's timestamp attribute (``TimeInstant`` unless configured) or the
time Qala received it. Any problem rejects the whole message (:class:`MeasureError`).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from qala.hub import BadRequestData, Instance, us_to_iso
from qala.iot.model import MeasureError, parse_observed_at
from qala.iot.registry import ResolvedDevice
from qala.ngsild.http import check_json

#: What one reading does to the device's entity: attribute IRI -> new instance.
Reading = dict[str, Instance]


@dataclass(slots=True)
class Topic:
    apikey: str
    device_id: str
    object_id: str | None


def parse_topic(topic: str) -> Topic | None:
    """``/<apikey>/<device>/attrs[/<object_id>]`` or the same under ``/json``; None otherwise."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != "":
        return None
    if parts[1] == "json" and len(parts) in (5, 6) and parts[4] == "attrs":
        parts = parts[1:]
    if len(parts) == 4 and parts[3] == "attrs":
        return Topic(parts[1], parts[2], None) if parts[1] and parts[2] else None
    if len(parts) == 5 and parts[3] == "attrs" and parts[4]:
        return Topic(parts[1], parts[2], parts[4]) if parts[1] and parts[2] else None
    return None


def _single_value(payload: bytes) -> object:
    """A single-attribute payload: JSON if it parses, else the text itself."""
    try:
        return _storable(orjson.loads(payload), payload)
    except orjson.JSONDecodeError:
        pass
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MeasureError(
            "invalid_payload", "the payload is neither JSON nor UTF-8 text"
        ) from None
    if "\x00" in text:  # no store can hold it (see qala.ngsild.http.check_json)
        raise MeasureError("invalid_payload", "the payload holds the character U+0000 (NUL)")
    return text


def _storable(value: object, raw: bytes) -> object:
    """``value``, if a store can hold it (see :func:`qala.ngsild.http.check_json`)."""
    try:
        check_json(value, raw)
    except BadRequestData as exc:
        raise MeasureError("invalid_payload", exc.detail) from None
    return value


def decode(
    device: ResolvedDevice,
    payload: bytes,
    object_id: str | None,
    received_us: int,
    timestamp: str | None = None,
) -> list[Reading]:
    """The readings of one message, in order; :class:`MeasureError` rejects it whole.

    ``timestamp`` (HTTP ``?t=``) overrides the time of every reading.
    """
    if object_id is not None:
        groups: list[object] = [{object_id: _single_value(payload)}]
    else:
        try:
            data = _storable(orjson.loads(payload), payload)
        except orjson.JSONDecodeError as exc:
            raise MeasureError("invalid_json", f"the payload is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            groups = [data]
        elif isinstance(data, list) and data:
            groups = data
        else:
            raise MeasureError(
                "invalid_payload",
                "the payload must be a JSON object of measures keyed by object_id "
                "(or a non-empty array of such objects)",
            )
    stamp_key = device.timestamp_attribute
    fixed = (
        parse_observed_at(timestamp, device.timezone, "the timestamp")
        if timestamp is not None
        else None
    )
    received_iso: str | None = None
    readings: list[Reading] = []
    dropped = 0
    for index, group in enumerate(groups):
        if not isinstance(group, dict):
            raise MeasureError(
                "invalid_payload", f"item {index} of the payload array is not a JSON object"
            )
        observed = fixed
        if observed is None:
            if stamp_key in group:
                observed = parse_observed_at(group[stamp_key], device.timezone, stamp_key)
            else:
                if received_iso is None:
                    received_iso = us_to_iso(received_us)
                observed = received_iso
        reading: Reading = {}
        for key, value in group.items():
            if key == stamp_key:
                continue
            target = device.targets.get(key)
            if target is None:
                if device.strict:
                    raise MeasureError(
                        "unknown_attribute",
                        f"object_id {key!r} is not mapped for device {device.device_id!r} "
                        "(strict mode rejects unmapped measures)",
                    )
                if device.explicit:
                    dropped += 1
                    continue
                target = device.passthrough(key)
            if value is None:
                raise MeasureError("invalid_payload", f"measure {key!r} is null")
            instance = target.convert(value)
            instance["observedAt"] = observed
            reading[target.iri] = instance
        if reading:
            readings.append(reading)
    if not readings and not dropped:
        raise MeasureError("invalid_payload", "the message has no measures")
    return readings
