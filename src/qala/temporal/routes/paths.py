"""Path parameters of the temporal API (shared by its reads and writes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

EntityIdPath = Annotated[
    str, Path(description="Entity id (a URI)", examples=["urn:ngsi-ld:WeatherObserved:1"])
]
AttrIdPath = Annotated[str, Path(description="Attribute name", examples=["temperature"])]
InstanceIdPath = Annotated[
    str,
    Path(
        description="The instanceId (as the broker issued it)",
        examples=["urn:ngsi-ld:attribute:instance:00000000000000ff"],
    ),
]
