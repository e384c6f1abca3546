"""The Smart Data Models ``@context`` documents that Qala preloads.

* ``context.jsonld`` (this folder) is served for :data:`SDM_CONTEXT_URL`, the combined
  context that the Smart Data Models specifications use in their NGSI-LD examples.
* ``data/contexts/<subject>.jsonld`` are the per-subject contexts, served for the URLs the
  data models' own metadata points to (``raw.githubusercontent.com/.../master/context.jsonld``)
  and for the GitHub Pages address of the same file.

The per-subject documents are *not* aliases of the combined one: the subjects map some terms
(``temperature``, ``occupancy``, ``category``, ``refDevice`` ...) to different IRIs, so one flat
document cannot stand for all of them. See ``data/README.md``.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

SDM_CONTEXT_URL = "https://smartdatamodels.org/context.jsonld"

SUBJECTS: tuple[str, ...] = (
    "dataModel.Environment",
    "dataModel.Streetlighting",
    "dataModel.WasteManagement",
    "dataModel.Parking",
    "dataModel.Transportation",
    "dataModel.UrbanMobility",
    "dataModel.Device",
)

#: subject -> the URLs under which that subject's own context document is published.
DOMAIN_CONTEXT_URLS: dict[str, tuple[str, ...]] = {
    subject: (
        f"https://raw.githubusercontent.com/smart-data-models/{subject}/master/context.jsonld",
        f"https://smart-data-models.github.io/{subject}/context.jsonld",
    )
    for subject in SUBJECTS
}

_TYPE_SUBJECT = {
    "AirQualityObserved": "dataModel.Environment",
    "Streetlight": "dataModel.Streetlighting",
    "WasteContainer": "dataModel.WasteManagement",
    "ParkingSpot": "dataModel.Parking",
    "OffStreetParking": "dataModel.Parking",
    "TrafficFlowObserved": "dataModel.Transportation",
    "EVChargingStation": "dataModel.Transportation",
    "GtfsStop": "dataModel.UrbanMobility",
    "PublicTransportStop": "dataModel.UrbanMobility",
}


def _read_json(*parts: str) -> dict[str, Any]:
    node = resources.files("qala.sdm")
    for part in parts:
        node = node / part
    loaded: dict[str, Any] = json.loads(node.read_text(encoding="utf-8"))
    return loaded


@cache
def _documents() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {SDM_CONTEXT_URL: _read_json("context.jsonld")}
    for subject, urls in DOMAIN_CONTEXT_URLS.items():
        document = _read_json("data", "contexts", f"{subject}.jsonld")
        for url in urls:
            docs[url] = document
    return docs


def builtin_contexts() -> dict[str, dict[str, Any]]:
    """Every shipped ``@context`` document, keyed by the URL it stands for.

    Returns fresh copies: callers may mutate them freely.
    """
    return copy.deepcopy(_documents())


def context_url_for_type(type_term: str) -> str | None:
    """The per-subject context URL (raw GitHub form) for a shipped entity type, if any."""
    subject = _TYPE_SUBJECT.get(type_term)
    return DOMAIN_CONTEXT_URLS[subject][0] if subject else None
