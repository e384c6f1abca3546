"""The ETSI NGSI-LD core @context, built in so that the broker never needs the network for it."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson

NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"

_BASE = "https://uri.etsi.org/ngsi-ld/v1/"
#: The reference core context (ETSI GS CIM 009 v1.8).
CORE_CONTEXT_URL = _BASE + "ngsi-ld-core-context-v1.8.jsonld"
#: The unversioned URL many clients use.
CORE_CONTEXT_URL_UNVERSIONED = _BASE + "ngsi-ld-core-context.jsonld"

# Each published core URL, v1.3 to v1.9, and the built-in document that answers it. The
# documents differ only in the terms they define; older versions are served by the v1.6 text.
_CORE_FILES: dict[str, str] = {
    _BASE + "ngsi-ld-core-context.jsonld": "ngsi-ld-core-context-v1.8.jsonld",
    _BASE + "ngsi-ld-core-context-v1.3.jsonld": "ngsi-ld-core-context-v1.6.jsonld",
    _BASE + "ngsi-ld-core-context-v1.4.jsonld": "ngsi-ld-core-context-v1.6.jsonld",
    _BASE + "ngsi-ld-core-context-v1.5.jsonld": "ngsi-ld-core-context-v1.6.jsonld",
    _BASE + "ngsi-ld-core-context-v1.6.jsonld": "ngsi-ld-core-context-v1.6.jsonld",
    _BASE + "ngsi-ld-core-context-v1.7.jsonld": "ngsi-ld-core-context-v1.8.jsonld",
    _BASE + "ngsi-ld-core-context-v1.8.jsonld": "ngsi-ld-core-context-v1.8.jsonld",
    _BASE + "ngsi-ld-core-context-v1.9.jsonld": "ngsi-ld-core-context-v1.9.jsonld",
    # Seen in the wild: the same documents without the "v1/" segment or over http.
    "https://uri.etsi.org/ngsi-ld/ngsi-ld-core-context.jsonld": "ngsi-ld-core-context-v1.8.jsonld",
}
for _url, _file in list(_CORE_FILES.items()):
    _CORE_FILES.setdefault(_url.replace("https://", "http://", 1), _file)

CORE_CONTEXT_URLS: frozenset[str] = frozenset(_CORE_FILES)


@functools.cache
def _load(filename: str) -> dict[str, Any]:
    data = resources.files("qala.jsonld").joinpath("data").joinpath(filename).read_bytes()
    doc: dict[str, Any] = orjson.loads(data)
    return _offline(doc)


def _offline(doc: dict[str, Any]) -> dict[str, Any]:
    """The core context without remote imports in its type-scoped contexts.

    v1.9 scopes the W3C Data Integrity context (https://w3id.org/security/data-integrity/v2)
    to the ``ngsildproof`` term. JSON-LD processes scoped contexts when the term is defined,
    so that URL would have to be fetched for every request naming the v1.9 core context; the
    broker never needs it (values, proofs included, are stored as given), so it is dropped
    and the terms the core itself scopes there (``entityIdSealed``…) are kept.
    """
    terms = doc.get("@context")
    if not isinstance(terms, dict):
        return doc
    for definition in terms.values():
        scoped = definition.get("@context") if isinstance(definition, dict) else None
        if isinstance(scoped, list):
            definition["@context"] = [item for item in scoped if not isinstance(item, str)]
    return doc


def core_document(url: str = CORE_CONTEXT_URL) -> dict[str, Any]:
    """The core @context document published at ``url`` (one of :data:`CORE_CONTEXT_URLS`)."""
    return _load(_CORE_FILES[url])


def is_core_context(url: object) -> bool:
    return isinstance(url, str) and url in _CORE_FILES


# Members of an NGSI-LD entity or attribute that are keywords of the core context: they are
# never expanded or compacted as attribute names.
ENTITY_MEMBERS = frozenset(
    {"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt", "@context"}
)
ATTRIBUTE_MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "objectList",
        "objectType",
        "languageMap",
        "json",
        "vocab",
        "valueList",
        "datasetId",
        "observedAt",
        "unitCode",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "instanceId",
        "lang",
        "previousValue",
        "previousObject",
        "previousObjectList",
        "previousLanguageMap",
        "previousJson",
        "previousVocab",
        "previousValueList",
    }
)
ATTRIBUTE_TYPES = (
    "Property",
    "Relationship",
    "GeoProperty",
    "LanguageProperty",
    "JsonProperty",
    "VocabProperty",
    "ListProperty",
    "ListRelationship",
)
#: GeoProperties the core context predefines.
CORE_GEO_PROPERTIES = {
    NGSI_LD + "location": "location",
    NGSI_LD + "observationSpace": "observationSpace",
    NGSI_LD + "operationSpace": "operationSpace",
}
