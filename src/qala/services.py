"""The running server's services, wired once at start and shared by every API.

:class:`Services` holds what the core shares: the settings, the store, the hub, the @context
resolver, the capabilities started, and authentication (the authenticator and rate limiter the
request middleware applies). What a capability keeps for itself while the server runs (its
engine, registry or worker) goes into :attr:`Services.state`, keyed by the object's type, so a
capability never adds a field here::

    svc.state.put(SubscriptionEngine, engine)       # in the capability's start
    engine = svc.state.get(SubscriptionEngine)      # in its routes
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request

from qala.config import Settings
from qala.hub import Hub
from qala.jsonld.resolver import ContextResolver
from qala.store import open_store
from qala.store.base import Store

if TYPE_CHECKING:
    from qala.auth.middleware import Authenticator, RateLimiter
    from qala.capabilities import Capability

T = TypeVar("T")


class CapabilityState:
    """The objects capabilities keep while the server runs, at most one per type.

    The key is the object's class: a capability reads back exactly the type it stored, and two
    capabilities cannot overwrite each other's objects by choosing the same name.
    """

    __slots__ = ("_objects",)

    def __init__(self) -> None:
        self._objects: dict[type[Any], Any] = {}

    def put(self, kind: type[T], value: T) -> None:
        """Keep ``value`` as the server's one ``kind``; a second one is a wiring error."""
        if not isinstance(value, kind):
            raise TypeError(f"{value!r} is not a {kind.__qualname__}")
        if kind in self._objects:
            raise ValueError(f"the services hold a {kind.__qualname__} already")
        self._objects[kind] = value

    def get(self, kind: type[T]) -> T:
        """The ``kind`` a capability keeps; :class:`LookupError` when none was started."""
        try:
            value: T = self._objects[kind]
        except KeyError:
            raise LookupError(f"no {kind.__qualname__}: its capability is not running") from None
        return value

    def find(self, kind: type[T]) -> T | None:
        """The ``kind`` a capability keeps, or None."""
        value: T | None = self._objects.get(kind)
        return value

    def pop(self, kind: type[T]) -> T | None:
        """Remove and return the ``kind`` kept (None when there is none), e.g. on stop."""
        value: T | None = self._objects.pop(kind, None)
        return value


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    hub: Hub
    contexts: ContextResolver
    #: The capabilities started, in start order (they are stopped in reverse).
    capabilities: list[Capability] = field(default_factory=list)
    #: Turns a request's credentials into an actor; set when the auth capability starts
    #: (a server built without it admits every request unauthenticated).
    authenticator: Authenticator | None = None
    #: Per-caller request limits the middleware applies along with the authenticator.
    rate_limiter: RateLimiter | None = None
    #: What each capability keeps for itself while the server runs (engines, workers…).
    state: CapabilityState = field(default_factory=CapabilityState)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def open_storage(settings: Settings) -> Store:
    """The store of ``settings.database_url``, opened (close it with ``await store.close()``):
    how a command outside the server reaches the database."""
    store = open_store(settings)
    await store.open()
    return store
