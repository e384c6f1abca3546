"""Resolving a request's @context: built-in documents, the context store, then the network.

Every distinct context is processed once and cached (an LRU of compiled contexts). Documents come
from, in order: the built-in core and Smart Data Models contexts, contexts preloaded from a
folder or added with ``qala contexts add`` / ``POST /jsonldContexts`` (the context store, kept in
the database), and finally an HTTP fetch through :mod:`qala.outbound` (checked addresses, at most
3 checked redirects, 2 MiB, a timeout), whose result is kept in the store so a restart does not
fetch it again.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio
import orjson
from pyld import jsonld

from qala.hub.errors import BadRequestData, ContextNotAvailable
from qala.jsonld import compiled
from qala.jsonld.compiled import CompiledContext, ContextValue
from qala.jsonld.core import CORE_CONTEXT_URL, CORE_CONTEXT_URLS, core_document
from qala.outbound import Outbound, OutboundError, Refused

#: The most redirects a context fetch follows (each hop checked like the first URL).
MAX_REDIRECTS = 3
#: The largest context document read.
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

#: Where the broker serves the contexts it hosts: ``…/ngsi-ld/v1/jsonldContexts/{localId}``.
HOSTED_PREFIX = "/ngsi-ld/v1/jsonldContexts"
HOSTED_PATH = re.compile(r"/ngsi-ld/v1/jsonldContexts/([^/?#]+)$")


@dataclass(slots=True)
class StoredContext:
    """A context document in the context store (the ``/jsonldContexts`` resources)."""

    local_id: str
    url: str
    kind: str  # "Hosted" | "Cached" | "ImplicitlyCreated"
    body: dict[str, Any]
    created_at: float
    last_usage: float | None = None
    hits: int = 0


class ContextRepository(Protocol):
    """Where stored contexts live (implemented by the store)."""

    async def context_by_url(self, url: str) -> StoredContext | None: ...
    async def context_by_id(self, local_id: str) -> StoredContext | None: ...
    async def save_context(self, ctx: StoredContext) -> None: ...


def _context_urls(value: Any) -> Iterator[str]:
    """Every URL a context value refers to, including ``@import`` and scoped contexts."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _context_urls(item)
    elif isinstance(value, dict):
        imported = value.get("@import")
        if isinstance(imported, str):
            yield imported
        for definition in value.values():
            if isinstance(definition, dict) and "@context" in definition:
                yield from _context_urls(definition["@context"])


class ContextResolver:
    """Turns ``@context`` values into :class:`CompiledContext` objects, caching both levels."""

    def __init__(
        self,
        *,
        repository: ContextRepository | None = None,
        builtin: dict[str, dict[str, Any]] | None = None,
        fetch_timeout: float = 5.0,
        allow_local: bool = False,
        cache_size: int = 256,
        fetcher: Callable[[str], Awaitable[dict[str, Any]]] | None = None,
        outbound: Outbound | None = None,
    ) -> None:
        self.repository = repository
        self.fetch_timeout = fetch_timeout
        self.allow_local = allow_local
        #: How remote contexts are fetched (the guard for user-chosen URLs).
        self.outbound = outbound or Outbound(allow_local=allow_local)
        self.cache_size = cache_size
        self._documents: dict[str, dict[str, Any]] = {
            u: core_document(u) for u in CORE_CONTEXT_URLS
        }
        self._builtin_urls = set(self._documents)
        self._preloaded: set[str] = set()
        for url, doc in (builtin or {}).items():
            self._documents[url] = doc
            self._builtin_urls.add(url)
        self._compiled: OrderedDict[str, CompiledContext] = OrderedDict()
        self._fetcher = fetcher or self._fetch_remote
        self._locks: dict[str, asyncio.Lock] = {}
        self._core = compiled.process("", [], CORE_CONTEXT_URL, self._documents)
        self._compiled[""] = self._core
        #: How many requests named each context URL (in this process), for numberOfHits.
        self.uses: Counter[str] = Counter()
        #: When the built-in and preloaded documents were loaded (their createdAt).
        self.loaded_at = time.time()

    # -- public API -------------------------------------------------------------------------

    @property
    def core(self) -> CompiledContext:
        """The core context alone (requests without a user context)."""
        return self._core

    def is_builtin(self, url: str) -> bool:
        """Whether the broker answers ``url`` with its own copy (built in or preloaded)."""
        return url in self._builtin_urls or url in self._preloaded

    def builtin_urls(self) -> list[str]:
        """The contexts the broker has its own copy of: built in, or preloaded from a folder."""
        return sorted(self._builtin_urls | self._preloaded)

    def preload(self, url: str, document: dict[str, Any]) -> None:
        """Make ``document`` the answer for ``url`` (preloaded folders, tests)."""
        _check_document(url, document)
        self._documents[url] = document
        self._preloaded.add(url)
        self.forget(url)

    def forget(self, url: str) -> None:
        """Drop every compiled context that used ``url`` (after a change in the store)."""
        for key in [k for k in self._compiled if url in k]:
            del self._compiled[key]

    def forget_document(self, url: str) -> None:
        if url not in self._builtin_urls:
            self._documents.pop(url, None)
        self.forget(url)

    async def compile(self, value: ContextValue | None) -> CompiledContext:
        """The compiled context for a request's ``@context`` value (None: the core alone)."""
        if value is None:
            return self._core
        if isinstance(value, str):
            self.uses[use_key(value)] += 1
        elif isinstance(value, list):
            self.uses.update(use_key(entry) for entry in value if isinstance(entry, str))
        key = value if isinstance(value, str) else _canonical(value)
        hit = self._compiled.get(key)
        if hit is not None:
            self._compiled.move_to_end(key)
            return hit
        entries = value if isinstance(value, list) else [value]
        core_url = CORE_CONTEXT_URL
        source: list[str | dict[str, Any]] = []
        for entry in entries:
            if isinstance(entry, str):
                if entry in CORE_CONTEXT_URLS:
                    core_url = entry
                    continue
                source.append(entry)
            elif isinstance(entry, dict):
                source.append(entry)
            elif entry is None:
                continue
            else:
                raise BadRequestData(
                    f"invalid @context: entries must be URLs or objects, not {type(entry).__name__}"
                )
        seen = await self._gather_documents(source)
        includes_core = core_url != CORE_CONTEXT_URL or any(
            e in CORE_CONTEXT_URLS for e in entries if isinstance(e, str)
        )
        includes_core = includes_core or not seen.isdisjoint(CORE_CONTEXT_URLS)
        process = functools.partial(compiled.process, given=value, includes_core=includes_core)
        try:
            ctx = await anyio.to_thread.run_sync(process, key, source, core_url, self._documents)
        except KeyError as exc:  # a URL we could not gather (should not happen)
            raise ContextNotAvailable(f"@context {exc.args[0]!r} is not available") from exc
        except jsonld.JsonLdError as exc:
            raise BadRequestData(f"invalid @context: {_jsonld_message(exc)}") from exc
        self._compiled[key] = ctx
        while len(self._compiled) > self.cache_size:
            self._compiled.popitem(last=False)
        return ctx

    async def document(self, url: str) -> dict[str, Any]:
        """The @context document at ``url`` (from the built-ins, the store or the network)."""
        doc = self._documents.get(url)
        if doc is not None:
            return doc
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            doc = self._documents.get(url)
            if doc is None:
                doc = await self._load(url)
                self._documents[url] = doc
        self._locks.pop(url, None)
        return doc

    async def reload(self, url: str) -> dict[str, Any]:
        """Fetch the context at ``url`` again and keep the new document (``reload=true``).

        If it cannot be retrieved the cached document stays as it was (ContextNotAvailable).
        """
        doc = await self._fetcher(url)
        _check_document(url, doc)
        if self.repository is not None:
            await self.repository.save_context(
                StoredContext(
                    local_id=context_local_id(url),
                    url=url,
                    kind="Cached",
                    body=doc,
                    created_at=time.time(),
                )
            )
        self._documents[url] = doc
        self.forget(url)
        return doc

    # -- internals --------------------------------------------------------------------------

    async def _gather_documents(self, source: list[str | dict[str, Any]]) -> set[str]:
        """Load every document ``source`` refers to, transitively; the URLs seen."""
        pending = list(_context_urls(source))
        seen: set[str] = set()
        while pending:
            url = pending.pop()
            if url in seen:
                continue
            seen.add(url)
            if len(seen) > 32:
                raise BadRequestData("invalid @context: more than 32 nested context URLs")
            doc = await self.document(url)
            pending.extend(_context_urls(doc.get("@context")))
        return seen

    async def _load(self, url: str) -> dict[str, Any]:
        if self.repository is not None:
            stored = await self._stored(url)
            if stored is not None:
                return stored.body
        if HOSTED_PATH.search(url):
            raise ContextNotAvailable(f"the hosted @context {url!r} does not exist")
        doc = await self._fetcher(url)
        _check_document(url, doc)
        if self.repository is not None:
            await self.repository.save_context(
                StoredContext(
                    local_id=context_local_id(url),
                    url=url,
                    kind="Cached",
                    body=doc,
                    created_at=time.time(),
                )
            )
        return doc

    async def _stored(self, url: str) -> StoredContext | None:
        assert self.repository is not None
        match = HOSTED_PATH.search(url)
        if match:
            return await self.repository.context_by_id(match.group(1))
        return await self.repository.context_by_url(url)

    async def _fetch_remote(self, url: str) -> dict[str, Any]:
        if not url.startswith(("http://", "https://")):
            # nothing to retrieve: the request's @context is malformed (a client error)
            raise BadRequestData(f"invalid @context: {url!r} is not an http(s) URL")
        headers = {"Accept": "application/ld+json, application/json;q=0.9"}
        try:
            answer = await self.outbound.request(
                "GET",
                url,
                schemes=("http", "https"),
                max_redirects=MAX_REDIRECTS,
                max_bytes=MAX_DOCUMENT_BYTES,
                timeout=self.fetch_timeout,
                headers=headers,
            )
        except Refused as exc:
            raise ContextNotAvailable(f"@context {url!r} refused: {exc}") from None
        except OutboundError as exc:
            raise ContextNotAvailable(f"@context {url!r} could not be retrieved: {exc}") from None
        if answer.status != 200:
            via = f" (after redirects to {', '.join(answer.redirects)})" if answer.redirects else ""
            raise ContextNotAvailable(
                f"@context {url!r} could not be retrieved: HTTP {answer.status}{via}"
            )
        try:
            doc = orjson.loads(answer.content)
        except orjson.JSONDecodeError as exc:
            raise ContextNotAvailable(f"@context {url!r} is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ContextNotAvailable(f"@context {url!r} is not a JSON-LD document")
        return doc


def use_key(url: str) -> str:
    """What the uses of a context URL are counted under: a context the broker hosts is one
    context whatever host or relative form a request names it with."""
    match = HOSTED_PATH.search(url)
    return f"hosted:{match.group(1)}" if match else url


def _check_document(url: str, doc: Any) -> None:
    if not isinstance(doc, dict) or "@context" not in doc:
        raise ContextNotAvailable(f"@context {url!r} is not a JSON-LD document with @context")


def _canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def context_local_id(url: str) -> str:
    import hashlib

    return hashlib.sha256(url.encode()).hexdigest()[:24]


def _jsonld_message(exc: jsonld.JsonLdError) -> str:
    code = getattr(exc, "code", None)
    message = str(exc).split("\n", 1)[0]
    return f"{message} ({code})" if code else message


def load_context_folder(folder: Path) -> dict[str, dict[str, Any]]:
    """The documents of a preload folder: ``index.json`` maps URLs (or URL prefixes ending in
    ``/``) to files (or sub-folders, whose ``*.json``/``*.jsonld`` files are named after the
    prefix)."""
    index_file = folder / "index.json"
    if not index_file.is_file():
        raise FileNotFoundError(f"{index_file} is missing: it maps each context URL to a file")
    index = orjson.loads(index_file.read_bytes())
    documents: dict[str, dict[str, Any]] = {}
    for url, target in index.items():
        path = folder / target
        if url.endswith("/") and path.is_dir():
            for file in sorted(path.iterdir()):
                if file.suffix in (".json", ".jsonld"):
                    documents[url + file.name] = orjson.loads(file.read_bytes())
        else:
            documents[url] = orjson.loads(path.read_bytes())
    return documents
