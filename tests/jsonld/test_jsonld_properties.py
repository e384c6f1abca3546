"""Property-based tests: Qala's compiled term maps agree with a full JSON-LD processor.

For random user @contexts (plain terms, ``@vocab``, prefixes and prefixed terms such as
``schema:name``, full IRIs, nested context arrays and type-scoped contexts) and random
entity-shaped documents, the names :class:`qala.jsonld.compiled.CompiledContext` expands and
compacts through its fast maps are the ones pyld's ``jsonld.expand`` and ``jsonld.compact``
give for the same document with the same context (the user's context plus the NGSI-LD core
context, which Qala always applies).

Qala applies the core context after the user's but keeps a user ``@vocab``; user terms here
never redefine a (protected) core term, so that order is the same as [core, user] for pyld.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from qala.jsonld import compiled
from qala.jsonld.core import CORE_CONTEXT_URL, CORE_CONTEXT_URLS, core_document

CORE = core_document(CORE_CONTEXT_URL)
CORE_TERMS = frozenset(CORE["@context"])
DOCUMENTS = {url: core_document(url) for url in CORE_CONTEXT_URLS}
PREFIXES = {
    "schema": "https://schema.org/",
    "sdm": "https://smartdatamodels.org/dataModel.Streetlighting/",
    "city": "https://data.astana.kz/ns#",
}
NAMESPACES = ["https://example.org/ns/", "https://data.astana.kz/vocab#", "urn:qala:term:"]


def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"contextUrl": None, "documentUrl": url, "document": DOCUMENTS[url]}


PYLD_OPTIONS: dict[str, Any] = {"documentLoader": loader}

# -- strategies ------------------------------------------------------------------------------

names = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=10).filter(
    lambda n: n[0].isalpha() and n not in CORE_TERMS and n not in PREFIXES
)
local_parts = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)
iris = st.builds(lambda ns, local: ns + local, st.sampled_from(NAMESPACES), local_parts)


@st.composite
def term_definitions(draw: st.DrawFn) -> Any:
    """A term's definition: an IRI, an {"@id"} object, or a prefixed (compact) IRI."""
    kind = draw(st.sampled_from(["iri", "object", "prefixed"]))
    if kind == "prefixed":
        return draw(st.sampled_from(sorted(PREFIXES))) + ":" + draw(local_parts)
    iri = draw(iris)
    return iri if kind == "iri" else {"@id": iri}


@st.composite
def user_contexts(
    draw: st.DrawFn, min_scoped: int = 0
) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    """A user @context (an array of one or two objects) and its type-scoped contexts."""
    terms = draw(st.dictionaries(names, term_definitions(), min_size=1, max_size=8))
    first: dict[str, Any] = dict(PREFIXES)
    if draw(st.booleans()):
        first["@vocab"] = draw(st.sampled_from(NAMESPACES))
    split = draw(st.integers(0, len(terms)))
    items = list(terms.items())
    first.update(items[:split])
    second = dict(items[split:])
    scoped: dict[str, dict[str, Any]] = {}
    first["@version"] = 1.1  # scoped contexts are JSON-LD 1.1
    type_names = names.filter(lambda n: n not in terms)
    # Each scoped type has an IRI of its own: the hub keeps entity types expanded, so two type
    # terms naming one IRI with different scoped contexts could not be told apart by any
    # broker that stores IRIs (JSON-LD itself picks by the term written in the document).
    type_iris: set[str] = set()
    for type_name in draw(st.lists(type_names, min_size=min_scoped, max_size=2, unique=True)):
        inner = draw(st.dictionaries(names, st.builds(lambda i: i, iris), max_size=3))
        scoped[type_name] = inner
        type_iri = draw(iris.filter(lambda i: i not in type_iris))
        type_iris.add(type_iri)
        first[type_name] = {"@id": type_iri, "@context": inner}
    context = [first, second] if second else [first]
    return context, scoped


def attribute_keys(context: list[Any], scoped: dict[str, dict[str, Any]]) -> st.SearchStrategy:
    defined = sorted({k for c in context for k in c if not k.startswith("@") and k not in scoped})
    defined += sorted({k for inner in scoped.values() for k in inner})
    choices = [
        st.sampled_from(defined) if defined else names,
        names,  # undefined: @vocab (user's or the core's default vocabulary)
        st.builds(lambda p, local: f"{p}:{local}", st.sampled_from(sorted(PREFIXES)), local_parts),
        iris,  # already a full IRI
    ]
    return st.one_of(*choices)


def pyld_expanded_keys(document: dict[str, Any], context: list[Any]) -> set[str]:
    doc = {"@context": [CORE_CONTEXT_URL, *context], **document}
    expanded = jsonld.expand(doc, PYLD_OPTIONS)
    assert len(expanded) == 1
    return {k for k in expanded[0] if not k.startswith("@")}


def process(context: list[Any]) -> compiled.CompiledContext:
    return compiled.process("test", context, CORE_CONTEXT_URL, DOCUMENTS)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- properties ------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_expansion_matches_jsonld_expand(data: st.DataObject) -> None:
    context, _ = data.draw(user_contexts())
    ctx = process(context)
    keys = data.draw(st.lists(attribute_keys(context, {}), min_size=1, max_size=6, unique=True))
    document = {"@id": "urn:ngsi-ld:Thing:1", **{k: "v" for k in keys}}
    assert {ctx.expand(k) for k in keys} == pyld_expanded_keys(document, context)
    for key in keys:
        assert pyld_expanded_keys({"@id": "urn:a:1", key: "v"}, context) == {ctx.expand(key)}


@SETTINGS
@given(data=st.data())
def test_type_scoped_expansion_matches_jsonld_expand(data: st.DataObject) -> None:
    context, scoped = data.draw(user_contexts(min_scoped=1))
    ctx = process(context)
    type_name = data.draw(st.sampled_from(sorted(scoped)))
    type_iri = ctx.expand(type_name)
    keys = data.draw(st.lists(attribute_keys(context, scoped), min_size=1, max_size=6, unique=True))
    document = {"@id": "urn:a:1", "@type": type_name, **{k: "v" for k in keys}}
    names_ctx = ctx.for_types([type_iri])
    assert {names_ctx.expand(k) for k in keys} == pyld_expanded_keys(document, context)


@SETTINGS
@given(data=st.data())
def test_compaction_matches_jsonld_compact_and_round_trips(data: st.DataObject) -> None:
    context, _ = data.draw(user_contexts())
    ctx = process(context)
    keys = data.draw(st.lists(attribute_keys(context, {}), min_size=1, max_size=6, unique=True))
    expanded_iris = sorted({ctx.expand(k) for k in keys})
    for iri in expanded_iris:
        node = [{"@id": "urn:a:1", iri: [{"@value": "v"}]}]
        compacted = jsonld.compact(node, {"@context": [CORE_CONTEXT_URL, *context]}, PYLD_OPTIONS)
        keys_out = {k for k in compacted if k not in ("@context", "id", "@id")}
        assert keys_out == {ctx.compact(iri)}, iri
        # Compacting then expanding gives the IRI back.
        assert ctx.expand(ctx.compact(iri)) == iri


@SETTINGS
@given(context=user_contexts(), core_url=st.sampled_from(sorted(CORE_CONTEXT_URLS)))
def test_every_core_version_gives_the_core_terms(
    context: tuple[list[Any], dict[str, Any]], core_url: str
) -> None:
    """Whichever published core context a request names, the core terms mean the same."""
    user, _ = context
    ctx = compiled.process("test", user, core_url, DOCUMENTS)
    for term in ("location", "observationSpace", "operationSpace", "createdAt", "unitCode"):
        expected = jsonld.expand({"@context": [core_url, *user], term: "v"}, PYLD_OPTIONS)
        assert [ctx.expand(term)] == [k for k in expected[0] if not k.startswith("@")]
