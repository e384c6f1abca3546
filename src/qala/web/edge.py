"""Request helpers shared by every HTTP API: the actor, the tenant, negotiation, paging links.

* :func:`actor_of` — the :class:`~qala.hub.Actor` the authentication middleware put on the
  request (the one place that decides who a request without one is);
* :data:`TenantHeader` and :func:`tenant_headers` — the NGSI-LD tenant header in and out;
* :func:`negotiate` — the response media type and the request's JSON-LD ``@context``;
* :func:`page_links` — ``Link`` headers of the next and previous pages.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from qala import openapi
from qala.hub import Actor
from qala.ngsild import http
from qala.services import services

TenantHeader = Annotated[
    str | None,
    Header(
        alias="NGSILD-Tenant",
        description="The tenant (a city), e.g. astana; none or empty: the default tenant",
        json_schema_extra={"pattern": openapi.TENANT_PATTERN},
    ),
]


def actor_of(request: Request) -> Actor:
    """Who is asking. The authentication middleware sets it on every request it admits; a
    request that reached a route without it (the server was built without authentication)
    acts as an admin, recorded as anonymous with its address."""
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is None:
        client = request.client.host if request.client else None
        return Actor(id="anonymous", role="admin", address=client)
    return actor


def tenant_headers(tenant: str | None) -> dict[str, str]:
    """The tenant header of a response (none for the default tenant)."""
    return {http.TENANT_HEADER: tenant} if tenant else {}


async def negotiate(request: Request, *, geojson: bool = True) -> http.Negotiated:
    """The media type to answer with and the request's ``@context``, compiled."""
    svc = services(request)
    accept = http.accept_type(request, geojson=geojson)
    ctx = await http.request_context(request, svc.contexts)
    return http.Negotiated(ctx, accept)


def page_links(
    request: Request,
    limit: int,
    offset: int,
    returned: int,
    count: int | None,
    media_type: str | None = None,
) -> list[str]:
    """The ``Link`` values of the next and previous pages; ``media_type``: the response's,
    given as the links' ``type`` (the pages have it too)."""
    if limit == 0:
        return []
    links = []
    more = (count is not None and offset + returned < count) or (
        count is None and returned == limit
    )
    kind = f'; type="{media_type}"' if media_type else ""
    if more:
        links.append(f'<{_page_url(request, limit, offset + limit)}>; rel="next"{kind}')
    if offset > 0:
        links.append(f'<{_page_url(request, limit, max(0, offset - limit))}>; rel="prev"{kind}')
    return links


def _page_url(request: Request, limit: int, offset: int) -> str:
    url = request.url.include_query_params(limit=limit, offset=offset)
    return f"{url.path}?{url.query}"
