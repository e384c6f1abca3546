"""A processed @context, turned into fast term <-> IRI maps.

The JSON-LD processor (pyld) processes a context once; afterwards every request that uses the
same context expands and compacts names through memoised dictionary look-ups. NGSI-LD entities
have a fixed shape (attribute names, entity types, a few IRI-valued members), so the broker
needs only term expansion and IRI compaction, not general document expansion: values of
properties are kept as the user wrote them.
"""

from __future__ import annotations

import threading
from typing import Any

from pyld import jsonld

from qala.jsonld.core import CORE_CONTEXT_URL, CORE_CONTEXT_URLS, DEFAULT_VOCAB

_PROCESSOR = jsonld.JsonLdProcessor()
# pyld's context processing shares caches between threads; serialise it (it runs once per
# distinct context, so this is never on a hot path).
_PROCESS_LOCK = threading.Lock()

ContextValue = str | dict[str, Any] | list[str | dict[str, Any]]


class CompiledContext:
    """A user @context (plus the core context, applied last) ready for fast use."""

    __slots__ = (
        "_active",
        "_compact",
        "_documents",
        "_expand",
        "_scoped",
        "_scoped_cache",
        "given",
        "includes_core",
        "key",
        "link_url",
        "source",
    )

    def __init__(
        self,
        key: str,
        source: list[str | dict[str, Any]],
        active: dict[str, Any],
        documents: dict[str, Any] | None = None,
        *,
        given: Any = None,
        includes_core: bool = False,
    ):
        self.key = key
        #: The user's context entries as given (core context URLs removed), for echoing back.
        self.source = source
        #: The @context value exactly as the request gave it (None: no user context).
        self.given = given
        #: Whether ``given`` brings the core context itself (listed, or imported by a document).
        self.includes_core = includes_core
        #: A single URL to name in a ``Link`` header, when the context is one URL.
        self.link_url: str | None = (
            source[0] if len(source) == 1 and isinstance(source[0], str) else None
        )
        self._active = active
        self._documents = documents or {}
        self._expand: dict[str, str] = {}
        self._compact: dict[str, str] = {}
        # Type-scoped contexts (JSON-LD 1.1): entity type IRI -> the context it brings.
        self._scoped: dict[str, Any] = {}
        for mapping in active.get("mappings", {}).values():
            if mapping and mapping.get("@context") is not None and mapping.get("@id"):
                self._scoped[mapping["@id"]] = mapping["@context"]
        self._scoped_cache: dict[tuple[str, ...], CompiledContext] = {}

    @property
    def has_type_scoped(self) -> bool:
        """Whether some entity types bring their own (type-scoped) context."""
        return bool(self._scoped)

    def for_types(self, types: list[str]) -> CompiledContext:
        """The context that applies to the attributes of an entity of these (expanded) types.

        JSON-LD 1.1 type-scoped contexts apply to the members of a node of that type (here the
        entity's attributes), in the lexical order of the type terms.
        """
        if not self._scoped:
            return self
        scoped = sorted(t for t in types if t in self._scoped)
        if not scoped:
            return self
        key = tuple(scoped)
        hit = self._scoped_cache.get(key)
        if hit is not None:
            return hit
        documents = self._documents

        def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
            return {"contextUrl": None, "documentUrl": url, "document": documents[url]}

        options = {"documentLoader": loader, "contextResolver": jsonld.ContextResolver({}, loader)}
        with _PROCESS_LOCK:
            active = self._active
            for type_iri in sorted(scoped, key=lambda iri: self.compact_unlocked(iri)):
                active = _PROCESSOR.process_context(active, self._scoped[type_iri], options)
        derived = CompiledContext(
            self.key,
            self.source,
            active,
            documents,
            given=self.given,
            includes_core=self.includes_core,
        )
        derived._scoped = {}  # already applied
        self._scoped_cache[key] = derived
        return derived

    def compact_unlocked(self, iri: str) -> str:
        term = _PROCESSOR._compact_iri(self._active, iri, vocab=True)
        return term if isinstance(term, str) else iri

    @property
    def is_core_only(self) -> bool:
        return not self.source

    def response_context(self) -> Any:
        """The ``@context`` member for an ``application/ld+json`` response.

        The request's own @context, as it was given, when it brings the core context itself
        (e.g. a compound context document that lists the core); otherwise the request's
        entries followed by the core context, which every NGSI-LD document implies.
        """
        if self.given is not None and self.includes_core:
            return self.given
        if not self.source:
            return CORE_CONTEXT_URL
        return [*self.source, CORE_CONTEXT_URL]

    def expand(self, term: str) -> str:
        """Expand an attribute name or entity type to its IRI."""
        try:
            return self._expand[term]
        except KeyError:
            pass
        iri = _PROCESSOR._expand_iri(self._active, term, vocab=True)
        if not isinstance(iri, str) or iri.startswith("@"):
            # A keyword or an unmappable term: keep it as it is (callers validate names).
            iri = term
        if len(self._expand) < 100_000:
            self._expand[term] = iri
        return iri

    def keyword(self, term: str) -> str | None:
        """The JSON-LD keyword ``term`` stands for (``type`` -> ``@type``), if it is one."""
        if term.startswith("@"):
            return term
        iri = _PROCESSOR._expand_iri(self._active, term, vocab=True)
        return iri if isinstance(iri, str) and iri.startswith("@") else None

    def compact(self, iri: str) -> str:
        """Compact an IRI to the shortest term or compact IRI this context allows."""
        try:
            return self._compact[iri]
        except KeyError:
            pass
        with _PROCESS_LOCK:
            term = _PROCESSOR._compact_iri(self._active, iri, vocab=True)
        if not isinstance(term, str):
            term = iri
        if len(self._compact) < 100_000:
            self._compact[iri] = term
        return term

    def __repr__(self) -> str:
        return f"CompiledContext({self.key[:80]!r})"


def process(
    key: str,
    source: list[str | dict[str, Any]],
    core_url: str,
    documents: dict[str, Any],
    *,
    given: Any = None,
    includes_core: bool = False,
) -> CompiledContext:
    """Process ``source`` followed by the core context; every URL must be in ``documents``.

    Raises ``jsonld.JsonLdError`` for an invalid context and ``KeyError`` for a URL whose
    document was not supplied.

    Every core context URL a user context refers to (directly, or inside a compound context
    document) stands for the core context of this request: versions of the core context
    define their protected terms differently, and JSON-LD forbids redefining a protected term
    unless the definitions are identical.
    """
    if core_url in documents:
        core = documents[core_url]
        documents = {**documents, **dict.fromkeys(CORE_CONTEXT_URLS, core)}

    def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": documents[url]}

    options = {"documentLoader": loader}
    options["contextResolver"] = jsonld.ContextResolver({}, loader)
    with _PROCESS_LOCK:
        active = _PROCESSOR._get_initial_context(options)
        initial = active
        active = _PROCESSOR.process_context(initial, [*source, core_url], options)
        # The core context, applied last, sets its default @vocab; a user's own @vocab wins.
        user_vocab = (
            _PROCESSOR.process_context(initial, source, options).get("@vocab") if source else None
        )
    vocab = user_vocab or active.get("@vocab") or DEFAULT_VOCAB
    if active.get("@vocab") != vocab:
        active = {**active, "@vocab": vocab}
    return CompiledContext(key, source, active, documents, given=given, includes_core=includes_core)
